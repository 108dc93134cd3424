#!/usr/bin/env python3
"""Searches a live process's memory for byte strings, for the tests that
prove what a process does not hold (tests/integration/lisecd_memory.sh).

usage: memscan.py [--max-region=BYTES] [--writable] PID NAME=HEX [NAME=HEX ...]

Reads /proc/PID/maps and, through /proc/PID/mem (root, or the same user and
a dumpable process), every readable private or shared mapping: heap, stacks,
anonymous memory, the program's and libraries' data. Prints one JSON object:
{"pid":..., "bytes": scanned, "regions": n, "skipped": [...], "hits": {NAME: count}}.
Mappings larger than --max-region (AddressSanitizer's shadow, terabytes of
untouched reservation that holds no data of the program) are skipped and
listed; a region the kernel refuses to read is listed too. --writable scans
only mappings the process can write (heap, stacks, anonymous memory, data),
where anything it read or computed at run time lives: not its code and
read-only data, which makes a scan several times faster. Reads in chunks,
overlapping by the longest needle, so a string across a chunk is found."""
import json
import sys

CHUNK = 16 << 20


def regions(pid):
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            perms = parts[1]
            name = parts[5] if len(parts) > 5 else ""
            yield lo, hi, perms, name


def scan(pid, needles, max_region, writable=False):
    hits = {name: 0 for name in needles}
    overlap = max(len(n) for n in needles.values()) - 1
    scanned, count, skipped = 0, 0, []
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for lo, hi, perms, name in regions(pid):
            if perms[0] != "r" or name in ("[vvar]", "[vsyscall]", "[vvar_vclock]"):
                continue
            if writable and perms[1] != "w":
                continue
            if hi - lo > max_region:
                skipped.append(f"{lo:x}-{hi:x} {name} (size)")
                continue
            count += 1
            tail = b""
            at = lo
            while at < hi:
                n = min(CHUNK, hi - at)
                try:
                    mem.seek(at)
                    data = mem.read(n)
                except OSError:
                    skipped.append(f"{at:x}+{n:x} {name} (unreadable)")
                    tail = b""
                    at += n
                    continue
                buf = tail + data
                for key, needle in needles.items():
                    start = 0
                    while True:
                        i = buf.find(needle, start)
                        if i < 0:
                            break
                        # A hit wholly inside the carried tail was counted
                        # in the previous chunk.
                        if i + len(needle) > len(tail):
                            hits[key] += 1
                        start = i + 1
                scanned += len(data)
                tail = buf[-overlap:] if overlap > 0 else b""
                at += n
    return {"pid": pid, "bytes": scanned, "regions": count, "skipped": skipped, "hits": hits}


def main(argv):
    max_region = 1 << 30
    writable = False
    args = []
    for a in argv[1:]:
        if a == "--writable":
            writable = True
        elif a.startswith("--max-region="):
            max_region = int(a.split("=", 1)[1])
        else:
            args.append(a)
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    pid = int(args[0])
    needles = {}
    for a in args[1:]:
        name, _, hexval = a.partition("=")
        value = bytes.fromhex(hexval)
        if len(value) < 8:
            print(f"memscan: needle {name} is shorter than 8 bytes: a hit would mean nothing", file=sys.stderr)
            return 2
        needles[name] = value
    print(json.dumps(scan(pid, needles, max_region, writable)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
