#!/usr/bin/env bash
# A response held open on a leader that stops leading (docs/ha.md, "The
# leader's own deadline"). lisecd streams nothing: every reply is one
# message with a Content-Length. The one response it holds open is a
# decision parked for a host's fresh quote, for up to [attest]
# fresh_wait_ms (120 s at most). Here one host (a swtpm and lisec-agent)
# attested on leader a, then its agent stopped and its appraisal went
# stale, so a placement decision about an LI VM parks on a. While a leads,
# one outlives several lease deadlines and is allowed from the quote the
# agent then gives. Then, another parked, a's watch stalls
# (LISEC_TEST_HA_WATCH_STALL) and standby b takes over. Checked: the parked
# decision is answered once a steps down, not at its bound: 503
# "role":"standby" (TR103308-5.3, the lease, "ask the leader"), Retry-After,
# no leader named, nothing about the LI, so its client asks again through
# the load balancer and reaches b.
# Then with lease_ms = 0 (no step-down, as before): a deposed leader, its
# lock session ended and b leading, still holds a parked decision while its
# watch stalls, and answers it 503 when it exits (its watch released finds
# the lock gone), not at the bound.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/ha.sh"
source "$src/tests/integration/attest_lib.sh"
for tool in psql openssl jq swtpm tpm2_pcrextend; do
  command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
cd "$work"
pki=$work/pki
agent_bin="$build/cmd/lisec-agent/lisec-agent"
make_pki "$pki"
pgdir=$(mktemp -d /tmp/lisec-pg-haparked-XXXXXX)
cleanup_hooks+=("'$src/scripts/test/pg-stop' '$pgdir'")
url=$(cd / && "$src/scripts/test/pg-start" "$pgdir")
sql() { psql -qtA "$url" -c "$1"; }
ha_audit_key
make_li_admin_key "$work/li"
am_pki am
evgen --log fw.bin --extends fw.txt --reference ref.json
declare -A HID APID
agent_host 1
LEASE=2000 POLL=200 BOUND_MS=30000
stall=$work/stall

declare -A PORT PID PROBE
ha_free_ports 4
PORT[a]=${free[0]} PROBE[a]=${free[1]} PORT[b]=${free[2]} PROBE[b]=${free[3]}
start() { # NAME LEASE_MS [stall]: lib/ha.sh's ha_stall_node with this test's settings
  ha_stall_node "$1" "$2" "${3:-}" "li_admin_key = $work/li.pub" \
    "[attest]" "reference_file = $work/ref.json" "location_ca = $work/am/ca.crt" "fresh_wait_ms = $BOUND_MS" \
    "[model]" "attestation_max_age_s = 1"
}
wait_for() { # WHAT COMMAND...: up to 60 s
  local what=$1
  shift
  for _ in $(seq 1 600); do "$@" && return 0; sleep 0.1; done
  for n in a b; do echo "--- $n" >&2; tail -8 "$work/$n.log" >&2; done
  fail "$what within 60 s"
}
now_ms() { date +%s%3N; }
post() { # ROLE PATH JSON
  local code
  code=$(as "$1" -o "$work/p.json" -w '%{http_code}' -H 'Content-Type: application/json' -d "$3" "$LISECD_URL$2")
  [ "$code" = 201 ] || fail "POST $2 as $1: $code $(cat "$work/p.json")"
}
show() { as operator "$LISECD_URL/v1/hosts/${HID[$1]}/attestation"; }
# decide TAG: a placement onto host 1 as mano, in the background (its pid in
# $decider), its headers in d-TAG.head, body d-TAG.json, "code seconds" in
# d-TAG.out; returns once curl has sent the whole request.
decide() {
  rm -f "trace-$1.txt"
  as mano --max-time 90 -D "d-$1.head" -o "d-$1.json" -w '%{http_code} %{time_total}\n' \
    -H 'Content-Type: application/json' --trace-ascii "trace-$1.txt" \
    -d "{\"id\":\"vm-li-$1\",\"hypervisor\":\"hv-1\",\"sensitivity\":\"li\",\"domain\":\"li\",\"paired\":true}" \
    "$LISECD_URL/v1/decisions/placement" >"d-$1.out" 2>&1 &
  decider=$!
  for _ in $(seq 1 100); do grep -q "vm-li-$1" "trace-$1.txt" 2>/dev/null && return 0; sleep 0.05; done
  fail "curl never sent decision $1"
}
# attested_stale: host 1's agent attests through $LISECD_URL, then stops;
# its newest appraisal is then older than attestation_max_age_s.
attested_stale() {
  run_agent 1
  wait_trusted 1 agent-1.log
  kill -TERM "${APID[1]}"
  wait "${APID[1]}" || true
  stale 1
}

