# Shared by the LI confidentiality tests that compare what a role reads of
# a VM an LI names and of its twin (li_confid_*; sourced after common.sh):
# posting as a role, putting model entities, and the audit log as the
# operator reads it. The observation scripts (observe, k8s_claims) post
# with it too.

# post ROLE PATH JSON [curl args]: the body; the status on the last line.
post() {
  as "$1" "${@:4}" -H 'Content-Type: application/json' -d "$3" -w '\n%{http_code}\n' "$LISECD_URL$2"
}

# model_put ROLE KIND JSON: POST /v1/model/KIND, which must answer 201.
model_put() {
  local out
  out=$(post "$1" "/v1/model/$2" "$3")
  [ "$(echo "$out" | tail -n1)" = 201 ] || fail "model: POST $2: $out"
}

# entries FROM: the audit entries from FROM on as the operator reads them,
# one line each: index, sealed, and the printable runs of a clear entry's data.
entries() {
  as operator "$LISECD_URL/v1/audit/entries?from=$1&count=10000" | python3 -c '
import base64, json, re, sys
for e in json.load(sys.stdin)["entries"]:
    text = "" if e["sealed"] else re.sub(rb"[^ -~]+", b" | ", base64.b64decode(e["data"])).decode()
    print(e["index"], str(e["sealed"]).lower(), text)
' || fail "operator: the audit entries from $1 could not be read"
}

# size: the audit log's size as the operator reads it.
size() { as operator "$LISECD_URL/v1/audit/entries?from=0&count=1" | jq -er .size; }

# two_hosts: hosts 1 and 2 (hosts_up; attest_lib.sh): the PKI, asset
# management, the reference values and the hosts in the current directory,
# their ids in HID and their agents' pids to come in APID; with li.key and
# li.pub, the LI administration's audit keys.
two_hosts() { hosts_up 1 2; }

# two_hosts_trusted: both hosts' agents run against lisecd (run_agent),
# until both are trusted in FI; show N prints host N's attestation.
show() { as operator "$LISECD_URL/v1/hosts/${HID[$1]}/attestation"; }
two_hosts_trusted() {
  for n in 1 2; do run_agent "$n"; done
  for n in 1 2; do wait_trusted "$n" "agent-$n.log"; done
  pass "two hosts, each attested by its own swtpm and lisec-agent: trusted in FI"
}
