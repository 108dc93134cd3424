#!/usr/bin/env python3
"""An independent RFC 9162 Merkle tree reference for lisec's audit tests.

Written from the RFC's definitions only (MTH §2.1.1, PATH §2.1.3.1, PROOF and
SUBPROOF §2.1.4.1) with Python's hashlib, sharing nothing with the C code,
so that the C implementation is checked against a second reading of the
standard rather than against itself.

  audit_reference.py vectors
      prints the roots, inclusion and consistency proofs of the classic
      RFC 6962 eight-leaf set as C initialisers (pasted into test_audit.c).
  audit_reference.py check-db SQLITE_FILE PROVE_JSON...
      reads the audit_log table, recomputes the leaf hashes from the data and
      checks each `lisec audit prove` JSON output (root, path) against the
      reference; exits 1 on any difference.
"""
import hashlib
import json
import sqlite3
import sys


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves):
    """MTH over a list of leaf hashes."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = split(n)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def path(m, leaves):
    n = len(leaves)
    if n <= 1:
        return []
    k = split(n)
    if m < k:
        return path(m, leaves[:k]) + [mth(leaves[k:])]
    return path(m - k, leaves[k:]) + [mth(leaves[:k])]


def subproof(m, leaves, b):
    n = len(leaves)
    if m == n:
        return [] if b else [mth(leaves)]
    k = split(n)
    if m <= k:
        return subproof(m, leaves[:k], b) + [mth(leaves[k:])]
    return subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


def proof(m, leaves):
    if m == 0 or m == len(leaves):
        return []
    return subproof(m, leaves, True)


CLASSIC = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
           "606162636465666768696a6b6c6d6e6f"]


def c_hashes(hs):
    return "{" + ", ".join('"%s"' % h.hex() for h in hs) + "}"


def vectors():
    leaves = [leaf_hash(bytes.fromhex(x)) for x in CLASSIC]
    print("/* roots of the first n classic leaves, n = 0..8 */")
    for n in range(0, 9):
        print('  {%d, "%s"},' % (n, mth(leaves[:n]).hex()))
    print("/* inclusion: index, size, path */")
    for n in range(1, 9):
        for i in range(n):
            p = path(i, leaves[:n])
            print("  {%d, %d, %d, %s}," % (i, n, len(p), c_hashes(p)))
    print("/* consistency: old, new, proof */")
    for n in range(1, 9):
        for m in range(1, n + 1):
            p = proof(m, leaves[:n])
            print("  {%d, %d, %d, %s}," % (m, n, len(p), c_hashes(p)))


def check_db(db, outputs):
    con = sqlite3.connect(db)
    leaves = [leaf_hash(bytes(row[0])) for row in
              con.execute("SELECT data FROM audit_log ORDER BY idx")]
    bad = 0
    for path_ in outputs:
        with open(path_) as f:
            j = json.load(f)
        size = j["tree_size"]
        want_root = mth(leaves[:size]).hex()
        if j["root"] != want_root:
            print("%s: root %s, reference %s" % (path_, j["root"], want_root))
            bad += 1
        if "index" in j:
            want = [h.hex() for h in path(j["index"], leaves[:size])]
            got = j["inclusion_path"]
            if j["leaf_hash"] != leaves[j["index"]].hex():
                print("%s: leaf hash differs" % path_)
                bad += 1
        else:
            want = [h.hex() for h in proof(j["old_size"], leaves[:size])]
            got = j["consistency_path"]
            if j["old_root"] != mth(leaves[:j["old_size"]]).hex():
                print("%s: old root differs" % path_)
                bad += 1
        if got != want:
            print("%s: path differs from the reference" % path_)
            bad += 1
    print("reference: %d proof(s) checked, %d difference(s)" % (len(outputs), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "vectors":
        vectors()
    elif len(sys.argv) >= 4 and sys.argv[1] == "check-db":
        sys.exit(check_db(sys.argv[2], sys.argv[3:]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
