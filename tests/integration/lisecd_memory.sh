#!/usr/bin/env bash
# The front holds no key (issue 16, "Tests", first bullet): after a full
# scenario (the trust model, targets added as li-admin, audit checkpoints, a
# restart, the targets distributed over X1 to a real lisec-ne), the memory of
# lisecd's front process, read through /proc/PID/mem, contains none of the
# vault's data keys, the vault's key-encryption key, the audit checkpoint
# private key, nor an LI target identifier the front never saw in clear
# (added before the restart, sent over X1 by the controller after it). The
# development file keys are used so that this script knows the secrets: it
# unwraps every data key from the store itself (AES-256-GCM, "lisec-kek-v1",
# src/keys/kek.c) and takes the Ed25519 seed from the PKCS#8 file. So that it
# cannot pass by finding nothing anywhere, the same scanner must find the
# keys in the keys process and the identifier in lisec-ne. The controller
# must hold no key either, the X1 client's TLS private key included, which
# the keys process alone reads and signs with (it may hold identifiers: it
# sends them over X1). Nor may the front hold the password of a URL setting
# ([audit] tsa_url here; [store] url is the same case), which only the
# controller uses. Needs root (another process's
# memory); skips with a reason otherwise, and while lisecd is one process.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/li_topology.sh"
release_only "lisecd_processes and lisecd_sandbox run the same processes (this one scans their memory)"
if [ "$(id -u)" -ne 0 ]; then
  echo "skip: reading another process's memory (/proc/PID/mem of a non-dumpable process) needs root"
  exit 0
fi
python3 -c 'import cryptography.hazmat.primitives.ciphers.aead' 2>/dev/null ||
  fail "python3 cryptography is needed to unwrap the vault's data keys (apt-get install python3-cryptography)"
scan=$src/tests/integration/lib/memscan.py
pki=$work/pki
make_pki "$pki"
lisec pki issue "$pki" admf operator lisec-admf >/dev/null
lisec audit li-keygen "$work/li-admin.key" "$work/li-admin.pub" >/dev/null
head -c 32 /dev/urandom >"$work/kek.bin"
chmod 600 "$work/kek.bin"

ne_port=$(free_port)
"$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$ne_port" --cert "$pki/server.crt" --key "$pki/server.key" \
  --ca "$pki/ca.crt" --ne-id poi-1 --admf-id lisec-admf --state "$work/ne-tasks.json" 2>>"$work/ne.log" &
ne_pid=$!
cleanup_hooks+=("kill $ne_pid 2>/dev/null; wait $ne_pid 2>/dev/null")
for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$ne_port) 2>/dev/null && break; sleep 0.1; done

# A TSA where nothing listens: checkpoints go untimestamped, and its URL
# carries a password of this run only.
tsa_password=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
tsa_url="http://lisec:$tsa_password@127.0.0.1:$(free_port)/"
lisecd_up() {
  start_lisecd "$pki" "[keys]" "x1_key_dir = $pki" "[vault]" "development_key_file = $work/kek.bin" "allow_development_key = true" \
    "[audit]" "li_admin_key = $work/li-admin.pub" "tsa_url = $tsa_url" "tsa_ca = $pki/ca.crt" \
    "[model]" "allow_declared_trust = true"
}
lisecd_up
# child_pid NAME: the pid of lisecd's child called NAME, or nothing.
child_pid() {
  local p
  for p in $(pgrep -P "$LISECD_PID" 2>/dev/null); do
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$1" ] && echo "$p" && return 0
  done
  return 0
}
if [ -z "$(child_pid lisecd-front)" ]; then
  echo "skip: lisecd runs as one process (no lisecd-front child): there is no front to scan yet (issue 16)"
  exit 0
fi

api() { # ROLE METHOD PATH [BODY] -> status; body in $work/body
  local role=$1 method=$2 path=$3
  shift 3
  as "$role" -X "$method" -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    ${1:+-d "$1"} "$LISECD_URL$path"
}
ok() { # STATUS ROLE METHOD PATH [BODY]
  local want=$1 got
  shift
  got=$(api "$@")
  [ "$got" = "$want" ] || fail "$1 $2 $3 -> $got (want $want): $(cat "$work/body")"
}

# The trust model of x1_admf.sh (lib/li_topology.sh): LI li-1 whose LI VM
# vm-li runs on trusted hel-1.
li_topology

