#!/usr/bin/env bash
# [attest] quarantine_timeout_s is a duration, and a wall clock stepped
# back while the quarantine command runs does not lengthen it (review of
# 2026-12-07). A real lisecd, one host with its swtpm and lisec-agent; the
# host is attested, its agent stops and the host turns untrusted:overdue.
# The quarantine command sleeps far longer than quarantine_timeout_s = 2;
# once it has started, lisecd's wall clock is stepped back an hour (as
# chrony steps a clock that ran ahead). The command must still be killed
# within the timeout (and a margin for a busy machine), and the kill
# recorded; timed by the wall clock, it lived on for the hour.
# The step is clock_step_shim's (LD_PRELOADed into lisecd: its
# clock_gettime(CLOCK_REALTIME) reads the kernel's clock plus the seconds
# in a file, from -3600 on after the step; the machine's clock is not
# touched), with the sandbox on. Not libfaketime (Debian's 0.9.10, with
# FAKETIME_TIMESTAMP_FILE, FAKETIME_NO_CACHE=1 and
# FAKETIME_DONT_FAKE_MONOTONIC=1): under it every timed wait on a condition
# variable of the monotonic clock returns at once, so lisecd's timer threads
# (attestation's, the audit checkpoints', the clock's) spin on both cores
# and the overdue host's quarantine did not run within 15 s in two runs of
# three: a test of libfaketime, not of lisecd.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/attest_lib.sh"
source "$src/tests/integration/lib/clock_step.sh"
cd "$work"
for tool in swtpm tpm2_pcrextend jq; do
  command -v $tool >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
TIMEOUT_S=2
MARGIN_S=10
# In a sanitizer build the shim alone is preloaded, the runtime told not to
# mind coming second: the quarantine command inherits LD_PRELOAD, and the
# runtime preloaded into it fails under lisecd's filter (setrlimit).
clock_step_env "$work/step" 0 alone

show() { as operator "$LISECD_URL/v1/hosts/${HID[$1]}/attestation"; }
hosts_up 1
# The command says its pid (the sleep's, after exec) once it runs.
cat >quarantine.sh <<SH
#!/bin/sh
echo \$\$ >$work/quarantine.pid
exec sleep 600
SH
chmod +x quarantine.sh
lisecd_env=("${clock_env[@]}")
start_lisecd "$pki" "[attest]" "reference_file = $work/ref.json" "location_ca = $work/am/ca.crt" \
  "interval_s = 3" "grace_s = 1" "check_ms = 200" "quarantine_command = $work/quarantine.sh" \
  "quarantine_timeout_s = $TIMEOUT_S" "[audit]" "li_admin_key = $work/li.pub"
# The command, when the test fails, is not left sleeping (before lisecd stops).
cleanup_hooks+=("[ -s '$work/quarantine.pid' ] && kill -KILL \$(cat '$work/quarantine.pid') 2>/dev/null")
run_agent 1
wait_trusted 1 agent-1.log
pass "host 1 attested: trusted in FI"

stop_agents 1
for _ in $(seq 1 300); do [ -s quarantine.pid ] && break; sleep 0.05; done
[ -s quarantine.pid ] || { tail lisecd.log >&2; fail "the quarantine command did not run for the overdue host"; }
qpid=$(cat quarantine.pid)
kill -0 "$qpid" 2>/dev/null || fail "the quarantine command ended before the clock was stepped"
step -3600 # chrony steps lisecd's clock back an hour
stepped=$(date +%s%N)
gone=no
for _ in $(seq 1 $(((TIMEOUT_S + MARGIN_S) * 20))); do
  kill -0 "$qpid" 2>/dev/null || { gone=yes; break; }
  sleep 0.05
done
took_ms=$((($(date +%s%N) - stepped) / 1000000))
[ $gone = yes ] ||
  fail "the quarantine command was not killed within quarantine_timeout_s = $TIMEOUT_S (+${MARGIN_S}s) of the wall clock's step back: alive ${took_ms} ms after it"
killed="attest.quarantine \\| failed .*did not finish within ${TIMEOUT_S}s and was killed"
for _ in $(seq 1 100); do [ "$(audit_count "$killed")" -ge 1 ] && break; sleep 0.1; done
[ "$(audit_count "$killed")" -ge 1 ] || fail "the kill of the quarantine command is not recorded (attest.quarantine failed)"
pass "the wall clock stepped back an hour while the quarantine command ran: killed at quarantine_timeout_s = $TIMEOUT_S all the same (${took_ms} ms after the step), recorded"
stop_clean
