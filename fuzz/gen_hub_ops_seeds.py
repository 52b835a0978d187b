#!/usr/bin/env python3
"""Writes the hub_ops seed corpus: readable scenarios encoded in the byte
format `arbitrary` 1.x decodes `Vec<Op>` from.

Run from anywhere: python3 fuzz/gen_hub_ops_seeds.py
Check what a seed means: RUSTC_BOOTSTRAP=1 cargo fuzz fmt hub_ops fuzz/corpus/hub_ops/FILE

The variant lists below mirror the enums in fuzz_targets/hub_ops.rs, in
declaration order: change them together. Every string in a scenario is empty
(`arbitrary` takes string lengths from the end of the input, which this
encoder pads with zeros).

How `arbitrary` reads the types used here:
- `Vec<Op>` at the top (take_rest): a bool before each element, false ends it;
- an enum: a little-endian u32 `v` picks variant `(v * count) >> 32`;
- a bool: one byte, its low bit; u8/u16/u32/i8: little-endian bytes;
- `Option<T>`: a bool, then T if true; `Vec<T>`: a bool before each element;
- `String`: a length from the end of the input, then that many bytes.
"""

import os
import sys

ENUMS = {
    "User": ["Alice", "Bob", "Carol", "Dave", "Erin", "Mallory", "Zed"],
    "Conn": [f"C{i}" for i in range(8)],
    "Attempt": ["A0", "A1", "A2", "A3"],
    "Group": ["G0", "G1"],
    "Version": ["Current", "Old", "Other"],
    "Device": ["Laptop", "Phone", "LaptopInstance"],
    "Token": [
        "Missing", "Empty", "Access", "ShortAccess", "ExpiredAccess", "Refresh",
        "ShortRefresh", "ExpiredRefresh", "ForeignKey", "Issued", "Garbage",
    ],
    "Frame": [
        "Hello", "Refresh", "Offer", "Answer", "Candidate", "Reject", "Cancel",
        "Subscribe", "Unsubscribe", "Members", "Ping", "Pong", "Close", "Raw",
        "Oversized",
    ],
    "Reply": ["Answer", "Candidate", "Reject", "Cancel"],
    "Step": ["Millis", "Long", "Secs"],
    "Op": [
        "Open", "Login", "Closed", "Send", "Reply", "Advance", "NextTimer",
        "RemoveUser", "AddUser", "Revoke", "Shutdown", "WallClock", "LoadGroup",
    ],
}


