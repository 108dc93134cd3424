#!/usr/bin/env python3
"""bench/scale's fits: reads the .dat files bench/scale/run wrote into DIR
and prints, for each memory curve, a least-squares line through the measured
points, where it passes 24 GiB, and the other curves' values extrapolated to
the sizes the run did not reach. Also writes DIR/fit.dat for the plot.

usage: fit.py DIR"""
import math
import os
import sys

GIB24 = 24 * 1024  # MiB
d = sys.argv[1]


def rows(name):
    path = os.path.join(d, name)
    if not os.path.exists(path):
        return []
    return [list(map(float, l.split())) for l in open(path) if l.strip()]


def line(xs, ys):
    """Least squares y = a + b x."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    return my - b * mx, b


fit = []
p = rows("platform.dat")  # hosts VMs LIs conns load_s full_ms p50 p99 rss_mib
if len(p) >= 2:
    vms = [r[1] for r in p]
    a, b = line(vms, [r[8] for r in p])
    at = (GIB24 - a) / b if b > 0 else float("inf")
    fa, fb = line(vms, [r[9] for r in p])  # full evaluation, CPU ms
    la, lb = line(vms, [r[4] for r in p])
    print(f"  model: {b * 1048576:.0f} bytes of RSS per VM (with its share of hosts, LIs and connections) + {a:.0f} MiB;"
          f" 24 GiB at about {at / 1e6:.1f}M VMs ({at / 20 / 1e3:.0f}k hosts of 20 VMs)"
          f"{' (extrapolated past ' + format(max(vms) / 1e6, '.1f') + 'M measured)' if at > max(vms) else ''}")
    print(f"         there: full evaluation ~{(fa + fb * at) / 1e3:.0f} s of CPU, loading every entity"
          f" ~{la + lb * at:.0f} s (lines through the measured points)")
    if len(p) >= 3 and p[-2][9] > 0 and p[-1][9] > 0:
        e = math.log(p[-1][9] / p[-2][9]) / math.log(p[-1][1] / p[-2][1])
        print(f"         full evaluation CPU grew as VMs^{e:.2f} between the two largest sizes"
              f" ({p[-2][9]:.0f} -> {p[-1][9]:.0f} ms)")
    fit.append(("model_rss_at_24gib_vms", at))
h = rows("hubs.dat")  # K conns p50 p99 full rss cpu_p50 cpu_p99 full_cpu
if len(h) >= 2:
    a, b = line([r[0] for r in h], [r[6] for r in h])
    print(f"  hubs: a decision moving a hub costs ~{b:.2f} us more CPU (p50) per connection of the hub (a line"
          f" through the points, which the table shows is not straight); at 10,000 connections"
          f" ~{(a + b * 10000) / 1e3:.1f} ms (extrapolated)")
# size grow_s open_s tree_mib disk_mib append_per_s incl_p99 cons_p99 leaf_p50 leaf_p99 incl_p50
# ckpt_open_s ckpt_open_cpu full_open_s full_open_cpu leaves_open_s leaves_open_cpu ready_s ready_cpu
au = rows("audit.dat")
if len(au) >= 2:
    xs = [r[0] for r in au]
    a, b = line(xs, [r[3] for r in au])
    at = (GIB24 - a) / b if b > 0 else float("inf")
    da, db = line(xs, [r[4] for r in au])
    ka, kb = line(xs, [r[8] for r in au])
    print(f"  audit log: {b * 1024 * 1024:.1f} bytes of appender memory per entry + {a:.0f} MiB;"
          f" 24 GiB at about {at / 1e9:.1f}G entries (extrapolated past {max(xs) / 1e6:.1f}M measured)")
    for n in (30e6, 100e6):
        if n > max(xs):
            print(f"    at {n / 1e6:.0f}M entries (extrapolated): appender memory ~{a + b * n:.0f} MiB,"
                  f" SQLite file ~{(da + db * n) / 1024:.1f} GiB,"
                  f" proof by leaf hash ~{(ka + kb * n) / 1e3:.0f} ms")
    if all(len(r) >= 19 for r in au):
        fa, fb = line(xs, [r[14] for r in au])
        ra, rb = line(xs, [r[18] for r in au])
        ck = [r[12] for r in au]
        print(f"    open CPU: from the checkpoint's stored frontier {min(ck):.3f}-{max(ck):.3f} s at"
              f" {min(xs) / 1e6:.0f}M-{max(xs) / 1e6:.0f}M entries (no line: it does not grow with the log);"
              f" every entry checked {fb * 1e6:.2f} s per million entries, the tree rebuilt after the open"
              f" {rb * 1e6:.2f} s per million")
        for n in (30e6, 100e6):
            if n > max(xs):
                print(f"    at {n / 1e6:.0f}M entries (extrapolated): full-check open ~{fa + fb * n:.0f} s of CPU,"
                      f" open from the frontier as measured, tree ready after it ~{ra + rb * n:.0f} s of CPU")
    fit.append(("audit_mem_at_24gib_entries", at))
with open(os.path.join(d, "fit.dat"), "w") as f:
    for k, v in fit:
        f.write(f"{k} {v}\n")
