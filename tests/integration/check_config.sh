#!/usr/bin/env bash
# lisecd --check-config changes nothing and reports every problem (issue 25:
# it migrated the schema and generated token keys before noticing a missing
# reference_file). Against a store and a SoftHSM token that a real lisecd
# made: the database file's SHA-256 and the token's object list
# (pkcs11-tool --list-objects) are the same before and after a good check, a
# check naming a key the token lacks (no key made), and a bad one; a store
# never created is not created; a KEK the start would refuse (extractable,
# not AES-256, two under its label) is refused by the check too, and so is
# an audit checkpoint key (extractable, two pairs under its label), while
# one provisioned not extractable passes both. One configuration with many problems (wrong
# PIN, missing reference_file, bad [server], [api] and controller values, an
# unreachable PostgreSQL, a missing CA) has each reported, exit 2. Bounded
# settings ([audit] group commit, [server] bulk_*, [vault] rotation_*) past
# their bounds are refused naming them; at their bounds accepted.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
pki=$work/pki
make_pki "$pki"
eval "$("$src/scripts/test/softhsm-start" "$work/hsm" lisec 4321)"
echo 4321 >"$work/pin"
echo 9999 >"$work/wrong-pin"
lisecd=$build/cmd/lisecd/lisecd
keys=("[audit]" "pkcs11_module = $LISEC_P11_MODULE" "token = lisec" "pin_file = $work/pin" "key_label = lisec-audit"
  "[vault]" "pkcs11_module = $LISEC_P11_MODULE" "token = lisec" "pin_file = $work/pin" "key_label = lisec-kek")
# A lisecd makes the store (migrated) and the keys, then stops.
start_lisecd "$pki" "${keys[@]}"
stop_lisecd
# start_lisecd's file also names a development audit key: without it, the token's
sed -i '/development_key_file\|allow_development_key/d' "$work/lisecd.conf"
good=$work/lisecd.conf

objects() { pkcs11-tool --module "$LISEC_P11_MODULE" --token-label lisec --login --pin 4321 --list-objects 2>/dev/null; }
state() { sha256sum "$work/lisec.db" | cut -d' ' -f1; objects; }
before=$(state)
echo "$before" | grep -q lisec-kek || fail "the first start made no KEK: $before"

"$lisecd" -c "$good" --check-config >"$work/good.out" 2>"$work/good.err" || { cat "$work/good.err" >&2; fail "a good configuration fails the check"; }
grep -q 'schema version' "$work/good.out" || fail "the check does not say the store's schema version: $(cat "$work/good.out")"
[ "$(state)" = "$before" ] || fail "a good check changed the database or the token"
pass "good configuration: exit 0, the database's SHA-256 and the token's objects unchanged"

# A key the token lacks: told that the first start makes it, not made.
sed 's/key_label = lisec-kek/key_label = lisec-kek-2/' "$good" >"$work/newkey.conf"
"$lisecd" -c "$work/newkey.conf" --check-config >"$work/newkey.out" 2>&1 || { cat "$work/newkey.out" >&2; fail "a key not yet made fails the check"; }
grep -q 'no key "lisec-kek-2" yet' "$work/newkey.out" || fail "the check does not say the key is missing: $(cat "$work/newkey.out")"
[ "$(state)" = "$before" ] || fail "a check made a key or changed the database"
objects | grep -q 'lisec-kek-2' && fail "the check made the key"
pass "a key not in the token: noted, not made"

# A KEK the start would refuse (TR103308-5.7: extractable, not AES-256, or
# one of two keys under the label): the check refuses it too, naming the
# label, and changes nothing in the token.
keygen() { pkcs11-tool --module "$LISEC_P11_MODULE" --token-label lisec --login --pin 4321 --keygen "$@" >/dev/null 2>&1; }
keygen --key-type AES:32 --extractable --label kek-extractable || fail "pkcs11-tool: extractable key"
keygen --key-type AES:16 --label kek-short || fail "pkcs11-tool: AES-128 key"
keygen --key-type AES:32 --sensitive --label kek-twice && keygen --key-type AES:32 --sensitive --label kek-twice ||
  fail "pkcs11-tool: two keys under one label"
