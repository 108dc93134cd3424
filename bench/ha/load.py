#!/usr/bin/env python3
"""bench/ha helpers (not a test): `decisions` drives POST /v1/decisions/migration
from T threads, each on its own keep-alive mTLS connection, for S seconds and
prints "decisions/s p50_ms p99_ms failures"; `failover` starts three lisecd
with [ha] from their configuration files, probes each one's /healthz every
few milliseconds on a keep-alive connection, kills the leader with SIGKILL N
times (the killed one is started again as a standby) and prints, per kill,
the time from the old leader's last 200 to the new leader's first 200.
The leader is killed at a seeded random point (BENCH_SEED replays it).
`front_failover` does the same through HAProxy: one client asks
/healthz through HAProxy every few milliseconds, a new connection each
time (HAProxy pins a connection to one lisecd), and per kill the time is
from the last 200 naming the old leader's node to the first naming
another's."""
import http.client, json, os, random, signal, ssl, subprocess, sys, threading, time


def context(pki, role):
    c = ssl.create_default_context(cafile=f"{pki}/ca.crt")
    c.load_cert_chain(f"{pki}/{role}.crt", f"{pki}/{role}.key")
    return c


def decisions(port, pki, threads, seconds):
    body = json.dumps({"vm": "vm-target", "hypervisor": "hv-hel-1"})
    lat, fails, lock = [], [0], threading.Lock()
    end = time.monotonic() + seconds

    def run():
        ctx = context(pki, "mano")
        conn, mine, bad = None, [], 0
        while time.monotonic() < end:
            try:
                if conn is None:
                    conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=30)
                t0 = time.monotonic()
                conn.request("POST", "/v1/decisions/migration", body, {"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                if r.status == 200:
                    mine.append(time.monotonic() - t0)
                else:
                    bad += 1
            except Exception:
                bad += 1
                conn = None
        with lock:
            lat.extend(mine)
            fails[0] += bad

    ts = [threading.Thread(target=run) for _ in range(threads)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.monotonic() - t0
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else 0
    print(f"{len(lat) / wall:.1f} {q(0.5):.2f} {q(0.99):.2f} {fails[0]}")


def probe_nodes(pki, ports, record, stop):
    """Each node's own /healthz on a keep-alive connection: a 200 naming
    the role leader records that node."""
    def probe(n):
        ctx = context(pki, "operator")
        conn = None
        while not stop.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPSConnection("localhost", ports[n], context=ctx, timeout=2)
                conn.request("GET", "/healthz")
                r = conn.getresponse()
                b = r.read()
                if r.status == 200 and b'"leader"' in b:
                    record(n)
            except Exception:
                conn = None
            time.sleep(0.005)
    return [lambda n=n: probe(n) for n in ports]


def probe_front(pki, front, record, stop):
    """/healthz through HAProxy, a new connection each time (HAProxy pins a
    connection to one lisecd): a 200 records the node that answered."""
    def probe():
        ctx = context(pki, "operator")
        while not stop.is_set():
            try:
                conn = http.client.HTTPSConnection("localhost", front, context=ctx, timeout=2)
                conn.request("GET", "/healthz")
                r = conn.getresponse()
                b = r.read()
                conn.close()
                if r.status == 200:
                    record(json.loads(b).get("node"))
            except Exception:
                pass
            time.sleep(0.005)
    return [probe]


def failover(build, pki, kills, names, confs, probes, what):
    """The one kill loop: starts the nodes, runs the probes (probes(record,
    stop) -> thread bodies), kills the leader with SIGKILL `kills` times at a
    seeded random point 0.5-1.5 s after the last leader appeared (BENCH_SEED
    replays it), starts the killed one again as a standby, and prints per
    kill the time from the last 200 naming the old leader to the first
    naming another, then p50 and max."""
    procs, log = {}, []
    lock = threading.Lock()
    stop = threading.Event()
    seed = int(os.environ.get("BENCH_SEED", time.time_ns() % 32768))
    rng = random.Random(seed)
    print(f"kill points: seed {seed} (BENCH_SEED={seed} replays them)", flush=True)

    def record(n):
        with lock:
            log.append((time.monotonic(), n))

    def start(n):
        procs[n] = subprocess.Popen([f"{build}/cmd/lisecd/lisecd", "-c", confs[n]],
                                    stderr=open(f"{confs[n]}.log", "ab"))

    for n in names:
        start(n)
        time.sleep(0.3)  # the first one started leads
    for body in probes(record, stop):
        threading.Thread(target=body, daemon=True).start()

    def leader(after, exclude=None, bound=60):
        limit = time.monotonic() + bound
        while time.monotonic() < limit:
            with lock:
                for t, n in log:
                    if t > after and n != exclude:
                        return t, n
            time.sleep(0.01)
        raise SystemExit("no leader%s within %d s" % (what, bound))

    _, cur = leader(0)
    times = []
    for k in range(kills):
        time.sleep(0.5 + rng.random())
        procs[cur].send_signal(signal.SIGKILL)
        procs[cur].wait()
        killed = time.monotonic()
        with lock:
            last_old = max(t for t, n in log if n == cur)
        t_new, new = leader(killed, exclude=cur)
        times.append((t_new - last_old) * 1000)
        print(f"kill {k + 1}: {cur} -> {new}: {times[-1]:.0f} ms", flush=True)
        start(cur)
        cur = new
    stop.set()
    for p in procs.values():
        p.send_signal(signal.SIGTERM)
    for p in procs.values():
        p.wait()
    times.sort()
    print(f"failover{what} over {kills} kills: p50 {times[len(times) // 2]:.0f} ms, max {times[-1]:.0f} ms")


if __name__ == "__main__":
    if sys.argv[1] == "decisions":
        decisions(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
    elif sys.argv[1] == "front_failover":
        build, pki, kills, front = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        rest = sys.argv[6:]
        failover(build, pki, kills, rest[0::2], dict(zip(rest[0::2], rest[1::2])),
                 lambda record, stop: probe_front(pki, front, record, stop), " through HAProxy")
    else:
        build, pki, kills = sys.argv[2], sys.argv[3], int(sys.argv[4])
        rest = sys.argv[5:]
        names = rest[0::3]
        ports = dict(zip(names, map(int, rest[2::3])))
        failover(build, pki, kills, names, dict(zip(names, rest[1::3])),
                 lambda record, stop: probe_nodes(pki, ports, record, stop), "")
