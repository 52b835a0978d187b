#!/usr/bin/env bash
# Many small files, by hand (never in CI): FILES files of SIZE bytes in
# FOLDERS folders, `brume send` to `brume recv` on loopback through a real
# `brume serve`, all release builds in separate processes. Prints files/s
# and MiB/s for the send (from the start of `brume send` to its exit, which
# comes once the receiver has every file synced and in place).
#
#   bash tests/bench-files/run.sh [FILES] [SIZE] [FOLDERS]   # 10000 10240 100
set -euo pipefail
FILES=${1:-10000}
SIZE=${2:-10240}
FOLDERS=${3:-100}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build --release -p brume-mio --manifest-path "$ROOT/Cargo.toml" >&2
BIN=$TARGET/release/brume
WORK=$(mktemp -d /tmp/brume-bench-files.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# The tree: FOLDERS folders, FILES files in all, each of SIZE random bytes.
python3 - "$WORK/tree" "$FILES" "$SIZE" "$FOLDERS" <<'PY'
import os, sys
root, files, size, folders = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for n in range(files):
    d = os.path.join(root, f"folder-{n % folders:03}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"file-{n:06}.bin"), "wb") as f:
        f.write(os.urandom(size))
PY
sync

"$BIN" serve --listen 127.0.0.1:0 --data "$WORK/hub" > "$WORK/hub.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q "listening on" "$WORK/hub.log" && break; sleep 0.1; done
URL=$(grep -o 'ws://[^ ]*' "$WORK/hub.log" | head -1)
for user in alice bob; do
    echo "pw-$user" | "$BIN" user add "$user" --password-stdin --url "$URL" \
        --data "$WORK/hub" --out "$WORK/$user.conf" > /dev/null
done

BRUME_CONF=$WORK/bob.conf "$BIN" recv --yes --progress none --dir "$WORK/inbox" > "$WORK/recv.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q "ready as" "$WORK/recv.log" && break; sleep 0.1; done

start=$(date +%s.%N)
BRUME_CONF=$WORK/alice.conf "$BIN" send bob "$WORK/tree" > "$WORK/send.log" 2>&1
end=$(date +%s.%N)

got=$(find "$WORK/inbox/tree" -type f | wc -l)
if [ "$got" != "$FILES" ] || ! diff -rq "$WORK/tree" "$WORK/inbox/tree" > /dev/null; then
    echo "the received tree differs: $got of $FILES files" >&2
    exit 1
fi
python3 - "$start" "$end" "$FILES" "$SIZE" <<'PY'
import sys
start, end, files, size = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
secs = end - start
print(f"{files} files of {size} bytes in {secs:.2f} s (connect and hashing included): "
      f"{files / secs:.0f} files/s, {files * size / secs / 2**20:.1f} MiB/s")
PY