# ---- a leads, b waits; the model and an attested host on a --------------------------
start a $LEASE stall
wait_for "a leads" leads a
start b $LEASE
wait_for "b is a standby" refuses b
LISECD_URL=https://localhost:${PORT[a]}
post operator /v1/model/jurisdiction '{"id":"fi","name":"Finland","codes":["FI"]}'
post operator /v1/model/lea '{"id":"lea-fi","name":"Finnish LEA","jurisdiction":"fi"}'
post operator /v1/model/host "{\"id\":\"${HID[1]}\",\"protection\":\"li\"}"
post operator /v1/model/hypervisor "{\"id\":\"hv-1\",\"host\":\"${HID[1]}\"}"
post operator /v1/model/vm '{"id":"vm-target","hypervisor":"hv-1","sensitivity":"sensitive","domain":"core"}'
post operator /v1/model/vm '{"id":"vm-li","hypervisor":"hv-1","sensitivity":"li","domain":"li"}'
post operator /v1/model/vm '{"id":"vm-store","hypervisor":"hv-1","sensitivity":"li","domain":"li"}'
post operator /v1/model/storage '{"id":"st-li","vm":"vm-store","provided_to":["vm-li"]}'
post operator /v1/model/connection '{"id":"c-target-li","between":["vm-target","vm-li"],"kind":"network","secure":true}'
post operator /v1/model/connection '{"id":"c-li-store","between":["vm-li","vm-store"],"kind":"nfs","secure":true}'
post operator /v1/model/group '{"id":"g-target-li","connections":["c-target-li"]}'
post operator /v1/model/group '{"id":"g-li-store","connections":["c-li-store"]}'
post li-admin /v1/model/li '{"id":"li-fi-1","jurisdiction":"fi","lea":"lea-fi","monitored":"vm-target","host":"vm-li","storage":"st-li","valid_from":"2025-01-01T00:00:00Z","valid_until":"2035-01-01T00:00:00Z"}'
attested_stale

# ---- while a leads, a parked decision outlives lease deadlines and takes the quote ----
decide 0
t0=$(now_ms)
while [ $(($(now_ms) - t0)) -lt $((3 * LEASE)) ]; do
  kill -0 "$decider" 2>/dev/null || fail "a decision parked on leading a was answered $(($(now_ms) - t0)) ms in, before its host's quote: $(cat d-0.out d-0.json)"
  sleep 0.1
done
run_agent 1
wait "$decider" || true
read -r code secs <"d-0.out" || true
[ "$code" = 200 ] && jq -e '.allow == true and .attestation.fresh_quote == true' d-0.json >/dev/null ||
  fail "the decision parked on leading a: $code $(cat d-0.json)"
leads a || fail "a stopped leading: $(cat h.json)"
kill -TERM "${APID[1]}"
wait "${APID[1]}" || true
stale 1
pass "leading a (lease renewed) held a parked decision past three lease periods and allowed it from the quote its agent then gave"