# Targets, with identifiers of this run only. No NE is registered yet, so
# nothing is distributed before the restart.
secret_imsi=24405$(python3 -c 'import secrets; print("%010d" % secrets.randbelow(10**10))')
seen_imsi=24491$(python3 -c 'import secrets; print("%010d" % secrets.randbelow(10**10))')
ok 201 li-admin POST /v1/targets "{\"id\":\"t-secret\",\"authorisation\":\"li-1\",\"identifiers\":[{\"kind\":\"imsi\",\"value\":\"$secret_imsi\"}]}"
ok 201 li-admin POST /v1/targets "{\"id\":\"t-seen\",\"authorisation\":\"li-1\",\"identifiers\":[{\"kind\":\"imsi\",\"value\":\"$seen_imsi\"}]}"
ok 200 li-admin GET /v1/targets/t-seen
grep -q "$seen_imsi" "$work/body" || fail "li-admin cannot read t-seen back"

# wait_checkpoint MIN: an audit checkpoint covering at least MIN entries.
wait_checkpoint() {
  for _ in $(seq 1 100); do
    [ "$(api auditor GET /v1/audit/checkpoint)" = 200 ] &&
      python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["tree_size"] >= int(sys.argv[2]) else 1)' \
        "$work/body" "$1" && return 0
    sleep 0.1
  done
  fail "no audit checkpoint of $1 or more entries: $(cat "$work/body")"
}
wait_checkpoint 3
size_before=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tree_size"])' "$work/body")
pass "model, two targets and a signed audit checkpoint ($size_before entries) before the restart"

# The restart: the front that saw t-seen's identifier (and t-secret's, in
# its request) is gone; the new one sees neither in clear.
stop_lisecd
lisecd_up
front=$(child_pid lisecd-front) ctl=$(child_pid lisecd-ctl) keys=$(child_pid lisecd-keys)
[ -n "$front" ] && [ -n "$ctl" ] && [ -n "$keys" ] || fail "after the restart lisecd lacks a child (front=$front ctl=$ctl keys=$keys)"

ok 200 li-admin POST /v1/x1/nes "$(li_ne_json poi-1 "$ne_port" vm-li 192.0.2.1)"
ne_holds() { python3 -c "import json,sys;print(any(v['value']==sys.argv[2] for t in json.load(open(sys.argv[1]))['tasks'] for v in t['targets']))" "$work/ne-tasks.json" "$1" 2>/dev/null; }
for _ in $(seq 1 100); do
  [ "$(ne_holds "$secret_imsi")" = True ] && break
  api li-admin POST /v1/tasks/reconcile >/dev/null
  sleep 0.2
done
[ "$(ne_holds "$secret_imsi")" = True ] || fail "t-secret never reached lisec-ne over X1: $(cat "$work/ne-tasks.json" 2>/dev/null)"
wait_checkpoint $((size_before + 1))
pass "after the restart the controller sent t-secret over X1 to lisec-ne, and a new checkpoint was signed"