# unfit_key SECTION DEFAULT LABEL REQ WHY [fresh]: [SECTION] key_label =
# LABEL (in place of DEFAULT) makes the check exit 2 and the start refuse,
# both naming REQ, the label and WHY (a grep pattern); fresh: the start on a
# store of its own, so that it is the key, not the log signed by DEFAULT,
# that stops it.
unfit_key() {
  local section=$1 default=$2 label=$3 req=$4 why=$5 rc=0
  sed "s/key_label = $default/key_label = $label/" "$good" >"$work/unfit.conf"
  "$lisecd" -c "$work/unfit.conf" --check-config >"$work/unfit.out" 2>"$work/unfit.err" || rc=$?
  [ $rc = 2 ] && grep "\[$section\] key_label $label: $req: " "$work/unfit.err" | grep "\"$label\"" | grep -q "$why" ||
    fail "[$section] key_label = $label: the check exited $rc (want 2, naming $req and the key): $(cat "$work/unfit.err")"
  [ -z "${6:-}" ] || sed -i -e "s|url = sqlite:.*|url = sqlite:$work/$label.db|" \
    -e "s|^listen = .*|listen = 127.0.0.1:$(free_port)|" "$work/unfit.conf"
  rc=0
  timeout 60 "$lisecd" -c "$work/unfit.conf" >"$work/unfit.start" 2>&1 || rc=$?
  [ $rc != 0 ] && [ $rc != 124 ] && grep "$req: " "$work/unfit.start" | grep "\"$label\"" | grep -q "$why" ||
    fail "[$section] key_label = $label: the start exited $rc (want a refusal naming it): $(tail -3 "$work/unfit.start")"
}
before=$(state)
unfit_key vault lisec-kek kek-extractable TR103308-5.7 "is extractable"
unfit_key vault lisec-kek kek-short TR103308-5.7 "not an AES-256 key"
unfit_key vault lisec-kek kek-twice TR103308-5.7 "more than one AES key"
[ "$(state)" = "$before" ] || fail "a check of an unfit KEK changed the database or the token"
pass "a KEK the start refuses (extractable, AES-128, two under one label): the check refuses it too, naming TR103308-5.7 and the label, nothing changed"

# The audit checkpoint key likewise (TR103308-5.5): an extractable pair (its
# value can be read out by whoever has the PIN, and checkpoints forged) or
# two pairs under the label (which one signs would be the token's choice)
# is refused by the check and by the start, naming the label and what to
# do; a pair provisioned as lisecd makes it (not extractable) is accepted by
# both. Every pair but the extractable one is made non-extractable.
keypair() { pkcs11-tool --module "$LISEC_P11_MODULE" --token-label lisec --login --pin 4321 --keypairgen --key-type EC:edwards25519 "$@" >/dev/null 2>&1; }
keypair --extractable --label audit-extractable || fail "pkcs11-tool: extractable Ed25519 pair"
keypair --label audit-twice && keypair --label audit-twice || fail "pkcs11-tool: two Ed25519 pairs under one label"
keypair --label audit-provisioned || fail "pkcs11-tool: Ed25519 pair"
pkcs11-tool --module "$LISEC_P11_MODULE" --token-label lisec --login --pin 4321 --list-objects --type privkey 2>/dev/null >"$work/privkeys"
[ "$(grep -A3 'label: *audit-twice$' "$work/privkeys" | grep -c 'never extractable')" = 2 ] &&
  grep -A3 'label: *audit-provisioned$' "$work/privkeys" | grep -q 'never extractable' &&
  grep -A3 'label: *audit-extractable$' "$work/privkeys" | grep -q 'Access:.* extractable' ||
  fail "the provisioned pairs are not as meant (only audit-extractable extractable): $(cat "$work/privkeys")"
before=$(state)
unfit_key audit lisec-audit audit-extractable TR103308-5.5 "is extractable.*pkcs11-tool --keypairgen" fresh
unfit_key audit lisec-audit audit-twice TR103308-5.5 "more than one Ed25519 private key.*delete or relabel" fresh
[ "$(state)" = "$before" ] || fail "a check or start with an unfit checkpoint key changed the database or the token"
# the pair provisioned not extractable: the check passes, and a lisecd on a
# new store (the log above is signed by lisec-audit) starts with it
sed -e "s/key_label = lisec-audit/key_label = audit-provisioned/" -e "s|url = sqlite:.*|url = sqlite:$work/prov.db|" \
  -e "s|^listen = .*|listen = 127.0.0.1:$(free_port)|" "$good" >"$work/prov.conf"
