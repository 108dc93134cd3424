#!/usr/bin/env bash
# The deployment of docs/ha.md on loopback (issue 17 item 5): one etcd,
# Patroni managing two PostgreSQL (synchronous standby), three lisecd with
# [ha] on the multi-host URL, and HAProxy in front checking each one's probe
# /readyz. Under a continuous load through HAProxy (hypervisor writes, and
# migration decisions from three clients, ha_stack_load.py) and with an
# active X1 task on a real lisec-ne (an LI whose task the leader's X1 loop
# keeps), the lisecd leader is killed (SIGKILL) at a random point (a
# seeded delay after the load is acknowledged again; the seed is printed,
# HA_STACK_SEED replays it) as many times as fit HA_STACK_BUDGET_S (60 s
# of wall time, at least 6 kills, at most HA_STACK_KILLS = 20;
# bench/ha/stack runs 20), and Patroni's primary node once, at the third
# (Patroni and its PostgreSQL killed: Patroni promotes the standby). After
# each: exactly one leader (one /healthz 200 "leader", the others 503
# naming it), the load acknowledged through HAProxy again, every
# acknowledged write committed with its audit record, `lisec audit verify`
# passes online through HAProxy and offline, and the X1 task is still
# active with its XID on the NE, which was never told to deactivate it nor
# to activate it again (its log and state file), and host 1 (own swtpm,
# lisec-agent reporting through HAProxy all along) attested again and
# trusted without enrolling again. At the second kill a nonce the killed
# leader issued to host 2 is quoted by host 2's TPM and submitted to the
# next leader through HAProxy: accepted once, then refused (TR103308-5.1).
# The shared configuration is lib/ha.sh's. At the end every
# decision answered is checked against the committed state: its audit
# record is that decision with that outcome, after the record creating the
# hypervisor it was about, each audit index answered once, and no decision
# said "no hypervisor" about one whose creation had been acknowledged.
# Release build only: its C paths run under the sanitizer in ha_failover
# and ha_pg_promote; here they meet third-party processes, slow to start.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/attest_lib.sh"
source "$src/tests/integration/lib/ha.sh"
source "$src/tests/integration/lib/li_topology.sh"
release_only "ha_failover and ha_pg_promote (the same lock, fence and reconnect paths)"
for tool in patroni etcd haproxy psql openssl jq swtpm tpm2_pcrextend; do
  command -v $tool >/dev/null || { echo "SKIP: $tool not installed (scripts/bootstrap installs it)"; exit 77; }
done
/usr/bin/python3 -c 'import etcd, psycopg2' 2>/dev/null || { echo "SKIP: python3-etcd or python3-psycopg2 not installed"; exit 77; }
t_start=$(date +%s)
pki=$work/pki
make_pki "$pki"
stack=$(mktemp -d "$tmp_base/lisec-stack-XXXXXX")
cleanup_hooks+=("'$src/scripts/test/ha-stack-start' stop '$stack'")
"$src/scripts/test/ha-stack-start" pg "$stack" >/dev/null || fail "the Patroni stack did not start"
. "$stack/stack.env"
url=$STORE_URL
pass "etcd, Patroni's primary and synchronous standby up in $(($(date +%s) - t_start)) s"
ha_audit_key
# [ha] makes no key at start: the KEK (targets) and the LI administration's
# sealing key are provisioned beforehand, the same for every node
head -c 32 /dev/urandom >"$work/kek.bin" && chmod 600 "$work/kek.bin"
make_li_admin_key "$work/li"
lisec pki issue "$pki" admf operator lisec-admf >/dev/null || fail "pki issue admf"
# two hosts, each with its own swtpm: host 1's lisec-agent reports through
# HAProxy all along; host 2's is stopped once trusted, so the nonce test
# below uses its TPM alone
am_pki "$work/am"
(cd "$work" && evgen --log fw.bin --extends fw.txt --reference ref.json) || fail "evgen"
declare -A HID APID
for h in 1 2; do
  tpm_up "T$h"
  tpm_use "T$h"
  tpm_extend "$work/fw.txt"
  mkdir -p "$work/state-$h"
  cat >"$work/agent-$h.conf" <<CONF