# The secrets, from what this script knows: the KEK file, the Ed25519 seed
# of the development checkpoint key, each target's data key unwrapped from
# the store, and the identifier.
kek_hex=$(xxd -p -c 64 "$work/kek.bin")
[ -r "$work/audit-dev.pem" ] || fail "no development audit key at $work/audit-dev.pem"
audit_hex=$(python3 -c 'import base64,sys
body = "".join(l for l in open(sys.argv[1]).read().split("\n") if l and not l.startswith("-----"))
der = base64.b64decode(body)
assert len(der) == 48, "not an Ed25519 PKCS#8 key"
print(der[16:].hex())' "$work/audit-dev.pem") || fail "cannot read the audit key's seed"
sqlite3 -cmd '.timeout 10000' "$work/lisec.db" "SELECT id, body FROM documents WHERE kind = 'target'" >"$work/targets.txt"
data_keys=$(python3 -c 'import base64,json,sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
kek = open(sys.argv[1], "rb").read()
for line in open(sys.argv[2]):
    tid, _, body = line.rstrip("\n").partition("|")
    w = base64.b64decode(json.loads(body)["wrapped_key"])
    print("%s=%s" % (tid, AESGCM(kek).decrypt(w[:12], w[12:], b"lisec-kek-v1").hex()))' "$work/kek.bin" "$work/targets.txt") ||
  fail "cannot unwrap the data keys from the store with the development KEK"
[ "$(wc -l <<<"$data_keys")" -eq 2 ] || fail "expected two data keys, unwrapped: $data_keys"
secret_key=$(sed -n 's/^t-secret=//p' <<<"$data_keys")
seen_key=$(sed -n 's/^t-seen=//p' <<<"$data_keys")
id_hex=$(printf '%s' "$secret_imsi" | xxd -p -c 64)
# The X1 client's TLS private key (the ADMF's P-256 key, registered above
# by its path): its private scalar as openssl prints it, big-endian, and as
# OpenSSL's BIGNUM holds it in memory (64-bit words, least significant
# first, each little-endian: the bytes reversed). Of the reversed form only
# the low 24 bytes are sought, which a BIGNUM holds whatever its width.
x1_be=$(openssl pkey -in "$pki/admf.key" -noout -text | awk '/^priv:/{p=1;next} /^[a-zA-Z]/{p=0} p' | tr -d ' :\n')
x1_be=$(python3 -c 'import sys; print("%064x" % int(sys.argv[1], 16))' "$x1_be") || fail "cannot read the X1 client key's private scalar"
x1_le=$(python3 -c 'import sys; print(bytes.fromhex(sys.argv[1])[::-1][:24].hex())' "$x1_be")
needles=("kek=$kek_hex" "audit_key=$audit_hex" "data_key_secret=$secret_key" "data_key_seen=$seen_key" "identifier=$id_hex"
  "x1_key=$x1_be" "x1_key_words=$x1_le" "tsa_password=$(printf '%s' "$tsa_password" | xxd -p -c 64)")

# hits JSON NAME: how many times the scan found NAME.
hits() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])["hits"][sys.argv[2]])' "$1" "$2"; }
front_scan=$(python3 "$scan" "$front" "${needles[@]}") || fail "cannot read the front's memory"
keys_scan=$(python3 "$scan" "$keys" "${needles[@]}") || fail "cannot read the keys process's memory"
ctl_scan=$(python3 "$scan" "$ctl" "${needles[@]}") || fail "cannot read the controller's memory"
ne_scan=$(python3 "$scan" "$ne_pid" "identifier=$id_hex") || fail "cannot read lisec-ne's memory"
echo "front:      $front_scan"
echo "controller: $ctl_scan"
echo "keys:       $keys_scan"
echo "lisec-ne:   $ne_scan"

# The scanner finds what is there: the keys in the keys process, which
# holds them, and the identifier in the NE that received it.
for n in kek audit_key data_key_secret; do
  [ "$(hits "$keys_scan" $n)" -gt 0 ] ||
    fail "the scanner did not find $n in the keys process, which holds it: a scan that finds nothing proves nothing"
done
[ "$(hits "$ne_scan" identifier)" -gt 0 ] || fail "the scanner did not find the identifier in lisec-ne, which holds it"
# The keys process read the X1 client key for the handshake with lisec-ne.
[ $(($(hits "$keys_scan" x1_key) + $(hits "$keys_scan" x1_key_words))) -gt 0 ] ||
  fail "the scanner did not find the X1 client key in the keys process, which signs with it"
pass "the scanner finds the KEK, the audit key and t-secret's data key in the keys process (kek $(hits "$keys_scan" kek), audit_key $(hits "$keys_scan" audit_key), data key $(hits "$keys_scan" data_key_secret)) and the identifier in lisec-ne"

[ "$(hits "$ctl_scan" tsa_password)" -gt 0 ] ||
  fail "the scanner did not find the TSA URL's password in the controller, which uses it"
for n in kek audit_key data_key_secret data_key_seen identifier tsa_password; do
  [ "$(hits "$front_scan" $n)" -eq 0 ] || fail "the front's memory holds $n ($(hits "$front_scan" $n) times)"
done
pass "the front's memory ($(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["bytes"])' "$front_scan") bytes) holds no data key, no KEK, no audit key, not the identifier it never saw and not the TSA URL's password (the controller holds it $(hits "$ctl_scan" tsa_password) times)"

# The controller has no key material either (it asks the keys process);
# it does see identifiers, which it sends over X1, and keeps none once the
# activation is sent: libcurl's copy of the request, with its body, is
# wiped when freed (found in the heap before).
for n in kek audit_key data_key_secret data_key_seen x1_key x1_key_words identifier; do
  [ "$(hits "$ctl_scan" $n)" -eq 0 ] || fail "the controller's memory holds $n ($(hits "$ctl_scan" $n) times)"
done
pass "the controller's memory holds no data key, no KEK, no audit key, not the X1 client's TLS private key (the keys process signs the handshake; it holds it $(hits "$keys_scan" x1_key)+$(hits "$keys_scan" x1_key_words) times), and not the identifier it sent over X1"
