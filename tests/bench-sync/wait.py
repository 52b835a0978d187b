"""Bounded waits for the sync benchmark, each in one process that sleeps
between looks. A shell loop that starts grep, cmp or curl and sleep a
hundred times a second took an eighth of this 2-core machine from the
daemons it was timing.

  wait.py log FILE TEXT SECONDS          until FILE holds TEXT (read as it grows)
  wait.py same A B SECONDS [KEPT]        until A and B hold the same bytes (and KEPT exists)
  wait.py st PORT FOLDER FILES SECONDS   until Syncthing's FOLDER is idle with FILES files

Exits 1 with a line on stderr when the time runs out.
"""

import json
import os
import sys
import time
import urllib.request

def until(done, seconds, what, every=0.005):
    end = time.monotonic() + seconds
    while not done():
        if time.monotonic() > end:
            sys.exit(f"timeout after {seconds} s waiting for {what}")
        time.sleep(every)


def log(path, text, seconds):
    want = text.encode()
    state = {"at": 0, "tail": b""}  # bytes read so far; the last few kept

    def done():
        try:
            with open(path, "rb") as f:
                f.seek(state["at"])
                new = f.read()
        except FileNotFoundError:
            return False
        state["at"] += len(new)
        window = state["tail"] + new
        state["tail"] = window[-len(want):]
        return want in window

    until(done, seconds, f"{text!r} in {path}")


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def same(a, b, seconds, kept=None):
    def done():
        x = read(a)
        return x is not None and x == read(b) and (kept is None or os.path.exists(kept))

    until(done, seconds, f"{b} to match {a}" + (f" and {kept}" if kept else ""))


def st(port, folder, files, seconds):
    url = f"http://127.0.0.1:{port}/rest/db/status?folder={folder}"
    req = urllib.request.Request(url, headers={"X-API-Key": "benchkey"})

    def done():
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                s = json.load(r)
        except (OSError, ValueError):
            return False  # not up yet
        return s["state"] == "idle" and s["localFiles"] == files and s["needTotalItems"] == 0

    # A request costs Syncthing more than a look at a file costs anyone.
    until(done, seconds, f"syncthing folder {folder} on port {port} with {files} files", every=0.05)


def main(argv):
    mode, args = argv[1], argv[2:]
    if mode == "log":
        log(args[0], args[1], float(args[2]))
    elif mode == "same":
        same(args[0], args[1], float(args[2]), args[3] if len(args) > 3 else None)
    elif mode == "st":
        st(int(args[0]), args[1], int(args[2]), float(args[3]))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv)
