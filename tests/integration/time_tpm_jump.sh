#!/usr/bin/env bash
# The TPM fleet check of trusted time (docs/time.md, "TPM clocks") end to
# end: a real chronyd synchronised over NTS proves lisecd's clock, and
# lisec-agent on a software TPM attests every second, so lisecd tracks the
# difference between that TPM's clock and its own ([time] tpm_min_hosts =
# 1: the host is the fleet). The TPM's clock is then set one hour ahead
# (tpm2_setclock, as the owner may): against it the controller's clock
# looks as if it jumped an hour back. Checked: lisecd finds the jump
# (time unproven, naming it, recorded as time.jump); and, as the page
# promises, the next round of appraisals measures from the new baseline and
# ends it (proven again, time.agree recorded) — which needs the agent's
# nonces and appraisals to go on while the jump holds time unproven.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/attest_lib.sh"
command -v chronyd >/dev/null || [ -x /usr/sbin/chronyd ] || { echo "SKIP: chronyd not installed (Debian chrony)"; exit 77; }
cd "$work"
chrony=$src/scripts/test/chrony-start
pki=$work/pki
agent_bin="$build/cmd/lisec-agent/lisec-agent"
make_pki "$pki"

# ---- chronyd: a local NTS server and one client of it -------------------------
cleanup_hooks+=("'$chrony' stop '$work/ntp-server'" "'$chrony' stop '$work/ntp-nts'")
read -r ntp nts < <("$chrony" server "$work/ntp-server" "$pki/server.crt" "$pki/server.key") ||
  fail "the NTS server did not start"
"$chrony" client "$work/ntp-nts" "$ntp" "$nts" "$pki/ca.crt" nts >/dev/null ||
  fail "the chronyd client did not synchronise"

# ---- lisecd and one host ----------------------------------------------------------
mkdir -m 700 run
am_pki am
evgen --log fw.bin --extends fw.txt --reference ref.json
agent_host 1 "[agent]" "interval_s = 1"
start_lisecd "$pki" "[attest]" "reference_file = $work/ref.json" "[time]" "source = chrony" \
  "chrony_socket = $work/ntp-nts/chronyd.sock" "reply_socket = $work/run/chrony-reply.sock" \
  "poll_ms = 100" "stale_ms = 5000" "tpm_min_hosts = 1" "tpm_jump_ms = 10000"
sed -i "s|^url = .*|url = $LISECD_URL|" agent-1.conf
status() { as operator "$LISECD_URL/v1/status"; }
# wait_clock JQ-CONDITION WHAT: /v1/status's clock meets the condition within 60 s
wait_clock() {
  for _ in $(seq 1 600); do
    status | jq -e ".clock | $1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  tail -5 agent-1.log >&2 || true
  fail "$2: $(status | jq -c .clock)"
}
run_agent() {
  "$agent_bin" -c "$work/agent-1.conf" run >>agent-1.log 2>&1 &
  AGENT_PID=$!
  cleanup_hooks+=("kill $AGENT_PID 2>/dev/null || true")
}
stop_agent() { kill "$AGENT_PID" 2>/dev/null || true; wait "$AGENT_PID" 2>/dev/null || true; }

run_agent
wait_clock '.proven == true and .tpm.hosts_compared == 1 and .tpm.fleet_jump == false' \
  "the host's TPM clock was not tracked against a proven clock"
pass "proven over NTS, the host's TPM clock tracked (a fleet of one)"

# ---- the TPM's clock one hour ahead ------------------------------------------------
stop_agent
tpm_use T1
now=$(tpm2_readclock | awk '/^ *clock:/ {print $2; exit}')
[ -n "$now" ] || fail "tpm2_readclock"
tpm2_setclock $((now + 3600000)) >/dev/null || fail "tpm2_setclock"
run_agent
wait_clock '.proven == false and .tpm.fleet_jump == true and (.reason | test("moved -3[56][0-9]{5} ms [(]median[)] against the controller.s clock"))' \
  "a TPM clock one hour ahead was not seen as the controller's clock jumping"
pass "the TPM clock one hour ahead: the controller's clock jumped against it, time unproven"

# ---- the next round agrees -------------------------------------------------------
wait_clock '.proven == true and .tpm.fleet_jump == false' \
  "the next round of appraisals did not end the jump (nonces and appraisals refused while it holds?)"
stop_agent
records() { python3 -c 'import sqlite3, sys
for (d,) in sqlite3.connect(sys.argv[1]).execute("SELECT data FROM audit_log WHERE sealed = 0"):
    print("".join(chr(b) if 32 <= b < 127 else " " for b in d))' "$work/lisec.db"; }
# read whole first: grep -q leaving early would break python's pipe (pipefail)
records >records.txt
grep -q 'time.jump.*the controller.s clock jumped' records.txt || fail "no time.jump record"
grep -q 'time.agree.*agree with the controller.s clock again' records.txt || fail "no time.agree record"
pass "the next round of appraisals measures from the new baseline: proven again, time.jump and time.agree recorded"

stop_lisecd
if grep -q 'Sanitizer' lisecd.log; then cat lisecd.log >&2; fail "lisecd reported a sanitizer error"; fi
