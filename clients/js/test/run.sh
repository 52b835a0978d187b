#!/usr/bin/env bash
# The JavaScript client's suite: npm packages when missing, the `brume`
# binary, then every test/*.test.mjs with node's test runner.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ ! -d node_modules/@roamhq/wrtc ] || [ ! -d node_modules/ws ] || [ ! -d node_modules/hash-wasm ]; then
  npm ci --no-audit --no-fund
fi
cargo build -p brume-mio
node --test --test-concurrency=1 --test-timeout=120000 test/*.test.mjs
