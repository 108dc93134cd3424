#!/usr/bin/env bash
# RFC 3161 timestamps on audit checkpoints (issue 19 item 1, TR 103 308
# §4.2): a local TSA (a small python3 HTTP server running `openssl ts
# -reply` per request, its certificate extendedKeyUsage critical
# timeStamping, made here) timestamps every checkpoint lisecd signs; `lisec
# audit verify --tsa-ca` checks each token online and offline and prints its
# genTime; `openssl ts -verify` agrees (a third-party check of the stored
# token over the stored note). TSA stopped: the checkpoint is still signed
# and stored, marked un-timestamped, with a finding (audit record, metric,
# log line naming the TSA URL without its password); verify reports it and
# --require-timestamps fails. TSA back: the next checkpoint is timestamped.
# A token altered in the database, or moved onto another checkpoint, fails
# verify naming the checkpoint; another TSA's CA fails too.
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/tsa.sh"
command -v openssl >/dev/null || { echo "SKIP: openssl absent"; exit 77; }

pki=$work/pki
make_tsa "$work/tsa" &  # beside the PKI: both are a few key generations
tsa_made=$!
make_pki "$pki"
wait "$tsa_made" || fail "cannot make the test TSA"
cd "$work"

# The TSA: one `openssl ts -reply` per POST; stopped and restarted below.
cat >tsa.py <<'PY'
import http.server, subprocess, sys, tempfile, os
cnf = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        q = self.rfile.read(n)
        with tempfile.TemporaryDirectory() as d:
            open(os.path.join(d, "q"), "wb").write(q)
            r = subprocess.run(["openssl", "ts", "-reply", "-config", cnf, "-queryfile", os.path.join(d, "q"),
                                "-out", os.path.join(d, "r")], capture_output=True)
            body = open(os.path.join(d, "r"), "rb").read() if r.returncode == 0 else b""
        self.send_response(200 if body else 500)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
tsa_port=$(free_port)
TSA_PID=
start_tsa() {
  python3 tsa.py "$tsa_port" "$work/tsa/ts.cnf" &
  TSA_PID=$!
  for _ in $(seq 1 300); do
    python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$tsa_port" 2>/dev/null &&
      return 0
    sleep 0.1
  done
  fail "the test TSA did not start"
}
stop_tsa() { [ -z "$TSA_PID" ] || { kill "$TSA_PID" 2>/dev/null || true; wait "$TSA_PID" 2>/dev/null || true; TSA_PID=; }; }
cleanup_hooks+=("stop_tsa")
start_tsa

# user:password in the URL: never in a log line or a finding
start_lisecd "$pki" "[audit]" "checkpoint_ms = 200" "vkey_file = $work/lisecd.vkey" \
  "tsa_url = http://tsauser:tsa-s3cret@127.0.0.1:$tsa_port/tsa" "tsa_ca = $work/tsa/ca.pem" "tsa_timeout_ms = 3000"

record() { for _ in 1 2; do as tenant-example -o /dev/null "$LISECD_URL/v1/audit/entries"; done; }
# wait_cp ABOVE KEY: waits (one python3 polling curl, up to 60 s) for a
# newest checkpoint over more than ABOVE entries whose timestamp object has
# KEY (token or error); leaves it in cp.json and its size in cp.size.
wait_cp() {
  python3 - "$1" "$2" "$LISECD_URL/v1/audit/checkpoint" "$pki" <<'PY' || { cat cp.json >&2 || true; fail "no checkpoint over more than $1 entries with a timestamp $2"; }
import json, subprocess, sys, time
above, key, url, pki = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
end = time.monotonic() + 60
while time.monotonic() < end:
    r = subprocess.run(["curl", "-sS", "--cacert", pki + "/ca.crt", "--cert", pki + "/auditor.crt",
                        "--key", pki + "/auditor.key", "-o", "cp.json", "-w", "%{http_code}", url],
                       capture_output=True, text=True)
    if r.stdout == "200":
        j = json.load(open("cp.json"))
        if j.get("tree_size", 0) > above and key in j.get("timestamp", {}):
            open("cp.size", "w").write(str(j["tree_size"]))
            sys.exit(0)
    time.sleep(0.05)
sys.exit(1)
PY
}
cli() { lisec --server "$LISECD_URL" --pki "$pki" --role "$@"; }

# 1. Timestamped.
record
wait_cp 0 token
size1=$(cat cp.size)
cli auditor audit verify --pubkey lisecd.vkey --tsa-ca tsa/ca.pem >v1.out || { cat v1.out; fail "online verify with the TSA CA"; }
grep -q "checkpoint at size $size1: timestamped, genTime 20[0-9-]*T[0-9:]*Z" v1.out || { cat v1.out; fail "no genTime for size $size1"; }
lisec audit verify --db lisec.db --pubkey lisecd.vkey --tsa-ca tsa/ca.pem >v1db.out ||
  { cat v1db.out; fail "offline verify with the TSA CA"; }
grep -q "checkpoint at size $size1: timestamped, genTime" v1db.out || { cat v1db.out; fail "offline: no genTime"; }
rc=0
cli auditor audit verify --pubkey lisecd.vkey --tsa-ca tsa/other-ca.pem >v1o.out || rc=$?
[ "$rc" = 1 ] && grep -q "checkpoint at size $size1: timestamp FAILED" v1o.out || { cat v1o.out; fail "another TSA's CA: exit $rc"; }
pass "checkpoint at size $size1 timestamped; verify online and offline prints its genTime; another CA fails it"

