# Shared by the attestation integration scripts (sourced after common.sh):
# a software TPM per test, the asset-management PKI made with the openssl
# command, location certificates signed with `openssl cms`, and the replay
# of a generated event log into the TPM with tpm2_pcrextend. Everything
# that produces evidence here is tpm2-tools, swtpm, openssl or the Python
# generator, never lisec.

swtpm_start="$src/scripts/test/swtpm-start"
swtpm_stop="$src/scripts/test/swtpm-stop"
evgen() { python3 "$src/tests/integration/attest_evgen.py" "$@"; }

# tpm_up NAME: starts a software TPM with its state in $work/NAME and makes
# it the current one (TPM2TOOLS_TCTI, SWTPM_CTRL_PORT).
tpm_up() {
  local dir=$work/$1 env
  cleanup_hooks+=("'$swtpm_stop' '$dir'")
  env=$("$swtpm_start" "$dir") || fail "swtpm did not start"
  eval "$env"
  eval "TPM_${1}_TCTI=\$TPM2TOOLS_TCTI TPM_${1}_CTRL=\$SWTPM_CTRL_PORT"
}

# tpm_use NAME: makes an already started TPM the current one.
tpm_use() {
  eval "export TPM2TOOLS_TCTI=\$TPM_${1}_TCTI LISEC_TPM_TCTI=\$TPM_${1}_TCTI SWTPM_CTRL_PORT=\$TPM_${1}_CTRL"
}

# Without a resource manager every loaded object stays until flushed.
tpm_flush() { tpm2_flushcontext -t >/dev/null 2>&1 || true; tpm2_flushcontext -s >/dev/null 2>&1 || true; }

# tpm_power_cycle: an orderly shutdown, _TPM_Init and TPM2_Startup(CLEAR),
# as a cold boot: resetCount goes up and the PCRs are reset. (An abrupt one
# would count as a dictionary-attack failure on the next AK use.)
tpm_power_cycle() {
  tpm2_shutdown -c >/dev/null 2>&1 || fail "tpm2_shutdown"
  swtpm_ioctl --tcp "127.0.0.1:$SWTPM_CTRL_PORT" -i >/dev/null || fail "swtpm_ioctl -i"
  tpm2_startup -c >/dev/null 2>&1 || fail "tpm2_startup -c"
}

# persist_ak HANDLE createak-args...: an AK under the EK at $EK (the
# caller's persistent handle), made persistent at HANDLE.
persist_ak() {
  local h=$1
  shift
  tpm2_createak -C $EK -c ak.tmp.ctx "$@" >/dev/null || fail "tpm2_createak $*"
  tpm_flush
  tpm2_evictcontrol -C o -c ak.tmp.ctx "$h" >/dev/null || fail "tpm2_evictcontrol $h"
  tpm_flush
}

tpm_reset_count() { tpm2_readclock | awk '/reset_count/ {print $2}'; }
tpm_restart_count() { tpm2_readclock | awk '/restart_count/ {print $2}'; }
# quote_field MSG FIELD: FIELD of the TPMS_ATTEST a quote's message MSG holds
# (clock, resetCount, restartCount, safe, ...).
quote_field() { tpm2_print -t TPMS_ATTEST "$1" | awk -v k="$2:" '$1 == k {print $2; exit}'; }

# by_hand_host [ak]: what the tests that enrol and quote by hand
# (enrol_by_hand, attest_by_hand) start from, in the current directory:
# the development PKI in $pki, TPM A started and current, its ECC EK
# persistent at EK (ek.pub), the host's id in host and its certificate
# host-a; PCRS the PCRs they quote; AK the handle of their AK, which "ak"
# makes there (ECDSA P-256, SHA-256; ak.pub).
by_hand_host() {
  EK=0x81010001 AK=0x81010002
  PCRS=sha256:0,1,2,3,4,5,6,7,8,15
  make_pki "$pki"
  tpm_up A
  tpm_use A
  tpm2_createek -c $EK -G ecc -u ek.pub >/dev/null || fail "tpm2_createek"
  tpm_flush
  [ "${1:-}" != ak ] || persist_ak $AK -G ecc -g sha256 -s ecdsa -u ak.pub
  host=$(lisec attest host-id --ek ek.pub) || fail "lisec attest host-id"
  lisec pki issue "$pki" host-a host "$host" >/dev/null || fail "pki issue host-a"
}
# by_hand_location RESET [COUNTRY SUBDIVISION SITE [RESTART]]: asset
# management's PKI in am, its location certificate for $host at resetCount
# RESET (issue_location) in loc.cms, and the boot that measures it: the
# event log ev.bin, its reference ref.json, extended into the current TPM.
by_hand_location() {
  am_pki am
  issue_location am "$host" "$1" loc.cms "${@:2}"
  evgen --log ev.bin --extends ev.txt --reference ref.json --location loc.cms
  tpm_extend ev.txt
}

