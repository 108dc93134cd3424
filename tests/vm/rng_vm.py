#!/usr/bin/env python3
"""Host-side helper of tests/integration/rng_vm.sh: talks QMP to a QEMU
instance (capabilities, stop, migrate to a file, wait, cont) with a deadline
on every wait, and compares the record streams two clones wrote after they
resumed from one snapshot. A record is 32 bytes: counter (u64 LE), kind
(1 getrandom, 2 liblisec-rng, 3 RAND_bytes, 4 a key's first 16 bytes, 5 a
failed key generation, 6 the kernel draw liblisec-rng made for its block),
7 padding bytes, 16-byte block (tests/vm/rng_clone_guest.c)."""
import json
import os
import socket
import struct
import sys
import time

KINDS = {1: "getrandom", 2: "liblisec-rng", 3: "RAND_bytes", 6: "liblisec-rng_draw"}


class Qmp:
    def __init__(self, path, deadline_s):
        end = time.monotonic() + deadline_s
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.s.settimeout(max(0.1, end - time.monotonic()))
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                if time.monotonic() > end:
                    sys.exit("QMP socket %s did not answer" % path)
                time.sleep(0.05)
        self.f = self.s.makefile("rwb")
        self.read()  # greeting
        self.cmd("qmp_capabilities")

    def read(self):
        line = self.f.readline()
        if not line:
            sys.exit("QMP connection closed")
        return json.loads(line)

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.f.write(json.dumps(msg).encode() + b"\n")
        self.f.flush()
        while True:
            r = self.read()
            if "return" in r:
                return r["return"]
            if "error" in r:
                sys.exit("QMP %s: %s" % (name, r["error"].get("desc")))


def wait_migration(q, deadline_s):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        st = q.cmd("query-migrate").get("status")
        if st == "completed":
            return
        if st in ("failed", "cancelled"):
            sys.exit("migration %s" % st)
        time.sleep(0.05)
    sys.exit("migration did not complete within %ss" % deadline_s)


def records(path):
    data = open(path, "rb").read()
    n = len(data) // 32
    out = []
    for i in range(n):
        counter, kind = struct.unpack_from("<QB", data, i * 32)
        out.append((counter, kind, data[i * 32 + 16:i * 32 + 32]))
    return out


def main():
    op = sys.argv[1]
    if op == "snapshot":  # SOCK STATE: stop, save to STATE, print records so far
        q = Qmp(sys.argv[2], 10)
        q.cmd("stop")
        q.cmd("migrate", uri="exec:cat > " + sys.argv[3])
        wait_migration(q, 60)
    elif op == "cont":  # SOCK: resume (after an incoming migration or a snapshot)
        q = Qmp(sys.argv[2], 10)
        if sys.argv[3:] == ["incoming"]:
            end = time.monotonic() + 60
            while q.cmd("query-status")["status"] == "inmigrate":
                if time.monotonic() > end:
                    sys.exit("incoming migration did not complete")
                time.sleep(0.05)
            wait_migration(q, 60)
        q.cmd("cont")
    elif op == "quit":
        q = Qmp(sys.argv[2], 5)
        q.cmd("quit")
    elif op == "last":  # FILE: the highest complete counter in a stream
        recs = records(sys.argv[2])
        print(max((r[0] for r in recs), default=0))
    elif op == "count":  # FILE: records in a stream
        print(os.path.getsize(sys.argv[2]) // 32)
    elif op == "compare":  # N0 A B: blocks generated after resume found in both clones
        n0, a, b = int(sys.argv[2]), records(sys.argv[3]), records(sys.argv[4])
        # Iteration n0+1 may have been drawn before the snapshot and written
        # after it: only later iterations count as generated after resume.
        first = n0 + 2
        res = []
        for kind, name in sorted(KINDS.items()):
            ba = {r[2]: r[0] for r in a if r[1] == kind and r[0] >= first}
            bb = {r[2]: r[0] for r in b if r[1] == kind and r[0] >= first}
            both = sorted(ba[k] for k in set(ba) & set(bb))
            res.append("%s=%d" % (name, len(both)))
            res.append("%s_n=%d,%d" % (name, len(ba), len(bb)))
            res.append("%s_last=%d" % (name, both[-1] - first + 1 if both else 0))
        # A liblisec-rng block both clones produced is explained when the
        # kernel draw the library made for it (kind 6, same iteration) was
        # the same in both: the library was as fresh as the kernel then.
        def by_counter(recs, kind):
            return {r[0]: r[2] for r in recs if r[1] == kind and r[0] >= first}
        lib_a, draw_a, draw_b = by_counter(a, 2), by_counter(a, 6), by_counter(b, 6)
        where_b = {blk: c for c, blk in by_counter(b, 2).items()}
        unexplained = sum(1 for c, blk in lib_a.items() if blk in where_b and
                          (c not in draw_a or draw_a[c] != draw_b.get(where_b[blk])))
        res.append("liblisec-rng_unexplained=%d" % unexplained)
        print(" ".join(res))
    elif op == "keys":  # N0 A B: key generations after resume in each clone, keys in both
        n0, a, b = int(sys.argv[2]), records(sys.argv[3]), records(sys.argv[4])
        first = n0 + 2
        ka = {r[2] for r in a if r[1] == 4 and r[0] >= first}
        kb = {r[2] for r in b if r[1] == 4 and r[0] >= first}
        fa = sum(1 for r in a if r[1] == 5 and r[0] >= first)
        fb = sum(1 for r in b if r[1] == 5 and r[0] >= first)
        print("keys_ok=%d,%d keys_failed=%d,%d keys_shared=%d" % (len(ka), len(kb), fa, fb, len(ka & kb)))
    elif op == "keys_ok":  # N0 FILE: successful key generations after resume
        n0, a = int(sys.argv[2]), records(sys.argv[3])
        print(sum(1 for r in a if r[1] == 4 and r[0] >= n0 + 2))
    else:
        sys.exit("unknown operation " + op)


if __name__ == "__main__":
    main()