[tpm]
tcti = $TPM2TOOLS_TCTI
pcrs = 0,1,2,3,4,5,6,7,8,15
[agent]
state_dir = $work/state-$h
eventlog = $work/fw.bin
poll_ms = 200
[server]
url = https://localhost:PORT
ca = $pki/ca.crt
cert = $pki/host-$h.crt
key = $pki/host-$h.key
CONF
  HID[$h]=$("$build/cmd/lisec-agent/lisec-agent" -c "$work/agent-$h.conf" host-id) || fail "host-id $h"
  lisec pki issue "$pki" "host-$h" host "${HID[$h]}" >/dev/null || fail "pki issue host-$h"
  issue_location "$work/am" "${HID[$h]}" "$(tpm_reset_count)" "$work/state-$h/location.cms"
done

declare -A PORT PID PROBE
ha_free_ports 6
for n in a b c; do
  PORT[$n]=${free[0]} PROBE[$n]=${free[1]}
  free=("${free[@]:2}")
  mapfile -t lines < <(ha_section "$n" "${PORT[$n]}")
  ha_conf "$work/$n.conf" "${PORT[$n]}" "${PROBE[$n]}" "$url" "$work/$n.vkey" "li_admin_key = $work/li.pub" \
    "[attest]" "reference_file = $work/ref.json" "location_ca = $work/am/ca.crt" "interval_s = 300" \
    "[vault]" "development_key_file = $work/kek.bin" "allow_development_key = true" \
    "[model]" "allow_declared_trust = true" "[keys]" "x1_key_dir = $pki" "${lines[@]}" "store_failover_ms = 30000"
done
start() { # NAME: a lisecd in the background (we are its supervisor)
  "$build/cmd/lisecd/lisecd" -c "$work/$1.conf" 2>>"$work/$1.log" &
  PID[$1]=$!
  cleanup_hooks+=("kill -TERM ${PID[$1]} 2>/dev/null; wait ${PID[$1]} 2>/dev/null")
}
alive() { local st; st=$(ps -o stat= -p "${PID[$1]}" 2>/dev/null) && [ "${st:0:1}" != Z ]; }
health() { # NAME -> status of its /healthz, body in $work/h-NAME.json
  as operator --max-time 5 -o "$work/h-$1.json" -w '%{http_code}' "https://localhost:${PORT[$1]}/healthz" 2>/dev/null || true
}
# one_leader: exactly one node answers 200 "leader" and every other one 503
# "standby" naming it (60 s ceiling); sets LEADER (no subshell: the nodes
# it may restart must stay this shell's children)
one_leader() {
  local n code leaders ok
  for _ in $(seq 1 600); do
    leaders=() ok=1
    for n in a b c; do
      if ! alive "$n"; then start "$n"; ok=0; continue; fi # a deposed one restarts as a standby, as systemd would
      code=$(health "$n")
      if [ "$code" = 200 ] && [ "$(jq -r .role "$work/h-$n.json")" = leader ]; then leaders+=("$n")
      elif [ "$code" != 503 ]; then ok=0; fi
    done
    [ "${#leaders[@]}" -le 1 ] || fail "two leaders at once: ${leaders[*]}"
    if [ "$ok" = 1 ] && [ "${#leaders[@]}" = 1 ]; then
      for n in a b c; do
        [ "$n" = "${leaders[0]}" ] || [ "$(jq -r .leader "$work/h-$n.json")" = "https://localhost:${PORT[${leaders[0]}]}" ] || ok=0
      done
      [ "$ok" = 1 ] && { LEADER=${leaders[0]}; return 0; }
    fi
    sleep 0.1
  done
  for n in a b c; do echo "--- $n" >&2; tail -5 "$work/$n.log" >&2; done
  fail "not exactly one leader and two standbys naming it within 60 s"
}
start a
for _ in $(seq 1 600); do [ "$(health a)" = 200 ] && break; alive a || break; sleep 0.1; done
start b
start c
one_leader
leader=$LEADER
front=$("$src/scripts/test/ha-stack-start" haproxy "$stack" "${PORT[a]}:${PROBE[a]}" "${PORT[b]}:${PROBE[b]}" \
  "${PORT[c]}:${PROBE[c]}") || fail "haproxy did not start"