# 2. A third party (openssl ts -verify) over the stored note and token.
python3 - "$size1" <<'PY'
import base64, json, sys
j = json.load(open("cp.json"))
open("note.txt", "wb").write(j["note"].encode())
open("tok.der", "wb").write(base64.b64decode(j["timestamp"]["token"]))
PY
openssl ts -verify -in tok.der -token_in -data note.txt -CAfile tsa/ca.pem >ossl.out 2>&1 || { cat ossl.out; fail "openssl ts -verify"; }
grep -q "Verification: OK" ossl.out || fail "openssl ts -verify did not say OK"
printf 'x' >>note.txt
! openssl ts -verify -in tok.der -token_in -data note.txt -CAfile tsa/ca.pem >/dev/null 2>&1 || fail "openssl verified another note"
pass "openssl ts -verify accepts the stored token over the stored note, and refuses another note"

# 3. TSA down: signed, stored, marked, found.
stop_tsa
record
wait_cp "$size1" error
size2=$(cat cp.size)
grep -q "untimestamped\|un-timestamped" cp.json || grep -q "TSA" cp.json || { cat cp.json; fail "the marker does not say why"; }
as operator -o m.txt "$LISECD_URL/metrics"
grep -Eq '^lisec_audit_checkpoint_untimestamped_total [1-9]' m.txt || { grep untimestamped m.txt; fail "metric"; }
grep -q "no RFC 3161 timestamp from the TSA at http://127.0.0.1:$tsa_port/tsa" lisecd.log || fail "no log line naming the TSA"
! grep -q "tsa-s3cret" lisecd.log || fail "the TSA URL's password is in the log"
as auditor -o e.json "$LISECD_URL/v1/audit/entries?from=0&count=1000"
python3 - <<'PY' || fail "no audit record of the missing timestamp"
import base64, json
d = [base64.b64decode(x["data"]) for x in json.load(open("e.json"))["entries"]]
assert any(b"audit.timestamp" in x and b"not timestamped" in x for x in d)
assert not any(b"tsa-s3cret" in x for x in d)
PY
cli auditor audit verify --pubkey lisecd.vkey --tsa-ca tsa/ca.pem >v3.out || { cat v3.out; fail "verify with an un-timestamped checkpoint"; }
grep -q "checkpoint at size $size2: not timestamped" v3.out || { cat v3.out; fail "un-timestamped not reported"; }
rc=0
cli auditor audit verify --pubkey lisecd.vkey --tsa-ca tsa/ca.pem --require-timestamps >v3r.out || rc=$?
[ "$rc" = 1 ] || { cat v3r.out; fail "--require-timestamps: exit $rc"; }
pass "TSA down: checkpoint $size2 signed and stored, marked, metric, log line (no password), audit record; verify reports it"

# 4. TSA back: the next checkpoint is timestamped.
start_tsa
record
wait_cp "$size2" token
size3=$(cat cp.size)
cli auditor audit verify --pubkey lisecd.vkey --tsa-ca tsa/ca.pem >v4.out || { cat v4.out; fail "verify after the TSA came back"; }
grep -q "checkpoint at size $size3: timestamped, genTime" v4.out || { cat v4.out; fail "size $size3 not timestamped"; }
pass "TSA back: checkpoint $size3 timestamped"

# 5. Forged tokens, in a copy of the database: one byte altered, and one
# checkpoint's token put on another.
sqlite3 lisec.db ".backup '$work/forged.db'"
sqlite3 lisec.db ".backup '$work/moved.db'"
sqlite3 lisec.db ".backup '$work/late.db'"
python3 - "$size1" "$size3" <<'PY'
import base64, json, sqlite3, sys
s1, s3 = sys.argv[1], sys.argv[2]
db = sqlite3.connect("forged.db")
body = json.loads(db.execute("SELECT body FROM documents WHERE kind='audit.timestamp' AND id=?", (s1,)).fetchone()[0])
t = bytearray(base64.b64decode(body["token"]))
t[-5] ^= 1  # inside the signature value
body["token"] = base64.b64encode(bytes(t)).decode()
db.execute("UPDATE documents SET body=? WHERE kind='audit.timestamp' AND id=?", (json.dumps(body), s1))
db.commit()
db = sqlite3.connect("moved.db")
b1 = db.execute("SELECT body FROM documents WHERE kind='audit.timestamp' AND id=?", (s1,)).fetchone()[0]
db.execute("UPDATE documents SET body=? WHERE kind='audit.timestamp' AND id=?", (b1, s3))
db.commit()
# the first entry's stored time a day later than the TSA says it existed
db = sqlite3.connect("late.db")
db.execute("DROP TRIGGER audit_log_no_update")
db.execute("UPDATE audit_log SET time_ms = time_ms + 86400000 WHERE idx = 0")
db.commit()
PY
for which in forged moved late; do
  rc=0
  lisec audit verify --db $which.db --pubkey lisecd.vkey --tsa-ca tsa/ca.pem >v5$which.out 2>&1 || rc=$?
  [ "$rc" = 1 ] || { cat v5$which.out; fail "$which token: exit $rc, want 1"; }
done
grep -q "checkpoint at size $size1: timestamp FAILED" v5forged.out || { cat v5forged.out; fail "forged: checkpoint not named"; }
grep -q "checkpoint at size $size3: timestamp FAILED.*imprint" v5moved.out || { cat v5moved.out; fail "moved: checkpoint not named"; }
grep -q "checkpoint at size $size1: FAILED: entries below it claim times up to .*, after its genTime" v5late.out ||
  { cat v5late.out; fail "late: an entry dated after genTime not named"; }
pass "a forged token, a token moved to another checkpoint and an entry dated after genTime fail verify naming the checkpoint"