# ---- a decision parked on a; a's watch stalls; b takes over --------------------------
decide 1
t_post=$(now_ms)
touch "$stall"
t_stall=$(now_ms)
wait_for "b takes over from stalled a" leads b
wait "$decider" || true
t_done=$(now_ms)
read -r code secs <"d-1.out" || true
after=$((t_done - t_stall))
[ "$code" = 503 ] && [ "$(jq -r .role d-1.json)" = standby ] ||
  fail "the decision parked on a, a stepped down: $code $(cat d-1.json)"
# answered by a's step-down: not before its lease could lapse, well before the bound
[ "$after" -ge $((LEASE - 2 * POLL)) ] ||
  fail "the parked decision was answered $after ms into the stall, before a's lease could lapse"
[ $((t_done - t_post)) -lt $((BOUND_MS / 2)) ] ||
  fail "the parked decision was answered $((t_done - t_post)) ms after it was sent, $after ms into a's stall: held toward its bound ([attest] fresh_wait_ms = $BOUND_MS) after a stepped down ([ha] lease_ms = $LEASE)"
jq -r .error.message d-1.json | grep -q 'TR103308-5.3.*lease.*ask the leader' ||
  fail "the parked decision's answer does not say why: $(cat d-1.json)"
[ "$(jq -r .leader d-1.json)" = null ] || fail "the answer names a leader a does not know: $(cat d-1.json)"
grep -qi '^retry-after: 1' d-1.head || fail "the answer has no Retry-After: $(cat d-1.head)"
! grep -qi 'li-fi-1\|lea-fi\|vm-target' d-1.json || fail "the answer names the LI: $(cat d-1.json)"
alive a || fail "a exited while its watch was stalled: $(tail -3 a.log)"
pass "a decision parked on a ([attest] fresh_wait_ms = $BOUND_MS) was answered 503 \"standby\" (TR103308-5.3, Retry-After) $after ms into a's stall, once a stepped down, not at its bound"

rm -f "$stall"
gone() { ! alive "$1"; }
wait_for "a exits once its watch finds the lock gone" gone a
wait "${PID[a]}" 2>/dev/null || true
grep -q "lost the store's writer lock" a.log || fail "a exited without saying it lost the lock: $(tail -3 a.log)"
pass "released, a's watch found the lock gone and a exited"

# ---- lease_ms = 0: a deposed leader's parked decision is answered when it exits ------
# b leads (lease_ms = LEASE); a restarts without a lease, becomes the leader
# once b stops, and its host attests on it again.
mv a.log a-1.log
start a 0 stall
wait_for "a is b's standby" refuses a
kill -TERM "${PID[b]}"
wait "${PID[b]}" 2>/dev/null || true
wait_for "a leads once b stopped" leads a
LISECD_URL=https://localhost:${PORT[a]}
attested_stale
start b $LEASE
wait_for "b is a's standby" refuses b
decide 2
touch "$stall"
wait_for "a's watch stalls" grep -q "watch skips its rounds" a.log
[ "$(sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'lisec-lock:a'")" = 1 ] ||
  fail "a's lock session not found"
wait_for "b takes the lock a lost" leads b
kill -0 "$decider" 2>/dev/null || fail "the decision parked on a was answered before a exited: $(cat d-2.out d-2.json)"
t_release=$(now_ms)
rm -f "$stall"
wait "$decider" || true
t_done=$(now_ms)
read -r code secs <"d-2.out" || true
[ "$code" = 503 ] && jq -r .error.message d-2.json | grep -q 'stopping' ||
  fail "deposed a's parked decision, a exiting: $code $(cat d-2.json)"
[ $((t_done - t_release)) -lt $((BOUND_MS / 2)) ] ||
  fail "deposed a's parked decision answered $((t_done - t_release)) ms after its watch was released"
wait_for "deposed a exits" gone a
pass "lease_ms = 0: a deposed a held its parked decision while its watch stalled (no step-down, as before) and answered it 503 \"stopping\" as it exited, $((t_done - t_release)) ms after release"
for n in a-1 a b; do ! grep -q Sanitizer "$work/$n.log" || { cat "$work/$n.log" >&2; fail "sanitizer report in $n"; }; done
