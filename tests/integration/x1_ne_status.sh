#!/usr/bin/env bash
# lisecd keeps each NE's X1 status (issue 24) against a real lisec-ne:
# destinations the NE holds that its registration does not name are removed
# (those it names, created by lisec or by the NE's operator, stay); an NE's
# Keepalive, ReportNEIssue and ReportDestinationIssue (ETSI XML on
# /v1/x1/admf, each answer valid against ETSI's schema) show in
# GET /v1/x1/nes/{id} and `lisec task ne-status`; an NE silent longer than
# [x1] keepalive_timeout_s shows as unreachable and is reachable again at
# its next Keepalive, each change logged once; only li-admin reads the
# status, every other role gets 403 naming no NE.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
xsd=$src/src/x1/etsi-x1-schema/X1-all.xsd
data=$src/tests/data/x1
pki=$work/pki
make_pki "$pki"
lisec pki issue "$pki" admf operator admf-1 >/dev/null
lisec pki issue "$pki" poi-hel-1 host poi-hel-1 >/dev/null
lisec audit li-keygen "$work/li-admin.key" "$work/li-admin.pub" >/dev/null
wait_for() { # SECONDS COMMAND...: until the command succeeds
  local n=$(($1 * 10))
  shift
  for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
  return 1
}

ne_port=$(free_port)
"$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$ne_port" --cert "$pki/server.crt" --key "$pki/server.key" \
  --ca "$pki/ca.crt" --ne-id poi-hel-1 --admf-id admf-1 --state "$work/ne.json" --strict-destinations \
  2>>"$work/ne.log" &
ne_pid=$!
cleanup_hooks+=("kill $ne_pid 2>/dev/null; wait $ne_pid 2>/dev/null || true")
wait_for 10 bash -c "echo >/dev/tcp/127.0.0.1/$ne_port" 2>/dev/null || fail "lisec-ne does not listen"
to_ne() { # FILE: a request to lisec-ne as the ADMF
  curl -sS --cacert "$pki/ca.crt" --cert "$pki/admf.crt" --key "$pki/admf.key" -H 'Content-Type: application/xml' \
    --data-binary @"$1" "https://localhost:$ne_port/X1/NE" | grep -q 'CreateDestinationResponse' || fail "POST $1 to lisec-ne"
}
# two destinations lisecd did not create: one its registration names (the
# NE operator's), one it does not
stray=0b5d9b3a-8c9e-4d8b-9a55-5d8f1e2a3b4c own=1c6e0f3a-2b4d-4e5f-8a9b-0c1d2e3f4a5b made=2d7f1a4b-3c5e-4f60-9b0c-1d2e3f4a5b6c
to_ne "$data/valid_create_destination.xml"
sed "s/$stray/$own/" "$data/valid_create_destination.xml" >"$work/own.xml"
to_ne "$work/own.xml"

