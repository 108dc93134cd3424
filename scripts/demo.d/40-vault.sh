# Chapter 4: LI targets, encrypted under a key that never leaves a token,
# and sent over X1 (ETSI TS 103 221-1) to the network element that must
# carry them, lisec-ne, while the trust model says the LI may be acted on.
say "lisecd restarts with the target vault: its key-encryption key is created inside a SoftHSM2 token"
stop_lisecd
eval "$("$src/scripts/test/softhsm-start" "$work/hsm" lisec 4321)"
echo 4321 >"$work/vault.pin"
start_lisecd "$pki" "[keys]" "x1_key_dir = $pki" "[vault]" "pkcs11_module = $LISEC_P11_MODULE" "token = lisec" "pin_file = $work/vault.pin" \
  "key_label = lisec-kek" "[audit]" "li_admin_key = $work/li-admin.pub" "[model]" "allow_declared_trust = true"
echo "   the LI administration's public key seals every LI record of the audit log"

say "A network element: lisec-ne, a reference POI, running as the model's LI VM vm-li"
lisec pki issue "$pki" admf operator lisec-admf >/dev/null
ne_port=$(free_port)
"$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$ne_port" --cert "$pki/server.crt" --key "$pki/server.key" \
  --ca "$pki/ca.crt" --ne-id poi-hel-1 --admf-id lisec-admf --state "$work/poi-hel-1.tasks" 2>"$work/ne.log" &
ne_pid=$!
cleanup_hooks+=("kill $ne_pid 2>/dev/null; wait $ne_pid 2>/dev/null")
for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$ne_port) 2>/dev/null && break; sleep 0.1; done
cat >"$work/poi-hel-1.json" <<NE
{"id": "poi-hel-1", "url": "https://localhost:$ne_port/X1/NE", "vm": "vm-li", "admf_id": "lisec-admf",
 "cert": "$pki/admf.crt", "key": "$pki/admf.key", "ca": "$pki/ca.crt", "check_ms": 1000,
 "destinations": [{"did": "6f1c2a9e-3b47-4d2a-8e15-0c9d4b7a5e21", "address": "2001:db8::42", "port": 4790,
                   "transport": "udp", "name": "MDF Helsinki"}]}
NE
run cli_as li-admin task ne-put "$work/poi-hel-1.json"
explain "It obeys only the ADMF whose certificate says CN=lisec-admf, over mutual TLS. It carries the" \
  "targets of every LI authorisation whose LI VM it runs: li-fi-1's LI VM is vm-li. lisecd creates" \
  "the delivery destination on it (CreateDestination) before the first task that names it."

say "The LI administration adds a target for authorisation li-fi-1 (identifiers from a file, not argv)"
printf 'imsi=244051234567890\ne164=358401234567\n' >"$work/t-1.ids"
run cli_as li-admin target add t-1 --authorisation li-fi-1 --ids "$work/t-1.ids"
rm -f "$work/t-1.ids"

say "lisecd, the ADMF, sends it to lisec-ne: ActivateTask over mutual TLS, recorded (sealed) first"
for _ in $(seq 30); do
  cli_as li-admin task reconcile | grep -q '^t-1 .*active' && break
  sleep 0.3
done
run cli_as li-admin task list
explain "It was sent because the model says li-fi-1 is compliant and active now; lisecd re-checks" \
  "that all the time and deactivates the task (saying why) when, e.g., hel-1 loses its trust."
show cat '$WORK/poi-hel-1.tasks   # the POI needs the identifiers; its file is 0600'
python3 -c "import json,sys;d=json.load(open(sys.argv[1]));[print('     %s  %s' % (t['xid'], ' '.join(v['element']+'='+v['value'] for v in t['targets']))) for t in d['tasks']]" "$work/poi-hel-1.tasks"

say "An IMSI of the wrong length is refused, naming the field"
as li-admin -d '{"id":"t-2","authorisation":"li-fi-1","identifiers":[{"kind":"imsi","value":"2440512"}]}' \
  "$LISECD_URL/v1/targets" | sed 's/^/   /'

say "The operator may not read it; the attempt itself is recorded for the LI administration"
as operator "$LISECD_URL/v1/targets/t-1" | sed 's/^/   /'

say "What the database holds: no identifier, only the sealed form"
sqlite3 "$work/lisec.db" "SELECT body FROM documents WHERE kind = 'target'" | cut -c1-150 | sed 's/^/   /'
echo "   and the X1 task, metadata only:"
sqlite3 "$work/lisec.db" "SELECT body FROM documents WHERE kind = 'x1.task'" | cut -c1-150 | sed 's/^/   /'
for v in 244051234567890 358401234567; do
  if strings "$work/lisec.db"* | grep -q "$v"; then fail "identifier $v found in the database"; fi
done
echo "   (searched the database files for 244051234567890 and 358401234567: not there)"
echo "   audit log entries so far: $(sqlite3 "$work/lisec.db" 'SELECT COUNT(*) FROM audit_log'), of which sealed: $(sqlite3 "$work/lisec.db" 'SELECT COUNT(*) FROM audit_log WHERE sealed = 1')"

say "The LI administration reads it back in clear"
as li-admin "$LISECD_URL/v1/targets/t-1" | sed 's/^/   /'

say "The LI administration rotates the KEK: a new key in the token, every data key re-wrapped to it"
run cli_as li-admin target rotate-kek lisec-kek-2
run cli_as li-admin target list
explain "The ciphertexts were not touched; only the wrapped data keys changed, and t-1 still reads" \
  "back. The old key stays in the token until no target and no backup needs it."
cli_as li-admin target get t-1 | grep -q 244051234567890 || fail "t-1 does not read back after the rotation"
