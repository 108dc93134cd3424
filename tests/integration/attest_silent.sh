#!/usr/bin/env bash
# A host going silent answers every decision parked on it then (bench/README,
# "round 1's decisions waited for quotes the bench's hosts never sent"): a
# real lisecd with 2 workers, [attest] fresh_wait_ms = 4000 and
# attestation_max_age_s = 1, four hosts each with its own software TPM and
# lisec-agent, all attested, then the agents of hosts 1, 3 and 4 stopped.
# Decision D1 (a VM no LI involves) onto host 1 is parked; a second later
# D6 onto host 3, D2 (the LI VM, as li-admin), D3 (another VM no LI
# involves), a filter K over hv-1 and hv-3 and a filter K2 over hv-1 and
# hv-4 are sent, and host 3's agent is started again. Host 1 lets D1's bound
# pass, so it is silent from then on: D2 and D3 are answered then, both
# denied (TR103308-6.2-MOVE2, as is D1: without a fresh quote a host is
# trusted for no VM), saying (the note, the denial's sentence) that the
# host did not attest within the bound of being asked and that they waited
# less than the bound, by about the second they came after D1. D6 and K are answered from host 3's
# fresh quote (K once host 1 went silent, with the same words for hv-1);
# K2 waits its own bound for host 4, which never reports. A decision after
# that is answered at once, saying when host 1 was last asked.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/attest_lib.sh"
source "$src/tests/integration/lib/li_topology.sh"
cd "$work"
BOUND_MS=4000

# Hosts 1-4 with hv-1 to hv-4 attested; lib/li_topology.sh's LI, its VMs
# unpaired, on host 2's hv-2b (host 2's agent keeps running).
show() { as operator "$LISECD_URL/v1/hosts/${HID[$1]}/attestation"; }
fresh_hosts $BOUND_MS 2
post() { # post ROLE PATH JSON OUT: the reply's body into OUT, fails unless 200
  as "$1" -H 'Content-Type: application/json' -d "$3" -w '\n%{http_code}\n' "$LISECD_URL$2" >"$4.out" ||
    fail "$2 as $1: curl failed"
  [ "$(tail -n1 "$4.out")" = 200 ] || { cat "$4.out" >&2; fail "$2 as $1 ($4): not 200"; }
  sed '$d' "$4.out" >"$4"
}
for n in 1 3 4; do
  kill -TERM "${APID[$n]}"
  wait "${APID[$n]}" || true
done
for n in 1 3 4; do stale "$n"; done
pass "four hosts attested with their own swtpm and lisec-agent; the agents of hosts 1, 3 and 4 stopped, their appraisals stale"

# asked N: whether lisecd asks host N for a fresh quote now (its challenge,
# as the host's agent polls it).
asked() {
  as "host-$1" -H 'Content-Type: application/json' -d "{\"host\":\"${HID[$1]}\"}" \
    "$LISECD_URL/v1/attest/challenge" | jq -e '.why == "a decision needs a fresh attestation"' >/dev/null
}
until_asked() {
  for _ in $(seq 1 100); do asked "$1" && return 0; sleep 0.05; done
  fail "host $1 was never asked for a fresh quote ($2)"
}
general() { printf '{"id":"%s","hypervisor":"%s","sensitivity":"general","domain":"tenant"}' "$1" "$2"; }
pod='{"metadata":{"name":"li-pod","namespace":"li","annotations":{"lisec.io/vm":"vm-li"}}}'

t_before=$(date -u +%s)
post mano /v1/decisions/placement "$(general vm-d1 hv-1)" d1.json &
d1=$!
until_asked 1 "D1 onto hv-1"
t_after=$(date -u +%s)
# The second group comes a second after D1 was parked: the scenario's
# spacing (a later client), not a wait for something to happen. D6 first,
# alone on host 3, so that it is parked before host 3's agent runs again.
sleep 1
post mano /v1/decisions/placement "$(general vm-d6 hv-3)" d6.json &
d6=$!
until_asked 3 "D6 onto host 3"
post li-admin /v1/decisions/migration '{"vm":"vm-li","hypervisor":"hv-1"}' d2.json &
d2=$!
post mano /v1/decisions/placement "$(general vm-d3 hv-1)" d3.json &
d3=$!
post mano /k8s/filter "{\"Pod\":$pod,\"NodeNames\":[\"hv-1\",\"hv-3\"]}" k.json &
k=$!
post mano /k8s/filter "{\"Pod\":$pod,\"NodeNames\":[\"hv-1\",\"hv-4\"]}" k2.json &
k2=$!
until_asked 4 "K2 onto host 4"
run_agent 3
for p in $d1 $d2 $d3 $k $k2 $d6; do wait "$p" || fail "a decision request failed"; done

# waited FILE JQ_PATH: the ms the text at JQ_PATH says its decision waited,
# failing unless it says host 1 (or 4) did not attest within the bound.
waited() {
  local text
  text=$(jq -r "$2" "$1")
  [[ $text =~ did\ not\ attest\ within\ ${BOUND_MS}ms\ of\ being\ asked\;\ this\ decision\ waited\ ([0-9]+)ms ]] ||
    { cat "$1" >&2; fail "$1: $2 does not say the host did not attest within ${BOUND_MS}ms of being asked and how long the decision waited: $text"; }
  echo "${BASH_REMATCH[1]}"
}
note_head="no fresh attestation of host ${HID[1]}: " note_end="; denied (fail closed)"
for f in d1.json d3.json; do
  jq -e --arg head "$note_head" --arg tail "$note_end" '.allow == false and
    ([.violations[].requirement] == ["TR103308-6.2-MOVE2"]) and
    .attestation.fresh_quote == false and .attestation.required == true and
    (.attestation.note | startswith($head) and endswith($tail))' "$f" >/dev/null ||
    { cat "$f" >&2; fail "$f: no fresh quote, yet not denied under MOVE2 with a note naming host 1 and the denial"; }