H="https://localhost:$front"
post() { as operator -o "$work/p.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d "$2" "$H/v1/model/$1"; }
for e in 'host {"id":"hel-1","trust":"trusted","protection":"sensitive","location":{"country":"FI"}}' \
  'host {"id":"bad-1","trust":"untrusted","protection":"sensitive","location":{"country":"FI"}}' \
  'hypervisor {"id":"hv-hel-1","host":"hel-1"}' \
  'vm {"id":"vm-plain","hypervisor":"hv-hel-1","sensitivity":"general","domain":"core"}'; do
  code=000
  for _ in $(seq 1 100); do code=$(post "${e%% *}" "${e#* }"); [ "$code" = 201 ] && break; sleep 0.2; done
  [ "$code" = 201 ] || fail "through HAProxy: POST ${e%% *}: $code $(cat "$work/p.json")"
done
pass "three lisecd (leader $leader) behind HAProxy on :$front, the model through it, $(($(date +%s) - t_start)) s in"

# ---- an LI and its X1 task on lisec-ne -----------------------------------------------------------
li_api() { # WANT METHOD PATH [BODY]: through HAProxy as the LI administration (a few tries: a
  # connection may meet the moment HAProxy has no lisecd marked up)
  local want=$1 code=000 data=()
  [ -z "${4:-}" ] || data=(-H 'Content-Type: application/json' -d "$4")
  for _ in $(seq 1 50); do
    code=$(as li-admin -o "$work/li.json" -w '%{http_code}' -X "$2" "${data[@]}" "$H$3" 2>/dev/null) || code=000
    [ "$code" = "$want" ] && return 0
    case "$code" in 000 | 503) sleep 0.2 ;; *) break ;; esac
  done
  fail "through HAProxy: $2 $3: $code $(cat "$work/li.json" 2>/dev/null), not $want"
}
li_post() { # ROLE KIND JSON: li_topology's POSTs through HAProxy, the LI administration's with li_api's tries
  local code
  if [ "$1" = li-admin ]; then li_api 201 POST "/v1/model/$2" "$3"; return; fi
  code=$(post "$2" "$3")
  [ "$code" = 201 ] || fail "through HAProxy: POST $2: $code $(cat "$work/p.json")"
}
# lib/li_topology.sh's LI: its LI and storage VMs on li-h (hel-1's protection
# is sensitive), the monitored VM on hel-1
li_topology post=li_post host=li-h hv=hv-li target_hv=hv-hel-1
ne_port=$(free_port)
"$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$ne_port" --cert "$pki/server.crt" --key "$pki/server.key" \
  --ca "$pki/ca.crt" --ne-id poi-1 --admf-id lisec-admf --state "$work/ne-tasks.json" 2>>"$work/ne.log" &
ne_pid=$!
cleanup_hooks+=("kill $ne_pid 2>/dev/null; wait $ne_pid 2>/dev/null")
for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$ne_port) 2>/dev/null && break; sleep 0.1; done
li_api 200 POST /v1/x1/nes "$(li_ne_json poi-1 "$ne_port" vm-li 192.0.2.200 ',"x1_version":"v1.21.1"')"
li_api 201 POST /v1/targets '{"id":"t-1","authorisation":"li-1","identifiers":[{"kind":"ipv4","value":"192.0.2.1"}]}'
tasks() { li_api 200 GET /v1/tasks; jq -c '[.tasks[] | {xid, state}]' "$work/li.json"; }
ne_xids() { jq -c '[.tasks[].xid] | sort' "$work/ne-tasks.json" 2>/dev/null || echo none; }
for _ in $(seq 1 150); do
  [ "$(tasks | jq -r '.[0].state')" = active ] && [ "$(ne_xids)" != none ] && [ "$(ne_xids)" != '[]' ] && break
  li_api 200 POST /v1/tasks/reconcile
  sleep 0.2
done
TASKS=$(tasks)
XIDS=$(ne_xids)
[ "$(jq -r '.[0].state' <<<"$TASKS")" = active ] || fail "the X1 task never became active: $TASKS"
[ "$(jq -c '[.[].xid]' <<<"$TASKS")" = "$XIDS" ] || fail "lisecd's task $TASKS is not the NE's $XIDS"
ne_told() { # activate|deactivate: how many times the NE was told so (its log: "<change> <xid>")
  grep -cE "(^|[^a-z])$1 [0-9a-f]{8}-" "$work/ne.log" || true
}
[ "$(ne_told activate)" = 1 ] && [ "$(ne_told deactivate)" = 0 ] || fail "the NE's log before any kill: $(cat "$work/ne.log")"
x1_kept() { # WHEN: the task is active with its XID on both sides, the NE told nothing new
  li_api 200 POST /v1/tasks/reconcile # the new leader's X1 loop has met the NE
  [ "$(tasks)" = "$TASKS" ] || fail "$1: lisecd's tasks are $(tasks), not $TASKS"
  [ "$(ne_xids)" = "$XIDS" ] || fail "$1: the NE holds $(ne_xids), not $XIDS"
  [ "$(ne_told deactivate)" = 0 ] || fail "$1: the NE was told to deactivate: $(grep deactivate "$work/ne.log")"
  [ "$(ne_told activate)" = 1 ] || fail "$1: the NE was told to activate again: $(grep activate "$work/ne.log")"
}
pass "lisec-ne holds the LI's task $XIDS, active, set up through HAProxy"

