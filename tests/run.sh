#!/usr/bin/env bash
# Every test of the project: the README's test command. Installs what the
# suites need when it is missing, then runs them.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The NAT lab and the coturn test need Debian's coturn and iptables (and
# root for namespaces); without them they skip, saying so.
if [ "$(id -u)" = 0 ]; then
    bash tests/nat-lab/setup.sh || echo "tests/run.sh: could not install coturn/iptables; the NAT lab will skip"
else
    echo "tests/run.sh: not root; the NAT lab (network namespaces) will skip"
fi

cargo test --workspace

# The JavaScript client (clients/js): Node tests against the real `brume`
# binary, installing its npm packages when they are missing.
target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac
BRUME_BIN="$target_dir/debug/brume" bash clients/js/test/run.sh
