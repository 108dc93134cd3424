#!/usr/bin/env python3
"""The load of tests/integration/ha_stack.sh and the check of what it was
told, against what the store committed.

`load PORT PKI DIR`: through HAProxy at localhost:PORT, one operator writes
hypervisors hv-s-1, hv-s-2, ... one after another (odd ones on the
trusted host hel-1, even ones on the untrusted bad-1), and
DECIDERS mano clients ask whether vm-plain may move to hv-s-K for K drawn up
to a few beyond the last acknowledged one (so some targets exist, some do
not yet). Every answer goes to DIR as a JSON line: writes to DIR/writes
(and the acknowledged ids to DIR/acked, one a line, for the script to
count), decisions to DIR/decisions with the time sent, how many
hypervisors had been acknowledged before it was sent, the status and the reply. A
connection is dropped after any answer but 2xx (the next goes through
HAProxy again, to whichever lisecd leads). Runs until DIR/stop exists, at
most 600 s.

`check DIR STORE_URL`: every acknowledged write is committed and has its
audit record; every decision answered 200 names an audit record (its
audit_index, each used once) that is that decision (decision.migration,
vm vm-plain -> hypervisor hv-s-K, outcome ok for allow and denied for
deny) and comes after the record that created hv-s-K (the model it was
decided against held the committed hypervisor); no decision about a
hypervisor whose creation was acknowledged before it was sent was answered
"no hypervisor" (404). Prints one summary line; exits 1 naming the first
contradiction."""
import http.client, json, os, random, ssl, sys, threading, time

DECIDERS = 3


def context(pki, role):
    c = ssl.create_default_context(cafile=f"{pki}/ca.crt")
    c.load_cert_chain(f"{pki}/{role}.crt", f"{pki}/{role}.key")
    return c


class Client:
    def __init__(self, port, ctx):
        self.port, self.ctx, self.conn = port, ctx, None

    def post(self, path, body):
        """(status, parsed reply or None); status 0 when no answer came."""
        try:
            if self.conn is None:
                self.conn = http.client.HTTPSConnection("localhost", self.port, context=self.ctx, timeout=20)
            self.conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
            r = self.conn.getresponse()
            raw = r.read()
            st = r.status
        except Exception:
            self.close()
            return 0, None
        if st // 100 != 2:
            self.close()
        try:
            return st, json.loads(raw)
        except ValueError:
            return st, None

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = None


