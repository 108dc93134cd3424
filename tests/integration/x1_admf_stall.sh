#!/usr/bin/env bash
# A silent NE holds up no emergency stop of another (src/ctl/tasks.c):
# the ADMF loop lets its lock go while it waits for an NE's answer. Before,
# it held the lock across every X1 exchange, each of which waits up to
# [x1] request_timeout_ms, so one NE that takes the TLS connection and
# never answers held up every other NE and the LI administration's
# emergency stop (POST /v1/x1/deactivate-all) of a healthy NE, 18-20 s
# with one task. What it asserts: the emergency stop of the healthy NE
# (lisec-ne poi-b) is answered while lisecd is still waiting on the silent
# NE (poi-a): the silent NE has not yet seen lisecd give up.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
pki=$work/pki
make_pki "$pki"
lisec pki issue "$pki" admf operator admf-1 >/dev/null
lisec audit li-keygen "$work/li-admin.key" "$work/li-admin.pub" >/dev/null
cd "$work"
ports=$("$src/scripts/test/free-ports" 2)
a_port=${ports%%$'\n'*} b_port=${ports##*$'\n'}
"$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$b_port" --cert "$pki/server.crt" --key "$pki/server.key" \
  --ca "$pki/ca.crt" --ne-id poi-b --admf-id admf-1 2>>ne.log &
ne_pid=$!
cleanup_hooks+=("kill $ne_pid 2>/dev/null; wait $ne_pid 2>/dev/null || true")
# poi-a: mutual TLS, reads the request, never answers; logs what lisecd does
cat >silent.py <<'PY'
import socket, ssl, sys, threading
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
ctx.load_verify_locations(sys.argv[4])
ctx.verify_mode = ssl.CERT_REQUIRED
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(16)
open("listening", "w").close()
log = open("silent.log", "a", buffering=1)
def hold(c):
    try:
        s = ctx.wrap_socket(c, server_side=True)
        if s.recv(65536):
            log.write("request\n")
            while s.recv(65536):
                pass
    except Exception:
        pass
    log.write("closed by lisecd\n")
while True:
    c, _ = srv.accept()
    threading.Thread(target=hold, args=(c,), daemon=True).start()
PY
python3 silent.py "$a_port" "$pki/server.crt" "$pki/server.key" "$pki/ca.crt" &
silent_pid=$!
cleanup_hooks+=("kill $silent_pid 2>/dev/null")
for _ in $(seq 100); do [ -e listening ] && break; sleep 0.1; done
start_lisecd "$pki" "[keys]" "x1_key_dir = $pki" "[audit]" "li_admin_key = $work/li-admin.pub"
reg() { # ID PORT
  local code
  code=$(as li-admin -X POST -H 'Content-Type: application/json' -o /dev/null -w '%{http_code}' \
    "$LISECD_URL/v1/x1/nes" -d "{\"id\":\"$1\",\"url\":\"https://localhost:$2/X1/NE\",\"vm\":\"vm-li\",
    \"admf_id\":\"admf-1\",\"cert\":\"$pki/admf.crt\",\"key\":\"$pki/admf.key\",\"ca\":\"$pki/ca.crt\",\"check_ms\":300,
    \"destinations\":[{\"did\":\"2d7f1a4b-3c5e-4f60-9b0c-1d2e3f4a5b6c\",\"address\":\"192.0.2.200\",\"port\":4790}]}")
  [ "$code" = 200 ] || fail "registering $1: $code"
}
reg poi-b "$b_port"
for _ in $(seq 100); do as li-admin "$LISECD_URL/v1/x1/nes/poi-b" | grep -q '"state": *"reachable"' && break; sleep 0.1; done
as li-admin "$LISECD_URL/v1/x1/nes/poi-b" | grep -q '"state": *"reachable"' || fail "poi-b is not reachable"
reg poi-a "$a_port"
# lisecd's loop is now inside an exchange with the silent NE
for _ in $(seq 300); do grep -q request silent.log 2>/dev/null && break; sleep 0.1; done
grep -q request silent.log || fail "lisecd did not ask the silent NE"
code=$(as li-admin -X POST -H 'Content-Type: application/json' -o stop.json -w '%{http_code}' --max-time 120 \
  "$LISECD_URL/v1/x1/deactivate-all" -d '{"ne":"poi-b","reason":"warrant ended"}')
[ "$code" = 200 ] || fail "emergency stop of poi-b: $code $(cat stop.json)"
! grep -q 'closed by lisecd' silent.log ||
  fail "the emergency stop of poi-b waited until lisecd gave up on the silent poi-a: $(cat silent.log)"
pass "the emergency stop of a healthy NE is answered while another NE stays silent"
