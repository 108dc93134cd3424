# What x1_confid_model and x1_confid_trust set up and read alike, sourced
# after common.sh, twins.sh and li_topology.sh, in $work: a real lisec-ne as
# the NE poi-1 (its tasks in $work/ne-tasks.json), the LI li-1 with target
# t-1 whose monitored VM vm-target runs on one host and its twin vm-twin on
# another, and the reads that tell what changed: the NE's identifiers,
# t-1's state, the ADMF's announcements as li-admin opens them and the
# entries as the auditor reads them. Each test says in confid_leave and
# confid_skip which entries seen leaves out.

# confid_ne: lisec-ne as poi-1 (ADMF lisec-admf) on $ne_port; sets ne_pid.
confid_ne() {
  ne_port=$(free_port)
  "$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$ne_port" --cert "$pki/server.crt" --key "$pki/server.key" \
    --ca "$pki/ca.crt" --ne-id poi-1 --admf-id lisec-admf --state "$work/ne-tasks.json" 2>>ne.log &
  ne_pid=$!
  cleanup_hooks+=("kill $ne_pid 2>/dev/null || true")
  wait_port "$ne_port"
}

# confid_topology H1 H2: hv-1 on host H1 runs the monitored VM vm-target,
# hv-2 on H2 its twin vm-twin (lib/li_topology.sh's LI li-1, its LI and
# storage VMs on hel-1, declared trusted in FI); li-admin registers poi-1
# (vm-li) and adds t-1.
confid_topology() {
  local out
  model_put operator hypervisor "{\"id\":\"hv-1\",\"host\":\"$1\"}"
  model_put operator hypervisor "{\"id\":\"hv-2\",\"host\":\"$2\"}"
  li_topology hv=hv-c target_hv=hv-1
  model_put operator vm '{"id":"vm-twin","hypervisor":"hv-2","sensitivity":"general","domain":"tenant"}'
  out=$(post li-admin /v1/x1/nes "$(li_ne_json poi-1 "$ne_port" vm-li 192.0.2.9)")
  [ "$(echo "$out" | tail -n1)" = 200 ] || fail "li-admin: registering poi-1: $out"
  out=$(post li-admin /v1/targets '{"id":"t-1","authorisation":"li-1","identifiers":[{"kind":"imsi","value":"244051234567890"}]}')
  [ "$(echo "$out" | tail -n1)" = 201 ] || fail "li-admin: adding t-1: $out"
}

# ne_holds: the identifiers lisec-ne holds (its state file).
ne_holds() {
  python3 -c "import json;print(' '.join(sorted(v['value'] for t in json.load(open('$work/ne-tasks.json'))['tasks'] for v in t['targets'])))" 2>/dev/null
}
# holds IDS: until lisec-ne holds IDS (reading its file records nothing).
holds() {
  for _ in $(seq 1 150); do
    [ "$(ne_holds)" = "$1" ] && return 0
    sleep 0.1
  done
  fail "lisec-ne holds '$(ne_holds)', not '$1'"
}
# task_is STATE: t-1 on poi-1 is STATE as li-admin lists it (each listing
# is a sealed record: not inside a change's window).
task_is() {
  for _ in $(seq 1 50); do
    [ "$(as li-admin "$LISECD_URL/v1/tasks" | jq -r '.tasks[] | select(.target == "t-1" and .ne == "poi-1") | .state')" = "$1" ] &&
      return 0
    sleep 0.1
  done
  fail "t-1 on poi-1 is not $1: $(as li-admin "$LISECD_URL/v1/tasks")"
}

# opened FROM: the entries from FROM on as li-admin reads them, sealed ones opened (JSON).
opened() {
  lisec --server "$LISECD_URL" --pki "$pki" --role li-admin --json audit read --li-key li.key --from "$1" 2>read.err ||
    fail "li-admin: lisec audit read: $(cat read.err)"
}
# announced FROM: the reasons of the announcements from FROM on, one a line.
announced() {
  opened "$1" | jq -r '.entries[] | select(.sealed and .action == "x1.reconcile" and
    .subjects == ["tasks after the trust model changed"]) | .reasons | join(" ")'
}

# seen FROM: what the auditor reads of the entries from FROM on, one line
# each, sorted: "sealed LENGTH" or "clear ACTION OUTCOME" (decoded from the
# entry: an 18-byte header, then actor, role, action and outcome, each a
# 2-byte length and its bytes). Left out: the entries confid_leave (a jq
# condition on li-admin's opened view: the auditor cannot tell them) picks,
# and the clear ones whose "ACTION OUTCOME" confid_skip (a Python regular
# expression, from its start) matches.
seen() {
  opened "$1" | jq -r ".entries[] | select($confid_leave) | .index" >clock.idx
  as auditor "$LISECD_URL/v1/audit/entries?from=$1&count=10000" | CONFID_SKIP=$confid_skip python3 -c '
import base64, json, os, re, sys
clock = set(int(x) for x in open("clock.idx").read().split())
skip = re.compile(os.environ["CONFID_SKIP"])
out = []
for e in json.load(sys.stdin)["entries"]:
    if e["index"] in clock:
        continue
    d = base64.b64decode(e["data"])
    if e["sealed"]:
        out.append("sealed %d" % len(d))
        continue
    at, words = 18, []
    for _ in range(4):
        n = d[at] << 8 | d[at + 1]
        words.append(d[at + 2:at + 2 + n].decode())
        at += 2 + n
    if skip.match("%s %s" % (words[2], words[3])):
        continue
    out.append("clear %s %s" % (words[2], words[3]))
print("\n".join(sorted(out)))
' || fail "auditor: the audit entries from $1 could not be read"
}

# confid_after NAME FROM LINES STATE HOLDS: after a change made once the
# audit log was FROM long and lisecd.log LINES lines, until the ADMF's
# announcement is in the log (10 s at most) and the NE holds HOLDS. The
# announcements into NAME.said, what the auditor reads into NAME.seen,
# lisecd's log meanwhile into NAME.log; then t-1 on poi-1 must be STATE.
confid_after() {
  local name=$1 from=$2 lines=$3
  for _ in $(seq 1 100); do
    [ -n "$(announced "$from")" ] && break
    sleep 0.1
  done
  holds "$5"
  announced "$from" >"$name.said"
  seen "$from" >"$name.seen"
  tail -n +"$((lines + 1))" lisecd.log >"$name.log"
  task_is "$4"
}