# ---- attestations through HAProxy ------------------------------------------------------------------
for h in 1 2; do
  code=$(post host "{\"id\":\"${HID[$h]}\",\"protection\":\"general\"}")
  [ "$code" = 201 ] || fail "through HAProxy: POST host ${HID[$h]}: $code $(cat "$work/p.json")"
done
run_agent() { # N: its lisec-agent, reporting through HAProxy
  sed -i "s|^url = .*|url = $H|" "$work/agent-$1.conf"
  tpm_use "T$1"
  "$build/cmd/lisec-agent/lisec-agent" -c "$work/agent-$1.conf" run >>"$work/agent-$1.log" 2>&1 &
  APID[$1]=$!
  cleanup_hooks+=("kill ${APID[$1]} 2>/dev/null; wait ${APID[$1]} 2>/dev/null")
}
host_get() { # N: host N's attestation through HAProxy into $work/att.json; 0 when answered 200
  [ "$(as operator -o "$work/att.json" -w '%{http_code}' "$H/v1/hosts/${HID[$1]}/attestation" 2>/dev/null)" = 200 ]
}
appraised_at() { # N: the seconds of host N's newest appraisal (0 when none or not answered)
  local at=""
  host_get "$1" && at=$(jq -r '.lisec.last_appraisal_at // empty' "$work/att.json")
  [ -n "$at" ] && date -d "$at" +%s || echo 0
}
model_trust() { as operator "$H/v1/model/host/${HID[$1]}" 2>/dev/null | jq -r '.state.trust // empty' 2>/dev/null; }
attested_since() { # N T WHEN: host N appraised at or after T and trusted in the model (60 s ceiling)
  for _ in $(seq 1 600); do
    [ "$(appraised_at "$1")" -ge "$2" ] && [ "$(model_trust "$1")" = trusted ] && return 0
    sleep 0.1
  done
  tail -5 "$work/agent-$1.log" >&2
  fail "$3: host $1 not attested again and trusted within 60 s: $(model_trust "$1"), appraised $(appraised_at "$1"), not after $2"
}
enrolments() { grep -c 'enrolled as host' "$work/agent-$1.log" || true; }
t_att=$(date +%s)
for h in 1 2; do run_agent "$h"; done
for h in 1 2; do attested_since "$h" "$t_att" "at the start"; done
kill "${APID[2]}" && wait "${APID[2]}" 2>/dev/null
ENROL1=$(enrolments 1)
pass "two hosts (own swtpm, lisec-agent through HAProxy) enrolled and attested: trusted in the model; host 2's agent stopped"