"$lisecd" -c "$work/prov.conf" --check-config >"$work/prov.out" 2>&1 || fail "a provisioned checkpoint key fails the check: $(cat "$work/prov.out")"
"$lisecd" -c "$work/prov.conf" 2>"$work/prov.log" &
prov_pid=$!
port=$(sed -n 's/^listen = 127.0.0.1://p' "$work/prov.conf")
for i in $(seq 100); do
  curl -s -o /dev/null --cacert "$pki/ca.crt" --cert "$pki/operator.crt" --key "$pki/operator.key" \
    "https://localhost:$port/healthz" && break
  kill -0 "$prov_pid" 2>/dev/null || fail "lisecd with a provisioned checkpoint key exited: $(tail -3 "$work/prov.log")"
  [ "$i" = 100 ] && { kill -TERM "$prov_pid"; fail "lisecd with a provisioned checkpoint key did not answer"; }
  sleep 0.1
done
kill -TERM "$prov_pid"
wait "$prov_pid" || fail "lisecd with a provisioned checkpoint key did not stop cleanly: $(tail -3 "$work/prov.log")"
pass "a checkpoint key the start refuses (extractable, two pairs under one label): the check refuses it too, naming TR103308-5.5, the label and what to do, nothing changed; one provisioned not extractable passes both"

# A store never created: not created.
# (with the bulk work's and the rotation's settings at their bounds, which
# are accepted: see the end)
sed -e "s|url = sqlite:.*|url = sqlite:$work/fresh.db|" -e "s|^\[server\]|[server]\nbulk_channels = 0\nbulk_nice = 19\nbulk_workers = 8\nrequest_slice_us = 100000|" \
  -e "s|^\[vault\]|[vault]\nrotation_chunk = 1\nrotation_rate = 1000000\nrotation_nice = 0|" "$good" >"$work/fresh.conf"
"$lisecd" -c "$work/fresh.conf" --check-config >"$work/fresh.out" 2>&1 || { cat "$work/fresh.out" >&2; fail "a store not yet created fails the check"; }
[ -e "$work/fresh.db" ] && fail "the check created the store"
grep -q 'does not exist yet' "$work/fresh.out" || fail "the check does not say the store is not created: $(cat "$work/fresh.out")"
pass "a store not yet created: noted, not created"

# Many problems at once: each is reported.
pg_port=$(free_port)
sed -e "s|pin_file = $work/pin|pin_file = $work/wrong-pin|" -e "s|^workers = .*|workers = 0|" \
  -e "s|^url = .*|url = postgresql://lisec@127.0.0.1:$pg_port/lisec?connect_timeout=3|" "$good" >"$work/bad.conf"
cat >>"$work/bad.conf" <<CONF
[api]
role_source = certificate
max_body = 5
[attest]
reference_file = $work/no-such-reference.json
interval_s = 0
[pkg]
vendor_ca = $work/no-such-ca.pem
CONF
set +e
"$lisecd" -c "$work/bad.conf" --check-config >"$work/bad.out" 2>"$work/bad.err"
rc=$?
set -e
[ $rc = 2 ] || fail "a configuration with problems exits $rc (want 2): $(cat "$work/bad.err")"
for want in '\[server\] workers' '\[api\] max_body' '\[api\] role_source' '\[attest\] interval_s' \
  'reference_file.*no-such-reference.json' 'vendor_ca.*no-such-ca.pem' 'postgresql: cannot connect' \
  '\[audit\].*wrong PIN' '\[vault\].*wrong PIN' '9 problems'; do
  grep -q "$want" "$work/bad.err" || fail "not reported: $want; the check said: $(cat "$work/bad.err")"
done
[ "$(state)" = "$before" ] || fail "a failed check changed the database or the token"
pass "9 problems in one configuration: each reported ($(grep -c 'problem:' "$work/bad.err") lines), exit 2, nothing changed"

# The same problems with the SQLite store: the database untouched too.
sed "s|^url = .*|url = sqlite:$work/lisec.db|" "$work/bad.conf" >"$work/bad2.conf"
if "$lisecd" -c "$work/bad2.conf" --check-config >/dev/null 2>&1; then fail "a bad configuration passed"; fi
[ "$(state)" = "$before" ] || fail "a failed check changed the database or the token"
pass "bad configuration on the SQLite store: exit 2, the database's SHA-256 unchanged"