done
w1=$(waited d1.json .attestation.note)
w3=$(waited d3.json .attestation.note)
jq -e '.allow == false and .attestation.required == true' d2.json >/dev/null ||
  { cat d2.json >&2; fail "D2: the LI VM was not denied without a fresh quote"; }
w2=$(waited d2.json '[.violations[].sentence | select(test("TR103308-5.1"))] | first')
jq -e '[.violations[].sentence] | any(test("TR103308-5.1: host [0-9a-f]+: attestation older than 1s, and the host.s agent did not attest within"))' d2.json >/dev/null ||
  { cat d2.json >&2; fail "D2: the denial's sentence is not attestation's"; }
[ "$w1" -ge $((BOUND_MS - 200)) ] || fail "D1 says it waited ${w1}ms, less than its bound ${BOUND_MS}ms"
for d in "D2 $w2" "D3 $w3"; do
  read -r name w <<<"$d"
  [ "$w" -lt "$BOUND_MS" ] && [ $((w1 - w)) -ge 500 ] ||
    fail "$name, sent a second after D1 and parked on the same host, says it waited ${w}ms (D1 ${w1}ms, the bound ${BOUND_MS}ms): it was not answered when D1's bound made the host silent"
done
pass "D2 (an LI VM) and D3 (a VM no LI involves), parked on host 1 a second after D1: both denied, answered when D1's bound made the host silent, after ${w2}ms and ${w3}ms (D1 ${w1}ms, the bound ${BOUND_MS}ms); the note and the denial say so alike"

jq -e '.allow == true and .attestation.fresh_quote == true and
  .attestation.note == "a fresh quote was obtained for this decision"' d6.json >/dev/null ||
  { cat d6.json >&2; fail "D6: host 3 attested while it waited, yet it was not decided from that quote"; }
jq -e '.NodeNames == ["hv-3"] and (.FailedNodes | keys) == ["hv-1"]' k.json >/dev/null ||
  { cat k.json >&2; fail "K: hv-3 not kept from its fresh quote, or hv-1 not refused"; }
wk=$(waited k.json '.FailedNodes["hv-1"]')
[ "$wk" -lt "$BOUND_MS" ] && [ $((w1 - wk)) -ge 500 ] ||
  fail "K (hv-3 attested, hv-1 silent) says it waited ${wk}ms (D1 ${w1}ms): not answered when host 1 went silent"
pass "a host that attests while decisions wait: D6 decided from its fresh quote; K kept hv-3 from it and was answered when host 1 went silent (${wk}ms)"

jq -e '.NodeNames == [] and (.FailedNodes | keys) == ["hv-1", "hv-4"]' k2.json >/dev/null ||
  { cat k2.json >&2; fail "K2: hv-1 and hv-4 not both refused"; }
wa=$(waited k2.json '.FailedNodes["hv-1"]')
wb=$(waited k2.json '.FailedNodes["hv-4"]')
[ "$wa" -ge $((BOUND_MS - 200)) ] && [ "$wb" -ge $((BOUND_MS - 200)) ] ||
  fail "K2 says it waited ${wa}ms and ${wb}ms: host 1's silence ended its wait while host 4 was still asked within its bound"
pass "K2, parked on host 1 and host 4 (never reporting): host 1's silence did not end its wait, its own bound did (${wb}ms)"

# After: answered at once, saying when host 1 was last asked (D1's ask).
post mano /v1/decisions/placement "$(general vm-d7 hv-1)" d7.json
post li-admin /v1/decisions/migration '{"vm":"vm-li","hypervisor":"hv-1"}' d8.json
silent_re="the host's agent gave no fresh quote when last asked \\(at ([0-9]{2}):([0-9]{2}):([0-9]{2}) UTC, within ${BOUND_MS}ms\\); this decision did not wait, nor does any until it attests again"
text=$(jq -r .attestation.note d7.json)
[[ $text =~ ^${note_head}${silent_re}\;\ denied\ \(fail\ closed\)$ ]] ||
  { cat d7.json >&2; fail "D7, onto the silent host: the note does not say it was not waited for and when it was asked: $text"; }
at=$((10#${BASH_REMATCH[1]} * 3600 + 10#${BASH_REMATCH[2]} * 60 + 10#${BASH_REMATCH[3]}))
[ $(((at - t_before % 86400 + 86400) % 86400)) -le $((t_after - t_before)) ] ||
  fail "D7's note names ${BASH_REMATCH[1]}:${BASH_REMATCH[2]}:${BASH_REMATCH[3]} UTC; D1 asked between $(date -u -d "@$t_before" +%T) and $(date -u -d "@$t_after" +%T)"
text=$(jq -r '[.violations[].sentence | select(test("TR103308-5.1"))] | first' d8.json)
[[ $text =~ TR103308-5.1:\ host\ ${HID[1]}:\ attestation\ older\ than\ 1s,\ and\ ${silent_re}$ ]] ||
  { cat d8.json >&2; fail "D8, the LI VM onto the silent host: the denial does not read as D7's note: $text"; }
pass "a decision onto the silent host afterwards: answered at once, its note and the LI VM's denial naming D1's ask ($(date -u -d "@$t_before" +%T)) and that none waits until it attests"