# nonce_failover KILL-CMD: a nonce issued by the leader before KILL-CMD is
# accepted once by the next one and refused the second time (TR103308-5.1)
nonce_failover() {
  local nonce code=000
  for _ in $(seq 1 100); do # a connection HAProxy drops meanwhile: a few tries
    code=$(as host-2 -o "$work/nonce.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
      -d "{\"host\":\"${HID[2]}\"}" "$H/v1/attest/nonce" 2>/dev/null) || code=000
    case "$code" in 000 | 503) sleep 0.2 ;; *) break ;; esac
  done
  [ "$code" = 201 ] || fail "nonce from the leader: $code $(cat "$work/nonce.json" 2>/dev/null)"
  nonce=$(jq -r .nonce "$work/nonce.json")
  "$@"
  tpm_use T2
  rm -rf "$work/q2"
  "$build/cmd/lisec-agent/lisec-agent" -c "$work/agent-2.conf" quote --nonce "$nonce" --out "$work/q2" 2>"$work/q2.err" ||
    fail "quote with the old leader's nonce: $(cat "$work/q2.err")"
  jq -n --arg host "${HID[2]}" --arg nonce "$nonce" --arg q "$(base64 -w0 "$work/q2/quote.msg")" \
    --arg s "$(base64 -w0 "$work/q2/quote.sig")" --arg p "$(base64 -w0 "$work/q2/quote.pcrs")" \
    --arg l "$(base64 -w0 "$work/q2/eventlog.bin")" --arg c "$(base64 -w0 "$work/q2/location.cms")" \
    '{host:$host, nonce:$nonce, quote:$q, signature:$s, pcrs:$p, eventlog:$l, location:$c}' >"$work/q2/evidence.json"
  submit() {
    local c=000
    for _ in $(seq 1 100); do # the moment no lisecd is up through HAProxy: a few tries
      c=$(as host-2 -o "$work/ev.json" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary "@$work/q2/evidence.json" "$H/v1/attest/evidence" 2>/dev/null) || c=000
      case "$c" in 000 | 503) sleep 0.2 ;; *) break ;; esac
    done
    echo "$c"
  }
  code=$(submit)
  [ "$code" = 200 ] && [ "$(jq -r .trust "$work/ev.json")" = trusted ] ||
    fail "the old leader's nonce at the new leader: $code $(cat "$work/ev.json"), not 200 trusted"
  # the replay is appraised and fails (the host is then untrusted): an answer, not an HTTP refusal
  code=$(submit)
  [ "$code" = 200 ] && [ "$(jq -r .verified "$work/ev.json")" = false ] &&
    jq -r '.reasons[]' "$work/ev.json" | grep -q '^TR103308-5.1: nonce already used' ||
    fail "the same nonce a second time: $code $(cat "$work/ev.json"), not refused naming TR103308-5.1"
}

