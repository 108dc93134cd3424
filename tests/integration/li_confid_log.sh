#!/usr/bin/env bash
# How many LI authorisations exist is the LI administration's to know (TR
# 103 308 §4.1): lisecd holds the example platform (examples/
# helsinki-london.json, one LI), then the same with a second LI on the same
# VMs, and starts from each. What an operator reads of lisecd's start (its
# log, /v1/status, /metrics) and what the auditor reads of compliance are
# the same for both, times, ports and process ids aside; li-admin's list of
# LI authorisations tells the two apart, so the platforms differ.
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/model.sh"

example=$src/examples/helsinki-london.json
pki=$work/pki
make_pki "$pki"
cd "$work"
lisec audit li-keygen li-audit.key li-audit.pub >/dev/null
conf=("[audit]" "li_admin_key = $work/li-audit.pub" "[model]" "allow_declared_trust = true")

start_lisecd "$pki" "${conf[@]}"
split_topology "$example" topo
put_topology topo
stop_lisecd
sqlite3 lisec.db ".backup one.db"
start_lisecd "$pki" "${conf[@]}"
jq -c '.lis[0] | .id = "li-fi-2"' "$example" >li2.json
lisec --server "$LISECD_URL" --pki "$pki" --role li-admin model put li li2.json >/dev/null ||
  fail "lisec model put li li-fi-2"
stop_lisecd
sqlite3 lisec.db ".backup two.db"

# observe NAME: starts lisecd from NAME.db and writes what non-LI roles
# read into NAME.seen (normalised), li-admin's LI list into NAME.lis.
observe() {
  cp "$1.db" lisec.db
  rm -f lisec.db-wal lisec.db-shm
  start_lisecd "$pki" "${conf[@]}"
  as li-admin "$LISECD_URL/v1/model/li" | jq -c '[.lis[].id]' >"$1.lis"
  {
    echo "## status"
    as operator "$LISECD_URL/v1/status" | jq -S 'del(.started_at, .uptime_seconds)'
    echo "## compliance"
    as auditor "$LISECD_URL/v1/compliance" | jq -S 'del(.time, .audit_index)'
    echo "## metrics"
    # gauges and counters of the platform (the HTTP and TLS counters and
    # timers count this test's own requests; two.db holds one audit entry
    # more, the second LI's put, which the auditor sees as an entry anyway)
    as operator "$LISECD_URL/metrics" | grep -v '^#' |
      grep -Ev '^lisec_(http|tls|connections|uptime|audit_checkpoint_lag|attest_appraisal_duration|audit_entries|audit_unsigned_entries)'
  } >"$1.seen"
  stop_lisecd
  # what the controller says when it starts (the processes' lines
  # interleave in any order, so each process's own)
  {
    echo "## log"
    grep -F ' [controller] ' lisecd.log | sed -n '1,/controller ready/p' | cut -d' ' -f2-
  } >>"$1.seen"
}
observe one
observe two
[ "$(cat one.lis)" = '["li-fi-1"]' ] && [ "$(cat two.lis)" = '["li-fi-1","li-fi-2"]' ] ||
  fail "li-admin's lists: $(cat one.lis) and $(cat two.lis)"
grep -q 'trust model loaded' one.seen || fail "lisecd's start log has no 'trust model loaded' line"
diff one.seen two.seen >&2 || fail "a non-LI role tells one LI authorisation from two (diff above)"
pass "operator's log, status and metrics and the auditor's compliance read the same with one LI or two"
echo "li_confid_log: all passed"
