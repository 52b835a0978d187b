#!/usr/bin/env bash
# Every test and check of the project: README.md's test command, and all
# that CI runs (.ci/run is this and nothing more). Installs what the suites
# need when it is missing (coturn and iptables, cargo-fuzz, the npm
# packages, chromium), then runs them and prints how long each part took.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Fuzz targets and how long each smoke run lasts, in seconds.
FUZZ_TARGETS=(signal_decode hub_ops framing_decode endpoint_inputs transfer_receiver)
FUZZ_SECONDS=20

SUMMARY=()
RUN_START=$SECONDS
PHASE_NAME=""
PHASE_START=0

summary() {
    local status=$?
    echo
    echo "== timing =="
    local line
    for line in "${SUMMARY[@]}"; do
        echo "$line"
    done
    printf '%-28s %5ds\n' "total" "$((SECONDS - RUN_START))"
    if [[ $status -ne 0 ]]; then
        if [[ -n $PHASE_NAME ]]; then
            printf '%-28s %5ds  FAILED\n' "$PHASE_NAME" "$((SECONDS - PHASE_START))"
        fi
        echo "tests/run.sh FAILED (exit $status)"
    fi
}
trap summary EXIT

# phase NAME COMMAND...: runs the command as one timed part; a failure ends
# the run (set -e), and the summary names the part that was running.
phase() {
    PHASE_NAME=$1
    PHASE_START=$SECONDS
    shift
    echo
    echo "== $PHASE_NAME: $* =="
    "$@"
    SUMMARY+=("$(printf '%-28s %5ds' "$PHASE_NAME" "$((SECONDS - PHASE_START))")")
    echo "== $PHASE_NAME: ok in $((SECONDS - PHASE_START))s =="
    PHASE_NAME=""
}

# disk_report: what the builds take and what is left, for when a run fails
# for want of space.
disk_report() {
    du -sh target fuzz/target 2>/dev/null || true
    df -h .
}

install_cargo_fuzz() {
    if cargo fuzz --version >/dev/null 2>&1; then
        cargo fuzz --version
    else
        cargo install cargo-fuzz --locked
    fi
}

# fuzz_smoke TARGET: fuzzes for FUZZ_SECONDS from the committed corpus, which
# is read only: new inputs go to a throwaway directory listed first.
fuzz_smoke() {
    local target=$1
    local scratch
    scratch=$(mktemp -d)
    local status=0
    cargo fuzz run "$target" "$scratch" "fuzz/corpus/$target" -- \
        -max_total_time="$FUZZ_SECONDS" || status=$?
    rm -rf "$scratch"
    return "$status"
}

# setup_nat_lab: the NAT lab and the coturn test need Debian's coturn and
# iptables (and root for namespaces); without them they skip, saying so.
setup_nat_lab() {
    if [ "$(id -u)" = 0 ]; then
        bash tests/nat-lab/setup.sh || echo "tests/run.sh: could not install coturn/iptables; the NAT lab will skip"
    else
        echo "tests/run.sh: not root; the NAT lab (network namespaces) will skip"
    fi
}

# js_tests: the JavaScript client (clients/js), Node tests against the real
# `brume` binary that `cargo test --workspace` built, and headless Chromium.
js_tests() {
    local target_dir="${CARGO_TARGET_DIR:-target}"
    case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac
    BRUME_BIN="$target_dir/debug/brume" bash clients/js/test/run.sh
}

phase "disk at start" disk_report
phase "install cargo-fuzz" install_cargo_fuzz
phase "install coturn" setup_nat_lab
phase "cargo test" cargo test --workspace
phase "javascript" js_tests
phase "fmt" cargo fmt --all -- --check
# The fuzz crate is its own workspace; without --all this checks only it.
phase "fmt (fuzz)" cargo fmt --manifest-path fuzz/Cargo.toml -- --check
phase "clippy" cargo clippy --workspace --all-targets --all-features -- -D warnings
# After the tests, so it reuses their build of the dependencies (run
# before them, it compiled most of them a second time: ~170 s). A check,
# not a build: it proves the same thing without writing a second set of
# dependency archives (a build here once filled the CI machine's disk).
phase "client lib alone" cargo check -p brume-mio --no-default-features --lib
phase "disk" disk_report
# cargo-fuzz needs nightly flags; stable rustc accepts them with this. Set
# here, after the tests, so nothing before builds with it.
export RUSTC_BOOTSTRAP=1
phase "fuzz build" cargo fuzz build
for target in "${FUZZ_TARGETS[@]}"; do
    phase "fuzz $target (${FUZZ_SECONDS}s)" fuzz_smoke "$target"
done
phase "disk at end" disk_report
