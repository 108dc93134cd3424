#!/usr/bin/env bash
# A restart of lisecd keeps live interceptions (issue 25 item 1): two hosts,
# each with its own swtpm and lisec-agent, attested; an LI whose VMs run on
# them; a real lisec-ne holding the LI's task. lisecd is restarted twice on
# the same port and store, once with SIGTERM and once with SIGKILL of its
# parent (its children die with it). After each restart the NE is never
# sent a DeactivateTask, the task keeps its XID on both sides, the hosts
# are trusted in the model from their stored appraisals, and every agent
# attests again at once because lisecd asks it to (their interval is 300 s,
# so only that request explains a new appraisal). Then item 3: a host that
# attested before it was added to the model is trusted as soon as it is
# added.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/lib/li_topology.sh"
source "$src/tests/integration/attest_lib.sh"
cd "$work"
pki=$work/pki
agent_bin="$build/cmd/lisec-agent/lisec-agent"
HOSTS="1 2 3"

make_pki "$pki"
lisec pki issue "$pki" admf operator lisec-admf >/dev/null
eval "$("$src/scripts/test/softhsm-start" "$work/hsm" lisec 4321)"
echo 4321 >"$work/pin"
lisec audit li-keygen li.key li.pub >/dev/null 2>&1 || fail "li-keygen"
am_pki am
evgen --log fw.bin --extends fw.txt --reference ref.json
declare -A HID APID
for n in $HOSTS; do agent_host "$n"; done

# Declared pairing (development) keeps the LI VMs paired without the LI
# administration's pairing protocol; host trust is never declared here.
start_lisecd "$pki" "[keys]" "x1_key_dir = $pki" "[attest]" "reference_file = $work/ref.json" "location_ca = $work/am/ca.crt" \
  "interval_s = 300" "[model]" "allow_declared_trust = true" "[audit]" "li_admin_key = $work/li.pub" \
  "[vault]" "pkcs11_module = $LISEC_P11_MODULE" "token = lisec" "pin_file = $work/pin" "key_label = lisec-kek"

api() { # ROLE METHOD PATH [BODY] -> body, then the status on the last line
  local role=$1 method=$2 path=$3
  if [ $# -ge 4 ]; then as "$role" -X "$method" -w '\n%{http_code}' -H 'Content-Type: application/json' -d "$4" "$LISECD_URL$path"
  else as "$role" -X "$method" -w '\n%{http_code}' "$LISECD_URL$path"; fi
}
ok() { # expected-status ROLE METHOD PATH [BODY]
  local want=$1 out
  shift
  out=$(api "$@")
  [ "${out##*$'\n'}" = "$want" ] || fail "$2 $3 -> ${out##*$'\n'} (want $want): ${out%$'\n'*}"
  printf '%s' "${out%$'\n'*}"
}
model() { ok 201 "$1" POST "/v1/model/$2" "$3" >/dev/null; }
model_trust() { ok 200 operator GET "/v1/model/host/${HID[$1]}" | jq -r '.state.trust'; }

# lib/li_topology.sh's LI on the two attested hosts (no trust declared): the
# LI VM and its storage VM on host 1, the monitored VM on host 2, so that the
# LI's VMs run on both (R1 wants host 2's attested location, R8 and R9 host
# 1's trust).
for n in 1 2; do
  model operator host "{\"id\":\"${HID[$n]}\",\"protection\":\"li\"}"
  model operator hypervisor "{\"id\":\"hv-$n\",\"host\":\"${HID[$n]}\"}"
done
li_topology host= hv=hv-1 target_hv=hv-2

run_agent() { # N
  sed -i "s|^url = .*|url = $LISECD_URL|" "agent-$1.conf"
  "$agent_bin" -c "$work/agent-$1.conf" run >>"agent-$1.log" 2>&1 &
  APID[$1]=$!
  cleanup_hooks+=("kill ${APID[$1]} 2>/dev/null || true")
}
show() { as operator "$LISECD_URL/v1/hosts/${HID[$1]}/attestation"; }
wait_model_trusted() { # N
  for _ in $(seq 1 600); do
    [ "$(model_trust "$1")" = trusted ] && return 0
    sleep 0.1
  done
  tail "agent-$1.log" >&2
  fail "host $1 not trusted in the model: $(ok 200 operator GET "/v1/model/host/${HID[$1]}")"
}
for n in 1 2; do run_agent "$n"; done
for n in 1 2; do wait_model_trusted "$n"; done
pass "two hosts, each with its own swtpm and lisec-agent, attested: trusted in the model"

# ---- the NE and its task ------------------------------------------------------
ne_port=$(free_port)
"$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$ne_port" --cert "$pki/server.crt" --key "$pki/server.key" \
  --ca "$pki/ca.crt" --ne-id poi-1 --admf-id lisec-admf --state "$work/ne-tasks.json" \
  --strict-destinations 2>>"$work/ne.log" &
ne_pid=$!
cleanup_hooks+=("kill $ne_pid 2>/dev/null || true")
for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$ne_port) 2>/dev/null && break; sleep 0.1; done
ok 200 li-admin POST /v1/x1/nes "$(li_ne_json poi-1 "$ne_port" vm-li 192.0.2.200 ',"x1_version":"v1.21.1"')" >/dev/null
ok 201 li-admin POST /v1/targets '{"id":"t-1","authorisation":"li-1","identifiers":[{"kind":"ipv4","value":"192.0.2.1"}]}' >/dev/null
tasks() { ok 200 li-admin GET /v1/tasks | jq -c '[.tasks[] | {xid, state, want}]'; }
ne_xids() { jq -c '[.tasks[].xid] | sort' "$work/ne-tasks.json" 2>/dev/null || echo none; }
for _ in $(seq 1 100); do
  [ "$(tasks | jq -r '.[0].state')" = active ] && [ "$(ne_xids)" != none ] && [ "$(ne_xids)" != '[]' ] && break
  ok 200 li-admin POST /v1/tasks/reconcile >/dev/null
  sleep 0.2