# start_refused CONF OUT WHAT: lisecd started on CONF must stop by itself
# with an error (its output in OUT), not run on nor hang.
start_refused() {
  local rc=0
  timeout 60 "$lisecd" -c "$1" >"$2" 2>&1 || rc=$?
  [ $rc != 0 ] && [ $rc != 124 ] || fail "$3: lisecd exited $rc (want a refusal)"
}

# The audit appender's group commit is bounded by settings lisecd enforces
# at start: a value past its bound stops the start, naming the setting.
for bad in "gather_us = 100001" "gather_us = -5" "max_batch = 32769"; do
  sed "s|^\[audit\]|[audit]\n$bad|" "$good" >"$work/audit-bound.conf"
  start_refused "$work/audit-bound.conf" "$work/audit-bound.out" "[audit] $bad"
  grep -q "\[audit\] ${bad%% *} = .*: a whole number from" "$work/audit-bound.out" ||
    fail "[audit] $bad: refused without naming the setting: $(tail -3 "$work/audit-bound.out")"
done
pass "[audit] gather_us and max_batch past their bounds stop the start, naming the setting"

# Bulk work's threads and the KEK rotation's pace and priority (issue 22
# item 6) are bounded: each value past its bound is reported by the check,
# naming the setting, and stops a start.
sed -e "s|^\[server\]|[server]\nbulk_channels = 9\nbulk_nice = 20\nbulk_workers = 9\nrequest_slice_us = 99|" \
  -e "s|^\[vault\]|[vault]\nrotation_chunk = 0\nrotation_rate = -1\nrotation_nice = 20|" "$good" >"$work/bulk-bound.conf"
set +e
"$lisecd" -c "$work/bulk-bound.conf" --check-config >"$work/bulk-bound.out" 2>"$work/bulk-bound.err"
rc=$?
set -e
[ $rc = 2 ] || fail "bulk and rotation settings past their bounds: the check exited $rc (want 2): $(cat "$work/bulk-bound.err")"
for want in '\[server\] bulk_channels' '\[server\] bulk_nice' '\[server\] bulk_workers' '\[vault\] rotation_chunk' \
  '\[vault\] rotation_rate' '\[vault\] rotation_nice' '\[server\] request_slice_us = 99' '7 problems'; do
  grep -q "$want" "$work/bulk-bound.err" || fail "not reported: $want; the check said: $(cat "$work/bulk-bound.err")"
done
sed "s|^\[vault\]|[vault]\nrotation_nice = 20|" "$good" >"$work/nice-bound.conf"
start_refused "$work/nice-bound.conf" "$work/nice-bound.out" "[vault] rotation_nice = 20"
grep -q "\[vault\] rotation_nice" "$work/nice-bound.out" || fail "rotation_nice = 20 refused without naming it: $(tail -3 "$work/nice-bound.out")"
sed "s|^\[server\]|[server]\nrequest_slice_us = 100001|" "$good" >"$work/slice-bound.conf"
start_refused "$work/slice-bound.conf" "$work/slice-bound.out" "[server] request_slice_us = 100001"
grep -q "\[server\] request_slice_us" "$work/slice-bound.out" ||
  fail "request_slice_us = 100001 refused without naming it: $(tail -3 "$work/slice-bound.out")"
grep -q 'bulk_channels = 0' "$work/fresh.conf" && grep -q 'rotation_rate = 1000000' "$work/fresh.conf" ||
  fail "the configuration at the bounds was not made"
pass "[server] bulk_channels, bulk_nice, bulk_workers, request_slice_us and [vault] rotation_chunk, rotation_rate, rotation_nice: each past its bound reported by the check and stopping a start, naming it; at their bounds accepted (the fresh-store check above)"


