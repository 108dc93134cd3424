# The LI topology of the X1, LI and attestation scenario scripts (sourced
# after common.sh; callers set pki and start lisecd first, with [model]
# allow_declared_trust = true unless they pass host= and paired=no, below):
# one LI that every rule of docs/model.md lets act, so that lisecd hands its
# targets to an NE. Jurisdiction fi (FI) and its LEA lea-fi; host hel-1,
# trusted, located in FI (administrative) and of protection li, with
# hypervisor hv-1: R1-R3 want the hardware of the monitored, LI and storage
# VMs inside the LI's jurisdiction, R8 and R9 that of the LI and storage VMs
# trusted with a location, O.1.3 an li host for li VMs. The monitored VM
# vm-target (general, domain tenant); the LI VM vm-li and the storage VM
# vm-store, both li, paired and in domain li (4.2-KNOWN: an LI function runs
# in a paired LI VM; 4.1-DOMAIN: the li domain holds LI VMs only); storage
# st-li rooted in vm-store and provided to vm-li. Connection c1 (network)
# joins vm-target and vm-li: R4, a path from the monitored VM to the LI VM.
# Connection c2 (nfs) joins vm-li and vm-store: R5, a path from the LI VM to
# the VM of the storage it is provided. Both secure (R6: every connection of
# an LI VM), both to VMs the LI monitors or stores through (4.2-KNOWN); groups
# g1 and g2 name them as the groups of one they are anyway. Last the LI
# authorisation li-1, valid 2025-2035, as the LI administration. A test that
# needs a rule broken breaks it afterwards, naming these ids, or by a key.
#
# The attestation and LI confidentiality scripts (attest_*, li_confid_*) run
# lisecd as deployed, declaring nothing that only attestation or the LI
# administration may set. host= puts the LI's VMs on hypervisors of hosts
# the caller made: R1-R3, R8 and R9 hold while those attest with lisec-agent
# as trusted with an attested location in FI (li_confid_trust and
# li_confid_records put the LI and storage VMs on a host that never attests,
# which fails them), and a decision about a VM the LI involves (vm-target,
# vm-li, vm-store) requires a fresh quote of its destination, R11's trusted
# hardware at the moment of the move (docs/model.md, "Trust comes from
# evidence"). paired=no declares the LI and storage VMs without "paired",
# which only the LI administration's pairing sets there: the LI then fails
# 4.2-KNOWN in compliance (its LI function runs in an unknown LI VM), which
# decisions, judging what a change makes new, do not hold against it. A
# script whose vm-target must be in every declared respect a VM no LI names
# (its twin's) leaves out c1 and g1 (paths=store: R4 then fails) or both
# paths (paths=: R4 and R5 fail).