# tpm_extend FILE: extends every "PCR SHA256HEX" line of FILE, in the file's
# order, with one tpm2_pcrextend (it extends its arguments one after the
# other): a call per line cost 0.5 s and an event log has 20-40 lines.
tpm_extend() {
  local pcr d specs=()
  while read -r pcr d; do specs+=("$pcr:sha256=$d"); done <"$1"
  [ ${#specs[@]} -gt 0 ] || return 0
  tpm2_pcrextend "${specs[@]}" >/dev/null || fail "tpm2_pcrextend of $1 (${#specs[@]} extends)"
}

# hreq CERT METHOD PATH [JSON]: a request to lisecd ($LISECD_URL) with the
# development PKI's ($pki) certificate CERT; body in $work/req.out, prints
# the HTTP status.
hreq() {
  local data=()
  [ -n "${4:-}" ] && data=(-H 'Content-Type: application/json' -d "$4")
  curl -sS --cacert "$pki/ca.crt" --cert "$pki/$1.crt" --key "$pki/$1.key" -X "$2" "${data[@]}" \
    -o "$work/req.out" -w '%{http_code}' "$LISECD_URL$3"
}

# enrol_by_hand CERT HOST EK AK AK_PUB: enrols host HOST (its EK persistent
# at EK, ek.pub in the current directory) with the AK at handle or context
# AK whose TPM2B_PUBLIC is AK_PUB, as a host with certificate CERT would
# without lisec-agent: the credential lisecd makes is activated by
# tpm2_activatecredential.
enrol_by_hand() {
  local cert=$1 host=$2 ek=$3 ak=$4 akpub=$5 body
  body=$(jq -n --arg e "$(base64 -w0 ek.pub)" --arg a "$(base64 -w0 "$akpub")" '{ek_pub:$e, ak_pub:$a}')
  [ "$(hreq "$cert" POST /v1/attest/enrol "$body")" = 201 ] || { cat "$work/req.out" >&2; fail "enrol $akpub"; }
  jq -r .credential "$work/req.out" | base64 -d >cred.bin
  tpm2_startauthsession --policy-session -S ek-session.ctx >/dev/null || fail "tpm2_startauthsession"
  tpm2_policysecret -S ek-session.ctx -c e >/dev/null || fail "tpm2_policysecret"
  tpm2_activatecredential -c "$ak" -C "$ek" -i cred.bin -o secret.bin -P session:ek-session.ctx \
    >/dev/null 2>&1 || fail "tpm2_activatecredential ($akpub)"
  tpm_flush
  body=$(jq -n --arg h "$host" --arg s "$(base64 -w0 secret.bin)" '{host:$h, secret:$s}')
  [ "$(hreq "$cert" POST /v1/attest/enrol/finish "$body")" = 200 ] ||
    { cat "$work/req.out" >&2; fail "enrol finish $akpub"; }
}

# attest_by_hand CERT HOST AK PCRS LOG LOCATION: a nonce from lisecd, tpm2_quote
# by AK over PCRS with it (q.msg, q.sig, q.pcrs), and the evidence with the
# event log LOG and the location certificate LOCATION; the reply in
# $work/req.out.
attest_by_hand() {
  local cert=$1 host=$2 nonce body
  [ "$(hreq "$cert" POST /v1/attest/nonce "{\"host\":\"$host\"}")" = 201 ] ||
    { cat "$work/req.out" >&2; fail "nonce"; }
  nonce=$(jq -r .nonce "$work/req.out")
  tpm2_quote -c "$3" -l "$4" -q "$nonce" -m q.msg -s q.sig -o q.pcrs -g sha256 >/dev/null || fail "tpm2_quote"
  tpm_flush
  body=$(jq -n --arg h "$host" --arg n "$nonce" --arg q "$(base64 -w0 q.msg)" --arg s "$(base64 -w0 q.sig)" \
    --arg p "$(base64 -w0 q.pcrs)" --arg l "$(base64 -w0 "$5")" --arg c "$(base64 -w0 "$6")" \
    '{host:$h, nonce:$n, quote:$q, signature:$s, pcrs:$p, eventlog:$l, location:$c}')
  [ "$(hreq "$cert" POST /v1/attest/evidence "$body")" = 200 ] || { cat "$work/req.out" >&2; fail "evidence"; }
}

# am_pki DIR: the asset-management CA and its signing certificate.
am_pki() {
  local d=$1
  mkdir -p "$d"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$d/ca.key" -subj "/O=Operator/CN=Asset Management CA" -days 30 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$d/ca.crt" 2>/dev/null || fail "openssl: asset-management CA"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/am.key" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n' >"$d/am.ext"
  openssl req -new -key "$d/am.key" -subj "/O=Operator/CN=asset-management" 2>/dev/null |
    openssl x509 -req -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 30 \
      -extfile "$d/am.ext" -out "$d/am.crt" 2>/dev/null || fail "openssl: asset-management cert"
}

# issue_location PKI HOST_ID RESET_COUNT OUT [COUNTRY SUBDIVISION SITE
# [RESTART_COUNT]]: what asset management signs after checking the host is
# where it says (without RESTART_COUNT, no "tpm_restart_count": 0).
issue_location() {
  local pki=$1 host=$2 reset=$3 out=$4 country=${5:-FI} sub=${6:-FI-18} site=${7:-HEL1} restart=
  [ -z "${8:-}" ] || restart=",\"tpm_restart_count\":$8"
  printf '{"type":"lisec-location/1","host_id":"%s","country":"%s","subdivision":"%s","latitude":60.1699,"longitude":24.9384,"site":"%s","tpm_reset_count":%s%s,"issued_at":"%s"}' \
    "$host" "$country" "$sub" "$site" "$reset" "$restart" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$out.json"
  openssl cms -sign -nodetach -binary -outform DER -in "$out.json" -signer "$pki/am.crt" \
    -inkey "$pki/am.key" -out "$out" 2>/dev/null || fail "openssl cms -sign"
}

# agent_host N [LINE...]: host N of a multi-host test, in the current
# directory: its swtpm T<N> with fw.txt measured (evgen), the lisec-agent
# configuration agent-N.conf (server url PORT until the caller puts
# lisecd's in; each LINE appended, under a section header of its own), its
# host id in HID[N] (the caller's array), its host certificate host-N in
# $pki and its location certificate from asset management am (am_pki).
# Uses $pki, $work and $agent_bin.
agent_host() {
  local n=$1
  shift
  tpm_up "T$n"
  tpm_use "T$n"
  tpm_extend fw.txt
  mkdir -p "state-$n"
  {
    cat <<CONF
[tpm]
tcti = $TPM2TOOLS_TCTI
pcrs = 0,1,2,3,4,5,6,7,8,15
[agent]
state_dir = $work/state-$n
eventlog = $work/fw.bin
poll_ms = 200
[server]
url = https://localhost:PORT
ca = $pki/ca.crt
cert = $pki/host-$n.crt
key = $pki/host-$n.key
CONF
    [ $# -eq 0 ] || printf '%s\n' "$@"
  } >"agent-$n.conf"
  HID[$n]=$("$agent_bin" -c "agent-$n.conf" host-id) || fail "lisec-agent host-id $n"
  lisec pki issue "$pki" "host-$n" host "${HID[$n]}" >/dev/null || fail "lisec pki issue host-$n"
  issue_location am "${HID[$n]}" "$(tpm_reset_count)" "state-$n/location.cms"
}

# hosts_up [--libvirt] N...: hosts N... (agent_host) in the current
# directory, with the development PKI in $pki=$work/pki, asset management
# am, the firmware log fw.bin and its reference values ref.json; their ids
# in HID, their agents' pids to come in APID (run_agent); li.key and
# li.pub, the LI administration's audit keys. Sets pki and agent_bin.
# --libvirt: each agent reports every 300 s and reads libvirt's test driver
# over node-N.xml (the caller writes it; vm1_node).
hosts_up() {
  local libvirt=no n
  [ "${1:-}" != --libvirt ] || { libvirt=yes; shift; }
  pki=$work/pki
  agent_bin="$build/cmd/lisec-agent/lisec-agent"
  make_pki "$pki"
  am_pki am
  evgen --log fw.bin --extends fw.txt --reference ref.json
  declare -gA HID APID
  for n; do
    if [ $libvirt = yes ]; then
      agent_host "$n" "[agent]" "interval_s = 300" "[libvirt]" "uri = test://$work/node-$n.xml"
    else
      agent_host "$n"
    fi
  done
  lisec audit li-keygen li.key li.pub >/dev/null 2>&1 || fail "lisec audit li-keygen"
}

# fresh_hosts BOUND_MS N: hosts 1-4 (hosts_up) and lisecd, 2 workers, with
# [attest] fresh_wait_ms = BOUND_MS and [model] attestation_max_age_s = 1;
# the model: host n with hypervisor hv-n, and lib/li_topology.sh's LI (the
# caller sources it), its VMs unpaired, on host N's second hypervisor
# hv-Nb; then every agent runs until its host is trusted in FI (the
# caller's `show n` prints host n's attestation; wait_trusted).
fresh_hosts() {
  local n
  hosts_up 1 2 3 4
  start_lisecd "$pki" "[attest]" "reference_file = $work/ref.json" "location_ca = $work/am/ca.crt" \
    "fresh_wait_ms = $1" "[model]" "attestation_max_age_s = 1" "[audit]" "li_admin_key = $work/li.pub"
  grep -q '^workers = 2$' lisecd.conf || fail "the test needs lisecd with 2 workers"
  for n in 1 2 3 4; do
    li_topology_post operator host "{\"id\":\"${HID[$n]}\",\"protection\":\"li\"}"
    li_topology_post operator hypervisor "{\"id\":\"hv-$n\",\"host\":\"${HID[$n]}\"}"
  done
  li_topology_post operator hypervisor "{\"id\":\"hv-${2}b\",\"host\":\"${HID[$2]}\"}"
  li_topology host= hv="hv-${2}b" paired=no
  for n in 1 2 3 4; do run_agent "$n"; done
  for n in 1 2 3 4; do wait_trusted "$n" "agent-$n.log"; done
}

# wait_trusted ARG LOG: until the host that the caller's `show ARG` prints
# is trusted in FI, else fails with the tail of its agent's LOG.
wait_trusted() {
  for _ in $(seq 1 300); do
    show "$1" | jq -e '.lisec.trust == "trusted" and .lisec.location.country == "FI"' >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  tail "$2" >&2
  fail "host $1 is not trusted in FI: $(show "$1")"
}

# stale ARG: until the newest good appraisal of the host that the caller's
# `show ARG` prints is older than [model] attestation_max_age_s = 1
# (last_ok_at has whole seconds, so 2 s apart).
stale() {
  local at
  for _ in $(seq 1 100); do
    at=$(show "$1" | jq -r '.lisec.last_ok_at // empty')
    [ -n "$at" ] && [ $(($(date +%s) - $(date -d "$at" +%s))) -ge 2 ] && return 0
    sleep 0.1
  done
  fail "host $1 never went stale"
}

# host_id_openssl EK_PEM: the host id computed without lisec.
host_id_openssl() { openssl pkey -pubin -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }

# expect RC REGEX CMD...: runs CMD, checks its exit status and that its
# output (stdout and stderr) matches REGEX.
expect() {
  local want=$1 re=$2 got=0
  shift 2
  "$@" >"$work/out.txt" 2>&1 || got=$?
  if [ "$got" != "$want" ]; then
    cat "$work/out.txt" >&2
    fail "exit $got, expected $want: $*"
  fi
  if [ -n "$re" ] && ! grep -Eq -- "$re" "$work/out.txt"; then
    cat "$work/out.txt" >&2
    fail "output does not match /$re/: $*"
  fi
}

# run_agent N: host N's lisec-agent (agent_host) runs against lisecd,
# its pid in APID[N] (the caller's array), its output in agent-N.log.
run_agent() {
  sed -i "s|^url = .*|url = $LISECD_URL|" "agent-$1.conf"
  "$agent_bin" -c "$work/agent-$1.conf" run >>"agent-$1.log" 2>&1 &
  APID[$1]=$!
  cleanup_hooks+=("kill ${APID[$1]} 2>/dev/null || true")
}

# audit_count REGEX: audit entries (unsealed) whose fields, joined by " | ",
# match REGEX ("attest.appraise | denied"), read from the SQLite store
# $work/lisec.db (start_lisecd's) with Python's sqlite3.
audit_count() {
  python3 - "$work/lisec.db" "$1" <<'PY'
import re, sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
rows = [re.sub(rb"[^ -~]+", b" | ", d).decode() for (d,) in db.execute("SELECT data FROM audit_log")]
print(sum(1 for r in rows if re.search(sys.argv[2], r)))
PY
}

# Two hosts a and b reading libvirt's test driver, one VM vm-1 (observe,
# k8s_claims).

# vm1_hosts: hosts a and b (hosts_up --libvirt) and lisecd (vm1_lisecd);
# host a's node runs vm-1, with a disk on vm1.img, host b's only an idle
# domain (vm1_node); the model: each host, of protection li, with its
# hypervisor hv-a or hv-b, and vm-1 declared on hv-a (general, domain
# core), put with twins.sh's model_put (the caller sources twins.sh).
vm1_hosts() {
  local n
  head -c 32768 /dev/urandom >vm1.img
  hosts_up --libvirt a b
  vm1_node node-a.xml 1 with-vm-1
  vm1_node node-b.xml 2
  virsh -c "test://$work/node-a.xml" list --all | grep 'vm-1 *running' >/dev/null ||
    fail "the test driver does not run node-a.xml"
  vm1_lisecd
  for n in a b; do
    model_put operator host "{\"id\":\"${HID[$n]}\",\"protection\":\"li\"}"
    model_put operator hypervisor "{\"id\":\"hv-$n\",\"host\":\"${HID[$n]}\"}"
  done
  model_put operator vm '{"id":"vm-1","hypervisor":"hv-a","sensitivity":"general","domain":"core"}'
}
# vm1: vm-1 in the model as the operator reads it.
vm1() { as operator "$LISECD_URL/v1/model/vm/vm-1"; }

# vm1_node FILE N [with-vm-1]: a test-driver node, running vm-1 (with a
# file disk on $work/vm1.img, which the caller makes) or not, and an idle
# domain of no VM, idle-N (the test driver needs a node with something in
# it).
vm1_node() {
  {
    echo "<node>"
    if [ "${3:-}" = with-vm-1 ]; then
      cat <<XML
  <domain type='test'>
    <name>vm-1</name><uuid>6f1c2a3b-0000-4000-8000-0000000000c1</uuid><memory>65536</memory><os><type>hvm</type></os>
    <metadata><lisec:vm xmlns:lisec="urn:lisec:vm" id="vm-1"/></metadata>
    <devices><disk type='file' device='disk'><source file='$work/vm1.img'/><target dev='vda'/></disk></devices>
  </domain>
XML
    fi
    echo "<domain type='test'><name>idle-$2</name><uuid>6f1c2a3b-0000-4000-8000-0000000000d$2</uuid>"
    echo "<memory>65536</memory><os><type>hvm</type></os></domain>"
    echo "</node>"
  } >"$1"
}

# vm1_lisecd: lisecd for them, appraising against ref.json and am's CA,
# expecting a report every 300 s (60 s of grace), the LI administration's
# key li.pub.
vm1_lisecd() {
  start_lisecd "$pki" "[attest]" "reference_file = $work/ref.json" "location_ca = $work/am/ca.crt" \
    "interval_s = 300" "grace_s = 60" "[audit]" "li_admin_key = $work/li.pub"
}

# stop_agents N...: the agents of hosts N... that run (run_agent) stopped
# with SIGTERM and waited for; APID[N] emptied.
stop_agents() {
  local n
  for n; do
    if [ -n "${APID[$n]:-}" ]; then
      kill -TERM "${APID[$n]}" 2>/dev/null
      wait "${APID[$n]}" 2>/dev/null
    fi
    APID[$n]=
  done
}

# report_inventory N: (re)starts host N's agent (run_agent) and waits until
# lisecd appraised a quote binding the inventory libvirt holds now and
# answered the agent. The record is durable before lisecd applies the
# report to the model, and the answer goes after, so the record alone does
# not say the model shows it.
report_inventory() {
  local n=$1 before answered
  stop_agents "$n"
  before=$(audit_count "attest.appraise \\| ok .*${HID[$n]}.*inventory sha256:")
  answered=$(grep -c "lisec-agent: appraised:" "agent-$n.log" 2>/dev/null || true)
  run_agent "$n"
  for _ in $(seq 1 300); do
    [ "$(audit_count "attest.appraise \\| ok .*${HID[$n]}.*inventory sha256:")" -gt "$before" ] &&
      [ "$(grep -c "lisec-agent: appraised:" "agent-$n.log")" -gt "${answered:-0}" ] && return 0
    sleep 0.1
  done
  tail -20 "agent-$n.log" >&2
  fail "host $n: no appraisal with its inventory"
}