start_lisecd "$pki" "[keys]" "x1_key_dir = $pki" "[audit]" "li_admin_key = $work/li-admin.pub" "[x1]" "keepalive_timeout_s = 2"
api() { # ROLE METHOD PATH [BODY] -> body, then the status on the last line
  if [ $# -ge 4 ]; then as "$1" -X "$2" -w '\n%{http_code}' -H 'Content-Type: application/json' -d "$4" "$LISECD_URL$3"
  else as "$1" -X "$2" -w '\n%{http_code}' "$LISECD_URL$3"; fi
}
ok() { # STATUS ROLE METHOD PATH [BODY]
  local want=$1 out
  shift
  out=$(api "$@")
  [ "${out##*$'\n'}" = "$want" ] || fail "$2 $3 -> ${out##*$'\n'} (want $want): ${out%$'\n'*}"
  printf '%s' "${out%$'\n'*}"
}
field() { python3 -c "import json,sys;d=json.load(sys.stdin)
for k in sys.argv[1].split('.'): d=d[k]
print(str(d).lower() if isinstance(d,bool) else d)" "$1"; }
status() { ok 200 li-admin GET /v1/x1/nes/poi-hel-1 | field "$1"; }
ne_dids() { python3 -c "import json;print(' '.join(sorted(d['did'] for d in json.load(open('$work/ne.json'))['destinations'])))"; }

ok 200 li-admin POST /v1/x1/nes "{\"id\":\"poi-hel-1\",\"url\":\"https://localhost:$ne_port/X1/NE\",\"vm\":\"vm-li\",
  \"admf_id\":\"admf-1\",\"cert\":\"$pki/admf.crt\",\"key\":\"$pki/admf.key\",\"ca\":\"$pki/ca.crt\",\"check_ms\":300,
  \"dids\":[\"$own\"],\"destinations\":[{\"did\":\"$made\",\"address\":\"192.0.2.200\",\"port\":4790}]}" >/dev/null
# lisecd creates its destinations before a task needs them; none is due here, so ask for one
nodest() { [ "$(ne_dids)" = "$own" ]; }
wait_for 30 nodest || fail "the NE does not hold only the operator's destination: $(ne_dids)"
[ "$(status state)" = reachable ] || fail "the NE is not shown reachable: $(ok 200 li-admin GET /v1/x1/nes/poi-hel-1)"
[ "$(status destinations_removed)" = 1 ] && status removed | grep -q "$stray" ||
  fail "the removal is not in the status: $(ok 200 li-admin GET /v1/x1/nes/poi-hel-1)"
[ "$(status last_keepalive)" = "" ] || fail "a Keepalive shown before the NE sent one"
pass "a destination the registration does not name is removed from the NE, the operator's it names stays; the NE shows reachable"

# ---- the NE's own requests ------------------------------------------------
x1msg() { # TYPE TXN-TAIL [BODY] -> an X1Request from the NE
  printf '<?xml version="1.0" encoding="UTF-8"?>\n<X1Request xmlns="http://uri.etsi.org/03221/X1/2017/10" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><x1RequestMessage xsi:type="%sRequest"><admfIdentifier>admf-1</admfIdentifier><neIdentifier>poi-hel-1</neIdentifier><messageTimestamp>2026-12-05T03:00:00.000000Z</messageTimestamp><version>v1.22.1</version><x1TransactionId>22222222-2222-4222-8222-222222222%s</x1TransactionId>%s</x1RequestMessage></X1Request>' "$1" "$2" "${3:-}"
}
from_ne() { # ROLE XML -> the answer, which must validate against ETSI's schema
  as "$1" -X POST -H 'Content-Type: application/xml' --data-binary "$2" "$LISECD_URL/v1/x1/admf" >"$work/answer.xml"
  xmllint --noout --schema "$xsd" "$work/answer.xml" 2>"$work/xmllint.log" ||
    fail "lisecd's answer does not validate: $(cat "$work/xmllint.log") $(cat "$work/answer.xml")"
  cat "$work/answer.xml"
}
from_ne poi-hel-1 "$(x1msg Keepalive 101)" | grep -q '<oK>AcknowledgedAndCompleted</oK>' || fail "Keepalive not answered oK"
[ -n "$(status last_keepalive)" ] || fail "the NE's Keepalive is not in its status"
from_ne poi-hel-1 "$(x1msg ReportNEIssue 102 '<typeOfNeIssueMessage>FaultReport</typeOfNeIssueMessage><description>X3 buffer 90% full</description><issueCode>7</issueCode>')" |
  grep -q '<oK>' || fail "ReportNEIssue not answered oK"
status ne_issue.text | grep -q 'FaultReport: X3 buffer 90% full' || fail "ReportNEIssue not in the status: $(status ne_issue)"
out=$(from_ne poi-hel-1 "$(x1msg ReportDestinationIssue 103 "<dId>$own</dId><destinationReportType>Warning</destinationReportType><destinationIssueErrorCode>12</destinationIssueErrorCode><destinationIssueDetails>MDF slow</destinationIssueDetails>")")
grep -q '<oK>AcknowledgedAndCompleted</oK>' <<<"$out" || fail "ReportDestinationIssue not answered oK: $out"
status destination_issue.text | grep -q "destination $own: Warning: MDF slow (code 12)" ||
  fail "ReportDestinationIssue not in the status: $(status destination_issue)"
# bad cases: a destination the NE's registration does not name, a report type the schema does not have
out=$(from_ne poi-hel-1 "$(x1msg ReportDestinationIssue 104 "<dId>$stray</dId><destinationReportType>Warning</destinationReportType>")")
grep -q '<errorCode>1000</errorCode>' <<<"$out" && grep -q '<requestMessageType>ReportDestinationIssue</requestMessageType>' <<<"$out" &&
  grep -q '222222222104<' <<<"$out" || fail "a ReportDestinationIssue about another DID: $out"
out=$(from_ne poi-hel-1 "$(x1msg ReportDestinationIssue 105 "<dId>$own</dId><destinationReportType>Bogus</destinationReportType>")")
grep -q '<errorCode>1010</errorCode>' <<<"$out" || fail "a schema-invalid ReportDestinationIssue: $out"
pass "Keepalive, ReportNEIssue and ReportDestinationIssue from the NE are answered oK and kept in its status; another DID gets 1000, a bad report type 1010"

# ---- silence, and the Keepalive that ends it --------------------------------
unreachable() { [ "$(status state)" = unreachable ]; }
wait_for 30 unreachable || fail "an NE silent past keepalive_timeout_s is not shown unreachable: $(status why)"
status why | grep -q 'no Keepalive from the NE' || fail "the status does not say why: $(status why)"
lines() { grep -c "X1: NE poi-hel-1 is $1" "$work/lisecd.log" || true; }
# several passes of the loop (check_ms 300) say it once
sleep 1.5
[ "$(lines unreachable)" = 1 ] || fail "'unreachable' logged $(lines unreachable) times"
from_ne poi-hel-1 "$(x1msg Keepalive 106)" | grep -q '<oK>' || fail "Keepalive not answered oK"
[ "$(status state)" = reachable ] || fail "the NE's Keepalive did not make it reachable: $(status why)"
again() { [ "$(lines 'reachable again')" = 1 ]; }
wait_for 30 again || fail "'reachable again' logged $(lines 'reachable again') times"
pass "an NE silent past [x1] keepalive_timeout_s shows unreachable, its next Keepalive reachable; each change logged once"

# ---- who may read it --------------------------------------------------------
for role in operator auditor poi-hel-1 tenant-example; do
  out=$(ok 403 "$role" GET /v1/x1/nes/poi-hel-1)
  grep -q 'poi-hel-1' <<<"$out" && fail "$role's 403 names the NE: $out"
done
ok 404 li-admin GET /v1/x1/nes/poi-9 >/dev/null
cli() { lisec --server "$LISECD_URL" --pki "$pki" --role "$@"; }
cli li-admin task ne-status poi-hel-1 >"$work/cli.txt" || fail "lisec task ne-status: $(cat "$work/cli.txt")"
# (reachable or not: the 2 s timeout may have passed again by now)
grep -Eq '^poi-hel-1: (un)?reachable since ' "$work/cli.txt" && grep -q 'X3 buffer 90% full' "$work/cli.txt" ||
  fail "lisec task ne-status: $(cat "$work/cli.txt")"
rc=0
cli operator task ne-status poi-hel-1 >"$work/cli.txt" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "lisec task ne-status as operator: exit $rc, not 1"
grep -q 'poi-hel-1' "$work/cli.txt" && fail "the CLI's refusal names the NE: $(cat "$work/cli.txt")"
pass "only li-admin reads an NE's status (API and CLI); other roles get 403 naming no NE"
! grep -q Sanitizer "$work/lisecd.log" "$work/ne.log" || fail "sanitizer report"

# ---- [keys] x1_key_dir unset: X1 signing is off (TR103308-5.7) ---------------
stop_clean
start_lisecd "$pki" "[audit]" "li_admin_key = $work/li-admin.pub"
grep -q 'x1_key_dir is not set: X1 signing is off' "$work/lisecd.log" || fail "no warning at start: $(cat "$work/lisecd.log")"
refused() { grep -q 'did not sign the handshake: TR103308-5.7: \[keys\] x1_key_dir is not set' "$work/lisecd.log"; }
wait_for 30 refused || fail "the keys process signed, or did not say why not: $(grep X1 "$work/lisecd.log")"
wait_for 30 unreachable || fail "the NE is not shown unreachable without X1 signing: $(status why)"
pass "without [keys] x1_key_dir the keys process signs no X1 handshake (TR103308-5.7, said at start): the NE is not reached"
stop_clean
