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
node --test --test-concurrency=1 --test-timeout=120000 test/*.test.mjs