done
[ "$(tasks | jq -r '.[0].state')" = active ] || fail "the task never became active: $(tasks)"
XIDS=$(ne_xids)
TASKS=$(tasks)
[ "$(jq -r '.[0].xid' <<<"$TASKS")" = "$(jq -r '.[0]' <<<"$XIDS")" ] || fail "lisecd's task $TASKS is not the NE's $XIDS"
grep -qi deactivate "$work/ne.log" && fail "the NE was told to deactivate before any restart: $(grep -i deactivate "$work/ne.log")"
pass "lisec-ne holds the LI's task $XIDS, active"

# ---- restarts ---------------------------------------------------------------
# relaunch: lisecd again on the same port, configuration and store.
relaunch() {
  for _ in $(seq 1 300); do (echo >/dev/tcp/127.0.0.1/$LISECD_PORT) 2>/dev/null || break; sleep 0.1; done
  "$build/cmd/lisecd/lisecd" -c "$work/lisecd.conf" 2>>"$work/lisecd.log" &
  LISECD_PID=$!
  for _ in $(seq 1 300); do
    as operator -o /dev/null "$LISECD_URL/healthz" 2>/dev/null && return 0
    kill -0 "$LISECD_PID" 2>/dev/null || { tail -n 30 "$work/lisecd.log" >&2; fail "lisecd exited at its restart"; }
    sleep 0.1
  done
  fail "lisecd did not answer /healthz after its restart"
}
appraised_at() { # N -> seconds of host N's newest appraisal
  local at
  at=$(show "$1" | jq -r '.lisec.last_appraisal_at // empty' 2>/dev/null)
  [ -n "$at" ] && date -d "$at" +%s || echo 0
}
# after_appraisals: a time (whole seconds, as appraisals are stored) later
# than both hosts' newest appraisal, so only a new one can reach it.
after_appraisals() {
  for _ in $(seq 1 30); do
    local now
    now=$(date +%s)
    [ "$now" -gt "$(appraised_at 1)" ] && [ "$now" -gt "$(appraised_at 2)" ] && { echo "$now"; return 0; }
    sleep 0.1
  done
  fail "the hosts' appraisals are dated in the future"
}
check_restart() { # HOW T0
  local how=$1 t0=$2
  # Two passes of the X1 loop (asked for) see the LI and its NE.
  ok 200 li-admin POST /v1/tasks/reconcile >/dev/null
  ok 200 li-admin POST /v1/tasks/reconcile >/dev/null
  ! grep -qi deactivate "$work/ne.log" || fail "after $how the NE was told: $(grep -i deactivate "$work/ne.log")"
  # The model holds the stored trust before any agent attests again.
  for n in 1 2; do
    [ "$(model_trust "$n")" = trusted ] || fail "after $how host $n is '$(model_trust "$n")' in the model, not trusted from its stored appraisal"
  done
  # Every agent attests again because lisecd asked it to.
  for n in 1 2; do
    for _ in $(seq 1 600); do [ "$(appraised_at "$n")" -ge "$t0" ] && break; sleep 0.1; done
    [ "$(appraised_at "$n")" -ge "$t0" ] || { tail "agent-$n.log" >&2; fail "after $how host $n did not attest again within 60 s"; }
  done
  ok 200 li-admin POST /v1/tasks/reconcile >/dev/null
  ! grep -qi deactivate "$work/ne.log" || fail "after $how the NE was told: $(grep -i deactivate "$work/ne.log")"
  [ "$(ne_xids)" = "$XIDS" ] || fail "after $how the NE holds $(ne_xids), not $XIDS"
  [ "$(tasks)" = "$TASKS" ] || fail "after $how lisecd's tasks are $(tasks), not $TASKS"
  for n in 1 2; do [ "$(model_trust "$n")" = trusted ] || fail "after $how host $n is $(model_trust "$n")"; done
}

