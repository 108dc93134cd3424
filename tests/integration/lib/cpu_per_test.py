#!/usr/bin/env python3
"""CPU per test: where a suite's user and system time go, test by test.

Runs the tests of a build tree (as `ctest --show-only=json-v1` lists them,
with their environment and working directory) JOBS at a time, longest COST
first as CTest would, each under a wrapper that is the child subreaper of
its test: every process the test starts, daemons and orphans included, is
reaped by the wrapper, so its RUSAGE_CHILDREN is the test's whole CPU, user
and system (not counted: work a test asks of a process outside its tree,
such as a system service). A test's wall time runs until the last of its
processes is gone (at most 20 s after the script ends; then they are killed
and the test marked `leftover`).

  cpu_per_test.py [--jobs 4] [--regex RE] [--exclude RE] [--out FILE.json] BUILD_DIR

Prints a table (wall, user, sys) sorted by user+sys and the suite's totals;
--out keeps it as JSON for a before/after comparison. For the sanitizer
build, export the ASAN_OPTIONS and UBSAN_OPTIONS of the Makefile's check
first. It changes nothing in the tests; a measurement tool, not part of
`make check`.
"""
import argparse
import ctypes
import json
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time

PR_SET_CHILD_SUBREAPER = 36


def wrap(argv):
    """The wrapper: runs argv as subreaper, reaps all, writes its rusage (JSON) to $CPU_PER_TEST_FD."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    fd = int(os.environ.pop("CPU_PER_TEST_FD"))
    t0 = time.monotonic()
    child = subprocess.Popen(argv)
    rc = None
    script_wall = None
    leftover = False
    deadline = None
    while True:
        try:
            if deadline is None:
                pid, status = os.waitpid(-1, 0)
            else:
                pid, status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    if time.monotonic() > deadline:
                        leftover = True
                        for p in os.listdir("/proc"):
                            if p.isdigit():
                                try:
                                    with open(f"/proc/{p}/stat") as f:
                                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                                    if ppid == os.getpid():
                                        os.kill(int(p), signal.SIGKILL)
                                except (OSError, ValueError):
                                    pass
                        deadline = time.monotonic() + 3600
                    time.sleep(0.05)
                    continue
        except ChildProcessError:
            break
        if pid == child.pid:
            rc = os.waitstatus_to_exitcode(status)
            child.returncode = rc
            script_wall = time.monotonic() - t0
            deadline = time.monotonic() + 20
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = {"rc": rc, "wall": time.monotonic() - t0, "user": ru.ru_utime, "sys": ru.ru_stime, "script_wall": script_wall,
           "leftover": leftover, "wrapper_pid": os.getpid()}
    os.write(fd, json.dumps(out).encode())
    return 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--wrap":
        return wrap(sys.argv[2:])
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--regex", default="")
    ap.add_argument("--exclude", default="")
    ap.add_argument("--out")
    ap.add_argument("build")
    a = ap.parse_args()
    info = json.loads(subprocess.check_output(["ctest", "--test-dir", a.build, "--show-only=json-v1"]))
    tests = []
    for t in info["tests"]:
        if a.regex and not re.search(a.regex, t["name"]):
            continue
        if a.exclude and re.search(a.exclude, t["name"]):
            continue
        props = {p["name"]: p["value"] for p in t.get("properties", [])}
        env = dict(os.environ)
        for kv in props.get("ENVIRONMENT", []):
            k, _, v = kv.partition("=")
            env[k] = v
        tests.append({"name": t["name"], "cmd": t["command"], "cwd": props.get("WORKING_DIRECTORY", a.build),
                      "env": env, "cost": float(props.get("COST", 0)), "skip": props.get("SKIP_RETURN_CODE"),
                      "locks": props.get("RESOURCE_LOCK", []), "serial": props.get("RUN_SERIAL", False)})
    tests.sort(key=lambda t: -t["cost"])
    results = {}
    lock = threading.Lock()
    held = set()
    queue = list(tests)
    cv = threading.Condition(lock)
    t_start = time.monotonic()

    def runnable(t):
        return not any(lk in held for lk in t["locks"])

    def worker():
        while True:
            with cv:
                while True:
                    pick = next((t for t in queue if runnable(t)), None)
                    if pick or not queue:
                        break
                    cv.wait()
                if not pick:
                    return
                queue.remove(pick)
                held.update(pick["locks"])
            r, w = os.pipe()
            p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--wrap", *pick["cmd"]],
                                 cwd=pick["cwd"], env=dict(pick["env"], CPU_PER_TEST_FD=str(w)),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=(w,))
            os.close(w)
            out = p.communicate()[0]
            res = json.loads(os.read(r, 65536) or b"{}")
            os.close(r)
            res["wrapper_pid"] = p.pid
            res["output_tail"] = out.decode(errors="replace")[-400:]
            with cv:
                results[pick["name"]] = res
                held.difference_update(pick["locks"])
                cv.notify_all()
            st = "skip" if str(res.get("rc")) == str(pick["skip"]) else ("ok" if res.get("rc") == 0 else "FAIL")
            print(f"{pick['name']:28s} {st:4s} wall {res.get('wall', 0):6.1f} user {res.get('user', 0):6.1f} "
                  f"sys {res.get('sys', 0):6.1f}", flush=True)

    threads = [threading.Thread(target=worker) for _ in range(a.jobs)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.monotonic() - t_start
    tot_u = sum(r.get("user", 0) for r in results.values())
    tot_s = sum(r.get("sys", 0) for r in results.values())
    print(f"\n{'test':28s} {'wall':>6s} {'user':>7s} {'sys':>7s}")
    for n, r in sorted(results.items(), key=lambda kv: -(kv[1].get("user", 0) + kv[1].get("sys", 0))):
        mark = "  leftover" if r.get("leftover") else ""
        print(f"{n:28s} {r.get('wall', 0):6.1f} {r.get('user', 0):7.1f} {r.get('sys', 0):7.1f}{mark}")
    print(f"total: {len(results)} tests, user {tot_u:.1f} s, sys {tot_s:.1f} s, wall {wall:.1f} s")
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"wall": wall, "tests": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