mkdir "$work/load"
: >"$work/load/acked"
python3 "$src/tests/integration/ha_stack_load.py" load "$front" "$pki" "$work/load" 2>"$work/load.err" &
loader=$!
cleanup_hooks+=("touch '$work/load/stop'; wait $loader 2>/dev/null")
acked() { wc -l <"$work/load/acked"; }
progress() { # N more acknowledged writes through HAProxy (60 s ceiling)
  local want=$(($(acked) + $1))
  for _ in $(seq 1 600); do [ "$(acked)" -ge "$want" ] && return 0; sleep 0.1; done
  fail "the load made no progress through HAProxy: $(acked) acknowledged, wanted $want ($(tail -2 "$work/load/writes" | tr '\n' ' '))"
}
all_stored() { # WHEN: every write acknowledged so far committed, with its audit record
  local ids n want
  cp "$work/load/acked" "$work/acked.now" # the load goes on meanwhile
  want=$(wc -l <"$work/acked.now")
  [ "$want" -gt 0 ] || return 0
  ids=$(sed "s/.*/'&'/" "$work/acked.now" | paste -sd,)
  n=$(psql -qtAX "$url" -c "SELECT count(*) FROM unnest(ARRAY[$ids]) AS i WHERE EXISTS (SELECT 1 FROM documents
        WHERE kind = 'model.hypervisor' AND id = i) AND EXISTS (SELECT 1 FROM audit_log WHERE sealed = 0
        AND position(convert_to('hypervisor ' || i, 'UTF8') || '\\x00'::bytea in data) > 0)")
  [ "$n" = "$want" ] || fail "$1: $n of $want acknowledged writes are committed with their audit record"
  STORED=$want
}
verify() { # WHEN: online through HAProxy and offline
  # through HAProxy a connection may meet the moment no lisecd is marked up
  # (a check missed under load): tries for up to 60 s; a refusal of the log itself
  # fails at once
  local until=$(($(date +%s) + 60)) ok=0
  while [ "$(date +%s)" -le "$until" ]; do
    if lisec --server "$H" --pki "$pki" --role auditor audit verify --pubkey "$work/a.vkey" \
      --state "$work/st.json" >"$work/v1.out" 2>&1; then ok=1; break; fi
    grep -q 'TLS handshake failed\|cannot connect\|503' "$work/v1.out" ||
      { cat "$work/v1.out"; fail "$1: online verify through HAProxy"; }
    sleep 0.5
  done
  [ "$ok" = 1 ] || { cat "$work/v1.out"; fail "$1: online verify through HAProxy: no leader reached in 60 s"; }
  lisec audit verify --db "$url" --pubkey "$work/a.vkey" >"$work/v2.out" 2>&1 ||
    { cat "$work/v2.out"; fail "$1: offline verify"; }
}
kills_max=${HA_STACK_KILLS:-20} budget=${HA_STACK_BUDGET_S:-60} seed=${HA_STACK_SEED:-$(($(date +%s%N) % 32768))}
[ "$kills_max" -ge 6 ] || fail "HA_STACK_KILLS=$kills_max: at least 6"
RANDOM=$seed
echo "kills: seed $seed (HA_STACK_SEED=$seed replays the kill points), at most $kills_max, budget $budget s"
progress 5
round=0 fo_ms=()
while :; do
  round=$((round + 1))
  t_round=$(date +%s)
  # a random point: a bounded, seeded delay after the load was acknowledged again
  delay_ms=$((RANDOM % 1500))
  sleep "$((delay_ms / 1000)).$(printf '%03d' $((delay_ms % 1000)))"
  if [ "$round" = 3 ]; then
    t0=$(date +%s%N)
    killed_pg=$("$src/scripts/test/ha-stack-start" kill-primary "$stack") || fail "no Patroni primary to kill"
    what="Patroni's primary (node pg$killed_pg killed)"
  else
    kill_leader() {
      kill -KILL "${PID[$leader]}"
      t0=$(date +%s%N) # failover is timed from the kill, the nonce test's quote included
      wait "${PID[$leader]}" 2>/dev/null || true
      start "$leader" # back as a standby, as its supervisor would
    }
    if [ "$round" = 2 ]; then nonce_failover kill_leader; else kill_leader; fi
    what="lisecd leader $leader killed"
    [ "$round" != 2 ] || what="$what with a nonce it issued outstanding (accepted once by the next leader, then refused)"
  fi
  t_kill=$((t0 / 1000000000))
  progress 5
  ms=$((($(date +%s%N) - t0) / 1000000))
  # Patroni's failover and the nonce round (its quote runs in the gap) are not a lisecd failover figure
  [ "$round" = 3 ] || [ "$round" = 2 ] || fo_ms+=("$ms")
  one_leader
  leader=$LEADER
  all_stored "after round $round"
  verify "after round $round"
  x1_kept "after round $round"
  # a new leader asks every enrolled host to attest again at once (interval 300 s)
  if [ "$round" = 3 ]; then attested_since 1 0 "after round $round"; else attested_since 1 "$t_kill" "after round $round"; fi
  [ "$(enrolments 1)" = "$ENROL1" ] || fail "after round $round host 1's agent enrolled again: $(grep 'enrolled as host' "$work/agent-1.log")"
  pass "round $round ($delay_ms ms after the load resumed), $what: the load acknowledged again through HAProxy within $ms ms; one leader ($leader), two standbys; all $STORED writes acknowledged so far stored with their records; audit verifies online and offline; the X1 task active on the NE, no deactivate, no second activate; host 1 attested again and trusted without enrolling again"
  # as many as fit the budget: another round only if one as long as this one still fits
  took=$(($(date +%s) - t_round))
  [ "$round" -lt 6 ] || { [ "$round" -lt "$kills_max" ] && [ $(($(date +%s) - t_start + took)) -le "$budget" ]; } || break
done
sorted=$(printf '%s\n' "${fo_ms[@]}" | sort -n)
pass "$round kills (seed $seed): $((round - 1)) of the lisecd leader, failover through HAProxy (rounds but 2 and 3) p50 $(sed -n "$(((${#fo_ms[@]} + 1) / 2))p" <<<"$sorted") ms, max $(tail -1 <<<"$sorted") ms; Patroni's primary once"
touch "$work/load/stop"
wait $loader || fail "the load failed: $(tail -3 "$work/load.err")"
cat "$work/load"/decisions.* >/dev/null
summary=$(python3 "$src/tests/integration/ha_stack_load.py" check "$work/load" "$url" 2>&1) || fail "$summary"
pass "$summary"
verify "at the end"
promoted=$((3 - killed_pg))
for _ in $(seq 1 100); do [ "$("$src/scripts/test/ha-stack-start" primary "$stack")" = "$promoted" ] && break; sleep 0.3; done
[ "$("$src/scripts/test/ha-stack-start" primary "$stack")" = "$promoted" ] ||
  fail "Patroni's primary is not the promoted pg$promoted"
for n in a b c; do ! grep -q Sanitizer "$work/$n.log" || { cat "$work/$n.log" >&2; fail "sanitizer report in $n"; }; done
pass "done in $(($(date +%s) - t_start)) s"