t0=$(after_appraisals)
kill -TERM "$LISECD_PID"
wait "$LISECD_PID" || fail "lisecd did not stop cleanly on SIGTERM"
relaunch
check_restart "a SIGTERM restart" "$t0"
pass "SIGTERM restart: hosts trusted from their stored appraisals at once, the NE sent no Deactivate, XIDs unchanged, both agents attested again"

t0=$(after_appraisals)
kill -KILL "$LISECD_PID"
wait "$LISECD_PID" 2>/dev/null || true
relaunch
check_restart "a SIGKILL of lisecd's parent" "$t0"
pass "SIGKILL of the parent, then a start: the same (no Deactivate, XIDs unchanged, agents attested again)"

# ---- a host that attested before it was added to the model --------------------
tpm_use T3
run_agent 3
for _ in $(seq 1 600); do show 3 | jq -e '.lisec.trust == "trusted"' >/dev/null 2>&1 && break; sleep 0.1; done
show 3 | jq -e '.lisec.trust == "trusted"' >/dev/null 2>&1 || { tail agent-3.log >&2; fail "host 3 did not attest"; }
model operator host "{\"id\":\"${HID[3]}\",\"protection\":\"li\"}"
[ "$(model_trust 3)" = trusted ] || fail "host 3 attested before it was added and is '$(model_trust 3)' once added"
ok 200 operator GET "/v1/model/host/${HID[3]}" | jq -e '.state.trust_source == "attested" and .state.location.country == "FI"' >/dev/null ||
  fail "host 3's kept appraisal did not bring its attested location: $(ok 200 operator GET "/v1/model/host/${HID[3]}")"
pass "a host that attested before it was added to the model is trusted, with its attested location, as soon as it is added"
# a host whose appraisal the model does not hold: never "recent enough"
model operator host '{"id":"h-none","protection":"li"}'
model operator hypervisor '{"id":"hv-none","host":"h-none"}'
out=$(ok 200 mano POST /v1/decisions/placement '{"id":"vm-li-2","hypervisor":"hv-none","sensitivity":"li","domain":"li","paired":true}')
jq -e '.allow == false' <<<"$out" >/dev/null || fail "a placement of an LI VM on a host that never attested was allowed: $out"
grep -q 'recent enough' <<<"$out" && fail "a denial on a host with no appraisal says the newest appraisal is recent enough: $out"
pass "a placement on a host with no appraisal is denied without claiming a recent appraisal"

kill -TERM "$LISECD_PID"
wait "$LISECD_PID" || fail "lisecd did not stop cleanly"
LISECD_PID=
! grep -q Sanitizer "$work/lisecd.log" "$work/ne.log" || { grep -A20 Sanitizer "$work/lisecd.log" "$work/ne.log" >&2; fail "sanitizer report"; }
pass "lisecd stops cleanly"
