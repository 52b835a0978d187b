#!/usr/bin/env bash
# Every test of the project: the README's test command. Installs what the
# suites need when it is missing, then runs them.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo test --workspace

# The JavaScript client (clients/js): Node tests against the real `brume`
# binary, installing its npm packages when they are missing.
bash clients/js/test/run.sh