def load(port, pki, out):
    stop = lambda: os.path.exists(f"{out}/stop")
    end = time.monotonic() + 600
    acked = []  # the acknowledged n, in the order the acknowledgements came
    lock = threading.Lock()

    def writer():
        c = Client(port, context(pki, "operator"))
        n = 0
        with open(f"{out}/writes", "a") as w, open(f"{out}/acked", "a") as a:
            while not stop() and time.monotonic() < end:
                n += 1
                # odd ones on a trusted host (a move there is allowed), even ones
                # on an untrusted one (denied)
                host = "hel-1" if n % 2 else "bad-1"
                st, _ = c.post("/v1/model/hypervisor", {"id": f"hv-s-{n}", "host": host})
                w.write(json.dumps({"n": n, "status": st}) + "\n")
                w.flush()
                if st == 201:
                    with lock:
                        acked.append(n)
                    a.write(f"hv-s-{n}\n")
                    a.flush()
                else:
                    time.sleep(0.05)
                time.sleep(0.02)

    def decider(i):
        c = Client(port, context(pki, "mano"))
        rnd = random.Random(i)
        with open(f"{out}/decisions.{i}", "a") as d:
            while not stop() and time.monotonic() < end:
                with lock:
                    known = len(acked)  # the first `known` acknowledgements came before this is sent
                    top = max(acked) if acked else 0
                k = rnd.randint(1, top + 3)
                sent = time.monotonic()
                st, reply = c.post("/v1/decisions/migration", {"vm": "vm-plain", "hypervisor": f"hv-s-{k}"})
                rec = {"k": k, "known": known, "status": st}
                if st == 200 and reply:
                    rec["allow"] = reply.get("allow")
                    rec["audit_index"] = reply.get("audit_index")
                elif reply:
                    rec["error"] = (reply.get("error") or {}).get("message", "")[:200]
                d.write(json.dumps(rec) + "\n")
                d.flush()
                if st != 200:
                    time.sleep(0.05)

    ts = [threading.Thread(target=writer)] + [threading.Thread(target=decider, args=(i,)) for i in range(DECIDERS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def fields(data):
    """A plain audit entry's actor, role, action, outcome and subject: after
    its version (1 byte), sequence and time (8 each) and a flag byte, four
    u16-length strings, a flag byte and the subject (docs/audit.md)."""
    out, p = [], 18
    try:
        for i in range(5):
            if i == 4:
                p += 1
            n = int.from_bytes(data[p:p + 2], "big")
            out.append(data[p + 2:p + 2 + n].decode("utf-8", "replace"))
            p += 2 + n
    except Exception:
        pass
    return out


def check(out, url):
    import psycopg2
    writes = [json.loads(l) for l in open(f"{out}/writes")]
    acked = [w["n"] for w in writes if w["status"] == 201]  # in the order acknowledged
    ack_pos = {n: i for i, n in enumerate(acked)}
    decisions = []
    for i in range(DECIDERS):
        decisions += [json.loads(l) for l in open(f"{out}/decisions.{i}")]
    db = psycopg2.connect(url)
    cur = db.cursor()
    cur.execute("SELECT id FROM documents WHERE kind = 'model.hypervisor' AND id LIKE 'hv-s-%%'")
    stored = {r[0] for r in cur.fetchall()}
    missing = [n for n in acked if f"hv-s-{n}" not in stored]
    if missing:
        sys.exit(f"acknowledged hypervisors not in the store: {missing[:5]}")
    cur.execute("SELECT idx, data FROM audit_log WHERE sealed = 0 AND position('hv-s-'::bytea in data) > 0")
    created, records = {}, {}
    for idx, data in cur.fetchall():
        f = fields(bytes(data))
        records[idx] = f
        if len(f) == 5 and f[2] == "model.hypervisor.put" and f[3] == "ok" and f[4].startswith("hypervisor hv-s-"):
            created.setdefault(int(f[4].rsplit("-", 1)[1]), idx)
    nocreate = [n for n in acked if n not in created]
    if nocreate:
        sys.exit(f"acknowledged hypervisors without their creation record: {nocreate[:5]}")
    seen, answered, allowed, denied, notfound, other = set(), 0, 0, 0, 0, 0
    for d in decisions:
        k, st = d["k"], d["status"]
        if st == 200:
            answered += 1
            i = d.get("audit_index")
            if not isinstance(i, int):
                sys.exit(f"decision {d} answered 200 without an audit_index")
            if i in seen:
                sys.exit(f"audit_index {i} answered for two decisions (two writers?)")
            seen.add(i)
            rec = records.get(i)
            subject = f"vm vm-plain -> hypervisor hv-s-{k}"
            if not rec or len(rec) != 5 or rec[2] != "decision.migration" or rec[4] != subject:
                sys.exit(f"decision {d}: audit entry {i} is not that decision: {rec}")
            want = "ok" if d.get("allow") else "denied"
            if rec[3] != want:
                sys.exit(f"decision {d}: audit entry {i} does not record outcome {want}: {rec}")
            if k not in created or created[k] >= i:
                sys.exit(f"decision {d}: hv-s-{k} was not committed before it (created at {created.get(k)})")
            if bool(d.get("allow")) != (k % 2 == 1):
                sys.exit(f"decision {d}: hv-s-{k} is on {'hel-1 (trusted)' if k % 2 else 'bad-1 (untrusted)'}")
            if d.get("allow"):
                allowed += 1
            else:
                denied += 1
        elif st == 404:
            notfound += 1
            if ack_pos.get(k, len(acked)) < d["known"]:
                sys.exit(f"decision {d}: 404 about hv-s-{k}, whose creation was acknowledged before it was sent")
        else:
            other += 1
    print(f"{len(acked)} acknowledged writes of {len(writes)}; {answered} decisions answered 200 "
          f"({allowed} allow, {denied} deny) each matching its audit record after hv-s-K's creation, "
          f"{notfound} 404 (none about an acknowledged hypervisor), {other} refused or unanswered during failovers")


if __name__ == "__main__":
    if sys.argv[1] == "load":
        load(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        check(sys.argv[2], sys.argv[3])
