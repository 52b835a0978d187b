#!/usr/bin/env bash
# The JavaScript client's suite: its npm packages and Debian's chromium
# when missing, the `brume` binary, then every test/*.test.mjs with node's
# test runner (Node against real brume processes, then headless Chromium).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

for pkg in @roamhq/wrtc ws hash-wasm playwright-core; do
  if [ ! -d "node_modules/$pkg" ]; then
    npm ci --no-audit --no-fund
    break
  fi
done

if [ ! -x /usr/bin/chromium ] && [ -z "${BRUME_NO_BROWSER:-}" ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium
fi

# tests/run.sh hands over the binary `cargo test --workspace` just built:
# `cargo build -p brume-mio` would resolve features for brume-mio alone and
# compile str0m and its crypto a second time (minutes, gigabytes).
if [ -z "${BRUME_BIN:-}" ] || [ ! -x "$BRUME_BIN" ]; then
  cargo build -p brume-mio
fi
mkdir -p test-results
run_tests() {
  node --test --test-reporter=tap --test-concurrency=1 --test-timeout=120000 "$@" | tee test-results/node-test.tap
}
run_tests test/*.test.mjs && exit 0
# @roamhq/wrtc, the WebRTC of the Node tests, can itself crash (a SIGSEGV
# inside libwebrtc, seen once in CI, in node-glare after its first test).
# A file that died so, and nothing else, runs once more; any failed test,
# or a second crash, fails the suite.
if ! crashed=$(awk -f test/native-crashes.awk test-results/node-test.tap) || [ -z "$crashed" ]; then
  exit 1
fi
echo "clients/js/test/run.sh: a native crash ended these files; running them once more:" $crashed
# shellcheck disable=SC2086 # one path a line, none with spaces
run_tests $crashed