# li_topology [KEY=VALUE...]: POSTs that topology, the LI VM before the
# storage VM (attest_api reads them in that order, model order, as the
# quarantine command's arguments). Keys (default):
#   host (hel-1)          the LI host, made with its hypervisor hv; empty: hv
#                         is the caller's already (an attested host's)
#   hv (hv-1)             runs the LI VM and the storage VM
#   target_hv (hv)        runs the monitored VM vm-target; must exist
#   li (li-1), li_vm (vm-li), store_vm (vm-store), storage (st-li)
#   links (c1 g1 c2 g2)   the ids of the two connections and their groups
#   paths (target store)  which of the two to make: target, c1 and g1 (R4);
#                         store, c2 and g2 (R5)
#   paired (yes)          no: the LI and storage VMs are not declared paired
#   site (yes)            no: add one more LI to a site made before (the
#                         LI VM, its storage, links and authorisation only)
#   post (li_topology_post) FUNC ROLE KIND JSON: POSTs and fails unless 201
li_topology() {
  local site=yes host=hel-1 hv=hv-1 target_hv='' li=li-1 li_vm=vm-li store_vm=vm-store storage=st-li
  local links='c1 g1 c2 g2' paths='target store' paired=yes post=li_topology_post a p pair='' c1 g1 c2 g2
  for a; do
    case ${a%%=*} in
      site | host | hv | target_hv | li | li_vm | store_vm | storage | links | paths | paired | post)
        printf -v "${a%%=*}" '%s' "${a#*=}" ;;
      *) fail "li_topology: unknown key in '$a'" ;;
    esac
  done
  read -r c1 g1 c2 g2 <<<"$links"
  [ -n "$g2" ] || fail "li_topology: links '$links' is not four ids"
  for p in $paths; do
    case $p in target | store) ;; *) fail "li_topology: paths '$paths': '$p' is neither target nor store" ;; esac
  done
  case $paired in yes) pair=',"paired":true' ;; no) ;; *) fail "li_topology: paired '$paired' is neither yes nor no" ;; esac
  if [ "$site" = yes ]; then
    "$post" operator jurisdiction '{"id":"fi","codes":["FI"]}'
    "$post" operator lea '{"id":"lea-fi","name":"NBI","jurisdiction":"fi"}'
    if [ -n "$host" ]; then
      "$post" operator host "$(printf '{"id":"%s","trust":"trusted","protection":"li","location":{"country":"FI","source":"administrative"}}' "$host")"
      "$post" operator hypervisor "$(printf '{"id":"%s","host":"%s"}' "$hv" "$host")"
    fi
    "$post" operator vm "$(printf '{"id":"vm-target","hypervisor":"%s","sensitivity":"general","domain":"tenant"}' "${target_hv:-$hv}")"
  fi
  "$post" operator vm "$(printf '{"id":"%s","hypervisor":"%s","sensitivity":"li","domain":"li"%s}' "$li_vm" "$hv" "$pair")"
  if [ "$site" = yes ]; then
    "$post" operator vm "$(printf '{"id":"%s","hypervisor":"%s","sensitivity":"li","domain":"li"%s}' "$store_vm" "$hv" "$pair")"
  fi
  "$post" operator storage "$(printf '{"id":"%s","vm":"%s","provided_to":["%s"]}' "$storage" "$store_vm" "$li_vm")"
  if [[ " $paths " == *" target "* ]]; then
    "$post" operator connection "$(printf '{"id":"%s","between":["vm-target","%s"],"kind":"network","secure":true}' "$c1" "$li_vm")"
    "$post" operator group "$(printf '{"id":"%s","between":["vm-target","%s"],"connections":["%s"]}' "$g1" "$li_vm" "$c1")"
  fi
  if [[ " $paths " == *" store "* ]]; then
    "$post" operator connection "$(printf '{"id":"%s","between":["%s","%s"],"kind":"nfs","secure":true}' "$c2" "$li_vm" "$store_vm")"
    "$post" operator group "$(printf '{"id":"%s","between":["%s","%s"],"connections":["%s"]}' "$g2" "$li_vm" "$store_vm" "$c2")"
  fi
  "$post" li-admin li "$(printf '{"id":"%s","jurisdiction":"fi","lea":"lea-fi","monitored":"vm-target","host":"%s","storage":"%s","valid_from":"2025-01-01T00:00:00Z","valid_until":"2035-01-01T00:00:00Z"}' "$li" "$li_vm" "$storage")"
}

# li_topology_post ROLE KIND JSON: POST /v1/model/KIND to $LISECD_URL as ROLE; 201 or fail.
li_topology_post() {
  local code
  code=$(as "$1" -o "$work/li_topology.reply" -w '%{http_code}' -H 'Content-Type: application/json' -d "$3" \
    "$LISECD_URL/v1/model/$2") || fail "li_topology: POST $2 as $1: no answer"
  [ "$code" = 201 ] || fail "li_topology: POST $2 as $1 -> $code (want 201): $(cat "$work/li_topology.reply")"
}

# li_ne_json ID PORT VM ADDRESS [MORE]: the registration (POST /v1/x1/nes) of
# lisec-ne ID at https://localhost:PORT that runs as VM, spoken to as ADMF
# lisec-admf with $pki's admf certificate, checked every 300 ms, delivering
# to ADDRESS port 4790; MORE: further fields, each after a comma.
li_ne_json() {
  printf '{"id":"%s","url":"https://localhost:%s/X1/NE","vm":"%s","admf_id":"lisec-admf","cert":"%s","key":"%s","ca":"%s","check_ms":300,"destinations":[{"address":"%s","port":4790}]%s}' \
    "$1" "$2" "$3" "$pki/admf.crt" "$pki/admf.key" "$pki/ca.crt" "$4" "${5:-}"
}