class Enc:
    def __init__(self):
        self.out = bytearray()
        self.strings = 0

    def variant(self, enum, name):
        names = ENUMS[enum]
        i, n = names.index(name), len(names)
        v = (i * 2**32 + n - 1) // n
        assert (v * n) >> 32 == i
        self.out += v.to_bytes(4, "little")

    def bool(self, b):
        self.out.append(1 if b else 0)

    def u8(self, x):
        self.out += x.to_bytes(1, "little")

    def u16(self, x):
        self.out += x.to_bytes(2, "little")

    def u32(self, x):
        self.out += x.to_bytes(4, "little")

    def i8(self, x):
        self.out += x.to_bytes(1, "little", signed=True)

    def string(self):
        self.strings += 1

    def option_string(self, some):
        self.bool(some)
        if some:
            self.string()

    def users(self, users):
        for u in users:
            self.bool(True)
            self.variant("User", u)
        self.bool(False)

    def token(self, kind, arg=None):
        self.variant("Token", kind)
        if kind == "Issued":
            self.u8(arg)
        elif kind == "Garbage":
            self.string()
        elif kind not in ("Missing", "Empty"):
            self.variant("User", arg)

    def device(self, d):
        """An Option<Device>: None, or a device name."""
        self.bool(d is not None)
        if d is not None:
            self.variant("Device", d)

    def version(self, v):
        if v == 2:
            self.variant("Version", "Current")
        elif v == 1:
            self.variant("Version", "Old")
        else:
            self.variant("Version", "Other")
            self.u32(v)

    def frame(self, f):
        kind, *a = f
        self.variant("Frame", kind)
        if kind in ("Hello", "Refresh"):
            version, token, *rest = a
            device, calls = rest if rest else (None, True)
            self.version(version)
            self.token(*token)
            self.device(device)
            self.bool(calls)
        elif kind == "Offer":
            attempt, to, group, restart = a
            to, device = to if isinstance(to, tuple) else (to, None)
            self.variant("Attempt", attempt)
            self.variant("User", to)
            self.device(device)
            self.bool(group is not None)
            if group is not None:
                self.variant("User", group[0])
                self.variant("Group", group[1])
            self.string()
            self.bool(restart)
        elif kind in ("Answer", "Candidate"):
            attempt, to = a
            to, device = to if isinstance(to, tuple) else (to, None)
            self.variant("Attempt", attempt)
            self.variant("User", to)
            self.device(device)
            self.string()
        elif kind in ("Reject", "Cancel"):
            attempt, to = a
            to, device = to if isinstance(to, tuple) else (to, None)
            self.variant("Attempt", attempt)
            self.variant("User", to)
            self.device(device)
            self.option_string(False)
        elif kind in ("Subscribe", "Unsubscribe"):
            self.users(a[0])
        elif kind == "Members":
            group, members = a
            self.variant("Group", group)
            self.users(members)
        elif kind in ("Ping", "Pong"):
            self.u32(a[0])
        elif kind == "Close":
            self.option_string(False)
        elif kind == "Raw":
            for byte in a[0]:
                self.bool(True)
                self.u8(byte)
            self.bool(False)
        elif kind == "Oversized":
            pass
        else:
            raise ValueError(kind)

    def op(self, o):
        kind, *a = o
        self.variant("Op", kind)
        if kind in ("Open", "Closed"):
            self.variant("Conn", a[0])
        elif kind == "Login":
            conn, user, *rest = a
            device, calls = rest if rest else ("Laptop", True)
            self.variant("Conn", conn)
            self.variant("User", user)
            self.variant("Device", device)
            self.bool(calls)
        elif kind == "Send":
            self.variant("Conn", a[0])
            self.frame(a[1])
        elif kind == "Reply":
            pick, from_caller, reply, *rest = a
            self.u8(pick)
            self.bool(from_caller)
            self.bool(rest[0] if rest else True)
            self.variant("Reply", reply)
            if reply in ("Answer", "Candidate"):
                self.string()
            else:
                self.option_string(False)
        elif kind == "Advance":
            step, n = a
            self.variant("Step", step)
            {"Millis": self.u8, "Long": self.u16, "Secs": self.u8}[step](n)
        elif kind in ("NextTimer", "Shutdown"):
            pass
        elif kind in ("RemoveUser", "AddUser", "Revoke"):
            self.variant("User", a[0])
        elif kind == "WallClock":
            self.i8(a[0])
        elif kind == "LoadGroup":
            owner, group, members = a
            self.variant("User", owner)
            self.variant("Group", group)
            self.users(members)
        else:
            raise ValueError(kind)

    def ops(self, ops):
        for o in ops:
            self.bool(True)
            self.op(o)
        self.bool(False)
        # String lengths come from the end: one or two zero bytes each.
        return bytes(self.out) + bytes(2 * self.strings)


def send(conn, *frame):
    return ("Send", conn, frame)


