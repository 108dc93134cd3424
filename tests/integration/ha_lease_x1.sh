#!/usr/bin/env bash
# A leader whose lease lapses in the middle of an X1 pass sends nothing more
# in it (docs/ha.md, "The leader's own deadline": a stepped-down leader
# tells NEs nothing, since a standby may lead by then and an X1 request
# goes out before any write the fence would refuse). The ADMF loop checked
# the deadline only when a pass began, and a pass lasts as long as its
# NEs' answers take (up to [x1] request_timeout_ms an NE): before, a leader
# that stepped down went on sending the rest of the pass. Here one NE,
# x1_admf_ne.py in mode crawl in front of a real lisec-ne (each answer
# 0.4 s late, 16 made-up XIDs listed, so a pass sends 16 DeactivateTasks
# over about 6 s), and the leader's watch stalled by the test hook
# (LISEC_TEST_HA_WATCH_STALL) just after the pass's first DeactivateTask:
# no DeactivateTask reaches the NE after the leader answers /healthz as a
# standby (one already on its way may land just after). Released, the
# leader leads again and its passes ask the rest.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/ha.sh"
source "$src/tests/integration/lib/li_topology.sh"
for tool in psql openssl jq; do command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }; done
pki=$work/pki
make_pki "$pki"
pgdir=$(mktemp -d /tmp/lisec-pg-hax1-XXXXXX)
cleanup_hooks+=("'$src/scripts/test/pg-stop' '$pgdir'")
url=$(cd / && "$src/scripts/test/pg-start" "$pgdir")
ha_audit_key
head -c 32 /dev/urandom >"$work/kek.bin" && chmod 600 "$work/kek.bin"
make_li_admin_key "$work/li"
lisec pki issue "$pki" admf operator lisec-admf >/dev/null || fail "pki issue admf"
LEASE=2000 POLL=200 CRAWL=0.4
stall=$work/stall

declare -A PORT PID PROBE
ha_free_ports 4
PORT[a]=${free[0]} PROBE[a]=${free[1]} ne_port=${free[2]} px_port=${free[3]}
"$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$ne_port" --cert "$pki/server.crt" --key "$pki/server.key" \
  --ca "$pki/ca.crt" --ne-id poi-1 --admf-id lisec-admf --state "$work/ne-tasks.json" 2>>"$work/ne.log" &
ne_pid=$!
echo pass >"$work/mode"
CRAWL_S=$CRAWL CRAWL_GHOSTS=16 python3 "$src/tests/integration/x1_admf_ne.py" "$px_port" \
  "https://localhost:$ne_port/X1/NE" "$pki/server.crt" "$pki/server.key" "$pki/admf.crt" "$pki/admf.key" \
  "$pki/ca.crt" "$work/mode" "$work/sent" 2>>"$work/proxy.log" &
px_pid=$!
cleanup_hooks+=("kill $ne_pid $px_pid 2>/dev/null; wait $ne_pid $px_pid 2>/dev/null")
wait_port "$ne_port"
wait_port "$px_port"
# a pass may take all 16 answers: the NE's time in a pass is not what ends it
ha_stall_node a $LEASE stall "li_admin_key = $work/li.pub" \
  "[vault]" "development_key_file = $work/kek.bin" "allow_development_key = true" \
  "[model]" "allow_declared_trust = true" "[keys]" "x1_key_dir = $pki" "[x1]" "request_timeout_ms = 30000"
wait_for() { # WHAT COMMAND...: up to 60 s
  local what=$1
  shift
  for _ in $(seq 1 600); do "$@" && return 0; sleep 0.1; done
  tail -8 "$work/a.log" >&2
  fail "$what within 60 s"
}
wait_for "a leads" leads a

LISECD_URL=https://localhost:${PORT[a]}
li_topology
li_call() { # WANT ROLE METHOD PATH BODY: a request to a
  local code
  code=$(as "$2" -o "$work/c.json" -w '%{http_code}' -X "$3" -H 'Content-Type: application/json' -d "$5" "$LISECD_URL$4")
  [ "$code" = "$1" ] || fail "$2 $3 $4: $code $(cat "$work/c.json")"
}
li_call 200 li-admin POST /v1/x1/nes "$(li_ne_json poi-1 "$px_port" vm-li 192.0.2.200)"
li_call 201 li-admin POST /v1/targets '{"id":"t-1","authorisation":"li-1","identifiers":[{"kind":"ipv4","value":"192.0.2.1"}]}'
told() { grep -qE "(^|[^a-z])activate [0-9a-f]{8}-" "$work/ne.log"; }
wait_for "lisec-ne is given the LI's task" told

# The NE crawls and lists 16 XIDs lisecd does not know: a pass deactivates
# them one by one. Once the first went out, a's watch stalls.
echo crawl >"$work/mode"
ghosts() { [ -s "$work/sent.ghosts" ]; }
wait_for "a pass deactivates the XIDs the NE lists" ghosts
touch "$stall"
for _ in $(seq 1 200); do refuses a && break; sleep 0.05; done
down=$(date +%s.%N)
refuses a || fail "a did not step down within 10 s of its watch's stall ([ha] lease_ms = $LEASE)"
# what the pass would still have sent has reached the NE by now
sleep $(python3 -c "print(16 * $CRAWL - 1)")
# the proxy logs a DeactivateTask as it answers, CRAWL s after it came
late=$(awk -v d="$down" -v c="$CRAWL" '$1 - c > d + 0.3' "$work/sent.ghosts" | wc -l)
sent=$(wc -l <"$work/sent.ghosts")
[ "$late" = 0 ] ||
  fail "a, stepped down (its lease not renewed), sent the NE $late DeactivateTasks after it answered as a standby ($sent in all)"
pass "a stepped down mid-pass and sent no X1 request after it ($sent DeactivateTasks before)"
grep -q "TR103308-5.5: the leader's lease" "$work/a.log" || fail "a did not log its step-down"
rm -f "$stall"
wait_for "a leads again once its watch ran" leads a
all_asked() { [ "$(cut -d' ' -f2 "$work/sent.ghosts" | sort -u | wc -l)" = 16 ]; }
wait_for "a, leading again, asks the rest" all_asked
pass "leading again, a asked the NE about every XID it lists"
kill -TERM "${PID[a]}"
wait "${PID[a]}" 2>/dev/null || true
! grep -q Sanitizer "$work/a.log" || { cat "$work/a.log" >&2; fail "sanitizer report in a"; }