# The settings the controller's topics ([x1], [rd], [telemetry], [time],
# [audit]'s numbers), the writer guard ([ha]) and the sandbox ([security])
# read at start: a bad
# value is reported by the check, naming it, as it stops a start; the values
# at the bounds are accepted. Rows: section, key, two bad values, two values
# at the bounds (where another setting's default bounds it too, the value
# next to that: [time] poll_ms up to stale_ms's 10000, stale_ms from
# poll_ms's 1000, [telemetry] idle_w below peak_w's 800, [ha] lease_ms from
# 4 x lock_poll_ms's 500, [x1] announce_quiet_ms up to
# announce_settle_max_ms's 1000, announce_settle_max_ms from
# announce_quiet_ms's 200). [audit]'s 0 where it meant the default quietly
# (review of 2026-12-07: tsa_max_skew_ms = 0 read as 300000, not as no
# tolerance) is refused like any value out of bounds, with or without
# tsa_url.
long_sock=/tmp/$(printf 'a%.0s' {1..120})
at_sock=/tmp/$(printf 'a%.0s' {1..102})
topic_bounds=(
  x1 compliance_record_s 0 86401 1 86400
  x1 keepalive_timeout_s -1 86401 0 86400
  x1 request_timeout_ms 99 120001 100 120000
  x1 connect_timeout_ms 99 60001 100 60000
  x1 report_rate_per_ne 0 10001 1 10000
  x1 report_burst_per_ne 0 10001 1 10000
  x1 report_queue_max 0 1000001 1 1000000
  x1 unknown_xid_backoff_max_s 0 86401 1 86400
  x1 announce_quiet_ms -1 5001 0 1000
  x1 announce_settle_max_ms 99 5001 200 5000
  rd check_ms 49 3600001 50 3600000
  rd max_live_keys 1 1000001 2 1000000
  telemetry missing on Off off untrusted
  telemetry max_age_s 0 86401 1 86400
  telemetry idle_w -1 100001 0 799
  telemetry peak_w -1 100001 0 100000
  telemetry busy_vms -1 100001 0 100000
  telemetry max_bytes 255 4097 256 4096
  time source ntp None none chrony
  time chrony_socket "$long_sock" "$long_sock" /run/chrony/chronyd.sock "$at_sock"
  time reply_socket "$long_sock" "$long_sock" /run/lisec/chrony-reply.sock "$at_sock"
  time max_offset_ms -1 3600001 0 3600000
  time max_root_dispersion_ms -1 3600001 0 3600000
  time require_nts maybe 2 false true
  time poll_ms 49 600001 50 10000
  time stale_ms 99 3600001 1000 3600000
  time timeout_ms 9 60001 10 60000
  time tpm_jump_ms 0 86400001 1 86400000
  time tpm_min_hosts 0 1000001 1 1000000
  time tpm_window_s 0 2592001 1 2592000
  ha enabled maybe 2 false no
  ha lock_poll_ms 49 60001 50 60000
  ha lock_timeout_ms 499 60001 500 60000
  ha store_failover_ms 999 600001 1000 600000
  ha lease_ms 1999 600001 0 600000
  ha advertise http://lisecd.example https:// https://a https://lisecd.example:8443
  security sandbox maybe 2 true on
  audit checkpoint_entries 0 9223372036854775808 1 9223372036854775807
  audit checkpoint_ms 0 86400001 1 86400000
  audit open_full_check_below 0 18446744073709551616 1 18446744073709551615
  audit max_batch -1 32769 0 32768
  audit gather_us -1 100001 0 100000
  audit tsa_timeout_ms 0 600001 100 600000
  audit tsa_max_bytes 0 262145 1024 262144
  audit tsa_max_skew_ms 0 86400001 1000 86400000
  audit tsa_max_skew_ms 999 -1 1000 300000
)
for ((i = 0; i < ${#topic_bounds[@]}; i += 6)); do
  sect=${topic_bounds[i]} key=${topic_bounds[i + 1]}
  for bad in "${topic_bounds[i + 2]}" "${topic_bounds[i + 3]}"; do
    printf '[%s]\n%s = %s\n' "$sect" "$key" "$bad" | cat "$good" - >"$work/topic-bound.conf"
    set +e
    "$lisecd" -c "$work/topic-bound.conf" --check-config >"$work/topic-bound.out" 2>"$work/topic-bound.err"
    rc=$?
    set -e
    [ $rc = 2 ] && grep -q "\[$sect\] $key" "$work/topic-bound.err" ||
      fail "[$sect] $key = $bad: the check exited $rc (want 2, naming it): $(cat "$work/topic-bound.err")"
    start_refused "$work/topic-bound.conf" "$work/topic-bound.start" "[$sect] $key = $bad"
    grep -q "\[$sect\] $key" "$work/topic-bound.start" ||
      fail "[$sect] $key = $bad refused at start without naming it: $(tail -3 "$work/topic-bound.start")"
  done
  for at in "${topic_bounds[i + 4]}" "${topic_bounds[i + 5]}"; do
    printf '[%s]\n%s = %s\n' "$sect" "$key" "$at" | cat "$good" - >"$work/topic-at.conf"
    "$lisecd" -c "$work/topic-at.conf" --check-config >/dev/null 2>"$work/topic-at.err" ||
      fail "[$sect] $key = $at refused by the check: $(cat "$work/topic-at.err")"
  done
done
# The rules between two settings: reported by the check too, naming the
# setting the rule refuses.
pairs=(
  telemetry "idle_w = 800" "peak_w = 800" peak_w
  time "poll_ms = 2000" "stale_ms = 1000" stale_ms
  ha "lock_poll_ms = 1000" "lease_ms = 3999" lease_ms
  x1 "announce_quiet_ms = 1001" "announce_settle_max_ms = 1000" announce_quiet_ms
  x1 "announce_quiet_ms = 300" "announce_settle_max_ms = 100" announce_settle_max_ms
)
for ((i = 0; i < ${#pairs[@]}; i += 4)); do
  sect=${pairs[i]} named=${pairs[i + 3]}
  printf '[%s]\n%s\n%s\n' "$sect" "${pairs[i + 1]}" "${pairs[i + 2]}" | cat "$good" - >"$work/topic-pair.conf"
  set +e
  "$lisecd" -c "$work/topic-pair.conf" --check-config >/dev/null 2>"$work/topic-pair.err"
  rc=$?
  set -e
  [ $rc = 2 ] && grep -q "\[$sect\] $named" "$work/topic-pair.err" ||
    fail "[$sect] ${pairs[i + 1]}, ${pairs[i + 2]}: the check exited $rc (want 2, naming $named): $(cat "$work/topic-pair.err")"
done
# [x1] announce_quiet_ms past announce_settle_max_ms (its default too)
# stops a start as well, naming both; equal, the check accepts them.
printf '[x1]\nannounce_quiet_ms = 1001\n' | cat "$good" - >"$work/x1-pair.conf"
start_refused "$work/x1-pair.conf" "$work/x1-pair.start" "[x1] announce_quiet_ms = 1001"
grep -q '\[x1\] announce_quiet_ms = 1001: at most \[x1\] announce_settle_max_ms (1000)' "$work/x1-pair.start" ||
  fail "[x1] announce_quiet_ms = 1001 refused at start without naming both: $(tail -3 "$work/x1-pair.start")"
printf '[x1]\nannounce_quiet_ms = 5000\nannounce_settle_max_ms = 5000\n' | cat "$good" - >"$work/x1-pair.conf"
"$lisecd" -c "$work/x1-pair.conf" --check-config >/dev/null 2>"$work/x1-pair.err" ||
  fail "[x1] announce_quiet_ms = announce_settle_max_ms = 5000 refused by the check: $(cat "$work/x1-pair.err")"
pass "[x1], [rd], [telemetry], [time], [audit]'s numbers (0 refused where it meant the default), [ha] and [security] sandbox: each bad value reported by the check and stopping a start, naming it; at its bounds accepted; idle_w against peak_w, poll_ms against stale_ms, lease_ms against lock_poll_ms, [x1] announce_quiet_ms against announce_settle_max_ms reported by the check (the last stopping a start too)"

# [attest]: its quarantine command and the files it names are checked by
# the code the start loads them with (before, the check only looked that
# the files could be opened, and not at the command: each of these passed
# it and then stopped the start, or, for the command's program and ek_ca,
# started and failed at the first host losing its trust or enrolling). A
# command of more than 32 words, a program that does not exist, one that
# is not executable, a file that opens but does not parse (reference
# values, the location CA, the EK CA bundle): each reported by the check,
# naming the setting, and stopping a start naming it. The good ones (the
# example reference values, a PEM CA for both CAs, a program by full path
# and one found on the PATH) pass the check.
printf 'not json\n' >"$work/garbage.txt"
printf '#!/bin/sh\nexit 0\n' >"$work/noexec.sh"
chmod 644 "$work/noexec.sh"
words=$(printf ' w%d' $(seq 1 32))
attest_bad=(
  quarantine_command "/bin/true$words" 'more than 32 words'
  quarantine_command "$work/no-such-program --suspend" 'no-such-program: No such file or directory'
  quarantine_command "$work/noexec.sh" 'noexec.sh is not an executable file'
  quarantine_command "no-such-program-lisec --x" 'not an executable file on lisecd.s PATH'
  reference_file "$work/garbage.txt" 'policy'
  location_ca "$work/garbage.txt" ''
  ek_ca "$work/garbage.txt" 'no PEM certificate in it'
)
for ((i = 0; i < ${#attest_bad[@]}; i += 3)); do
  key=${attest_bad[i]} val=${attest_bad[i + 1]} why=${attest_bad[i + 2]}
  printf '[attest]\n%s = %s\n' "$key" "$val" | cat "$good" - >"$work/attest-bad.conf"
  set +e
  "$lisecd" -c "$work/attest-bad.conf" --check-config >"$work/attest-bad.out" 2>"$work/attest-bad.err"
  rc=$?
  set -e
  [ $rc = 2 ] && grep -q "problem: \[attest\] $key.*$why" "$work/attest-bad.err" && grep -q ' 1 problem;' "$work/attest-bad.err" ||
    fail "[attest] $key = $val: the check exited $rc (want 2, one problem naming it, '$why'): $(cat "$work/attest-bad.err")"
  start_refused "$work/attest-bad.conf" "$work/attest-bad.start" "[attest] $key = $val"
  grep -q "\[attest\] $key.*$why" "$work/attest-bad.start" ||
    fail "[attest] $key = $val refused at start without naming it: $(tail -3 "$work/attest-bad.start")"
done
# every one of them at once: each reported
printf '[attest]\nquarantine_command = %s\nreference_file = %s\nlocation_ca = %s\nek_ca = %s\n' \
  "$work/noexec.sh" "$work/garbage.txt" "$work/garbage.txt" "$work/garbage.txt" | cat "$good" - >"$work/attest-all.conf"
set +e
"$lisecd" -c "$work/attest-all.conf" --check-config >/dev/null 2>"$work/attest-all.err"
rc=$?
set -e
[ $rc = 2 ] && grep -q ' 4 problems;' "$work/attest-all.err" ||
  fail "four [attest] problems at once: exit $rc: $(cat "$work/attest-all.err")"
printf '[attest]\nquarantine_command = %s\nreference_file = %s\nlocation_ca = %s\nek_ca = %s\n' \
  "/bin/true --suspend-li" "$src/examples/attest/reference.json" "$pki/ca.crt" "$pki/ca.crt" |
  cat "$good" - >"$work/attest-good.conf"
"$lisecd" -c "$work/attest-good.conf" --check-config >"$work/attest-good.out" 2>"$work/attest-good.err" ||
  fail "good [attest] settings refused by the check: $(cat "$work/attest-good.err")"
grep -q 'ek_ca is not set' "$work/attest-good.out" && fail "the check says ek_ca is not set when it is"
sed 's|^quarantine_command = .*|quarantine_command = true|' "$work/attest-good.conf" >"$work/attest-path.conf"
"$lisecd" -c "$work/attest-path.conf" --check-config >/dev/null 2>"$work/attest-path.err" ||
  fail "a quarantine program found on the PATH refused by the check: $(cat "$work/attest-path.err")"
# Each of the three files left unset: noted on stdout as the start warns of it
# (any EK is accepted without ek_ca, a software TPM's too), not a problem.
for key in reference_file location_ca ek_ca; do
  grep -q "^lisecd: note: \[attest\] $key is not set: " "$work/good.out" ||
    fail "the check does not say [attest] $key is not set: $(cat "$work/good.out")"
done
grep -q '^lisecd: note: \[attest\] ek_ca is not set: any EK is accepted at enrolment, a software TPM.s too' "$work/good.out" ||
  fail "the check does not say what an unset ek_ca means"
pass "[attest] reference_file, location_ca and ek_ca unset: each noted by the check (exit 0), what an unset ek_ca lets enrol said"
pass "[attest] quarantine_command (33 words, no such program, not executable, not on the PATH) and reference_file, location_ca, ek_ca that do not parse: each reported by the check and stopping a start, naming it; all four at once reported; good ones pass"