SCENARIOS = {
    # An offer, its answer, candidates both ways, linger and keepalive.
    "offer_answer": [
        ("Login", "C0", "Alice"),
        ("Login", "C1", "Bob"),
        send("C0", "Offer", "A0", "Bob", None, False),
        ("Reply", 0, False, "Answer"),
        ("Reply", 0, True, "Candidate"),
        ("Reply", 0, False, "Candidate"),
        send("C1", "Answer", "A0", "Alice"),
        ("Advance", "Secs", 16),
        ("Reply", 0, True, "Candidate"),
        ("NextTimer",),
        send("C0", "Pong", 1),
        ("NextTimer",),
        ("NextTimer",),
    ],
    # The pending-attempt limit, a reject, a cancel, an id reused, a timeout.
    "attempt_limits": [
        ("Login", "C0", "Alice"),
        ("Login", "C1", "Bob"),
        send("C0", "Offer", "A0", "Bob", None, False),
        send("C0", "Offer", "A1", "Bob", None, True),
        send("C0", "Offer", "A2", "Bob", None, False),
        send("C1", "Offer", "A0", "Alice", None, False),
        ("Reply", 0, False, "Reject"),
        ("Reply", 1, True, "Cancel"),
        ("Reply", 1, False, "Cancel"),
        send("C0", "Offer", "A3", "Bob", None, False),
        send("C0", "Offer", "A0", "Carol", None, False),
        send("C0", "Offer", "A0", "Zed", None, False),
        send("C0", "Offer", "A1", "Alice", None, False),
        ("Advance", "Secs", 31),
        ("Reply", 2, True, "Candidate"),
    ],
    # Groups: publish, limits, group-scoped offers, presence as mates come and go.
    "groups": [
        ("Login", "C0", "Alice"),
        ("Login", "C1", "Bob"),
        ("Login", "C2", "Carol"),
        send("C0", "Members", "G0", ["Bob", "Carol", "Alice"]),
        send("C0", "Members", "G1", ["Dave"]),
        send("C0", "Members", "G0", ["Bob", "Carol", "Dave", "Erin"]),
        send("C0", "Members", "G0", ["Bob", "Mallory"]),
        send("C1", "Offer", "A0", "Carol", ("Alice", "G0"), False),
        send("C1", "Offer", "A1", "Dave", ("Alice", "G0"), False),
        ("Closed", "C2"),
        ("Login", "C3", "Dave"),
        send("C0", "Members", "G0", ["Bob", "Dave"]),
        ("RemoveUser", "Bob"),
        send("C0", "Members", "G0", []),
    ],
    # Explicit presence, the subscription limit, replacement, an added user.
    "presence": [
        ("Login", "C0", "Alice"),
        send("C0", "Subscribe", ["Bob", "Carol", "Dave", "Erin", "Zed"]),
        ("Login", "C1", "Bob"),
        ("Login", "C2", "Bob"),
        send("C0", "Unsubscribe", ["Carol"]),
        send("C0", "Subscribe", ["Alice", "Erin"]),
        ("Login", "C3", "Erin"),
        ("AddUser", "Mallory"),
        ("Login", "C4", "Mallory"),
        send("C0", "Subscribe", ["Mallory"]),
        ("RemoveUser", "Mallory"),
        ("Closed", "C3"),
        ("Shutdown",),
    ],
    # Authentication: bad tokens, wrong versions, refresh, the session limit.
    "auth": [
        ("Open", "C0"),
        send("C0", "Hello", 2, ("ExpiredAccess", "Alice")),
        send("C0", "Hello", 2, ("ForeignKey", "Alice")),
        ("Open", "C1"),
        send("C1", "Hello", 3, ("Access", "Bob")),
        ("Open", "C2"),
        send("C2", "Offer", "A0", "Bob", None, False),
        send("C2", "Refresh", 2, ("Refresh", "Carol")),
        ("Open", "C3"),
        send("C3", "Hello", 2, ("Issued", 0)),
        send("C2", "Refresh", 2, ("Refresh", "Dave")),
        send("C2", "Refresh", 7, ("Refresh", "Carol")),
        ("Open", "C4"),
        send("C4", "Hello", 2, ("Access", "Mallory")),
        send("C4", "Hello", 2, ("Missing",)),
        ("Open", "C5"),
        ("Open", "C6"),
        ("Open", "C7"),
        ("Open", "C0"),
        ("Open", "C1"),
        ("Open", "C2"),
        ("Advance", "Secs", 11),
        ("Open", "C6"),
        send("C6", "Refresh", 2, ("Access", "Erin")),
        send("C6", "Close"),
    ],
    # Regression (372d709): a subscription to a removed user ends; when the
    # user is added back and logs in, the old subscriber is not told.
    "resubscribe_after_readd": [
        ("Login", "C0", "Alice"),
        send("C0", "Subscribe", ["Bob"]),
        ("RemoveUser", "Bob"),
        ("AddUser", "Bob"),
        ("Login", "C1", "Bob"),
    ],
    # Revoked tokens: a live session ends, the old tokens are refused, the
    # generation moved back lets them in again.
    "revoke": [
        ("Login", "C0", "Alice"),
        ("Login", "C1", "Bob"),
        send("C0", "Subscribe", ["Bob"]),
        ("Revoke", "Bob"),
        ("Open", "C2"),
        send("C2", "Hello", 2, ("Access", "Bob")),
        send("C2", "Refresh", 2, ("Refresh", "Bob")),
        ("Revoke", "Bob"),
        ("Login", "C3", "Bob"),
        ("RemoveUser", "Bob"),
        ("AddUser", "Bob"),
        ("Login", "C4", "Bob"),
    ],
    # Time: pings, idle, expiring tokens, the wall clock, the rate limit.
    "timers": [
        ("Login", "C0", "Alice"),
        ("Advance", "Secs", 20),
        send("C0", "Pong", 1),
        ("Advance", "Long", 44000),
        ("Advance", "Secs", 1),
        ("Advance", "Secs", 95),
        ("Open", "C1"),
        send("C1", "Hello", 2, ("ShortAccess", "Bob")),
        ("WallClock", -100),
        send("C1", "Hello", 2, ("ShortAccess", "Bob")),
        ("Login", "C2", "Carol"),
    ]
    + [send("C2", "Ping", n) for n in range(10)]
    + [
        ("Advance", "Millis", 250),
        send("C2", "Ping", 10),
        send("C2", "Raw", list(b'{"type":"ping"}')),
        send("C2", "Oversized"),
    ],
    "devices": [
        # Two devices of alice, a short-lived session of hers, and bob.
        ("Login", "C0", "Alice", "Laptop", True),
        ("Login", "C1", "Alice", "Phone", True),
        ("Login", "C2", "Alice", "Laptop", False),
        ("Login", "C3", "Bob", "Phone", True),
        send("C3", "Subscribe", ["Alice"]),
        # By user: the phone, used most recently; by device: exactly it.
        send("C3", "Offer", "A0", "Alice", None, False),
        ("Reply", 0, False, "Answer", True),
        send("C3", "Offer", "A1", ("Alice", "LaptopInstance"), None, False),
        ("Reply", 1, False, "Candidate", False),
        # Calling one's own other device.
        send("C0", "Offer", "A2", ("Alice", "Phone"), None, False),
        ("Reply", 2, False, "Reject", True),
        # Replacement on the same device; a fourth device is over the limit.
        ("Login", "C4", "Alice", "Laptop", True),
        ("Login", "C5", "Alice", "Phone", False),
        # An instance name cannot be asked for; version 1 is refused.
        send("C6", "Hello", 2, ("Access", "Bob"), "LaptopInstance", True),
        send("C7", "Hello", 1, ("Access", "Bob")),
        ("Closed", "C1"),
        ("Revoke", "Alice"),
    ],
}


# Inputs that fail because of an open bug in brume-proto (or its auditor).
# They live outside the corpus so that CI's smoke runs stay green; once the
# bug is fixed, move them into SCENARIOS as regression seeds.
KNOWN_BUGS = {}


def write(out_dir, scenarios):
    os.makedirs(out_dir, exist_ok=True)
    for name, ops in scenarios.items():
        data = Enc().ops(ops)
        path = os.path.join(out_dir, name)
        with open(path, "wb") as f:
            f.write(data)
        print(f"{path}: {len(ops)} ops, {len(data)} bytes", file=sys.stderr)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    write(os.path.join(here, "corpus", "hub_ops"), SCENARIOS)
    if KNOWN_BUGS:
        write(os.path.join(here, "known_bugs", "hub_ops"), KNOWN_BUGS)


if __name__ == "__main__":
    main()
