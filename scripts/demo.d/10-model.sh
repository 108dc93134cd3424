# Chapter: the trust model of TR 103 308 §6.2 in lisecd. The Helsinki/London
# example of requirement 1 is loaded through the API one entity at a time;
# then MANO, Kubernetes and libvirt ask before moving the monitored VM:
# Helsinki is allowed, London is denied with the requirement that fails, and
# only the LI administration sees which LI authorisation it is about.
say "lisecd restarts with the LI administration's key and, for this demo only, declared host trust"
stop_lisecd
start_lisecd "$pki" "[audit]" "li_admin_key = $work/li-admin.pub" "[model]" "allow_declared_trust = true"
grep -m1 'allow_declared_trust' "$work/lisecd.log" | cut -c1-150 | sed 's/^/   /'
explain "In production a host's trust and location come only from its TPM attestation; here the" \
  "example file states them, and lisecd says loudly that this is a development mode."

say "The example of clause 6.2 goes into lisecd through the API: 17 entities, in the model's order"
split_topology "$src/examples/helsinki-london.json" "$work/model"
show cat "$work/model/001-fi.jurisdiction"
sed 's/^/     /' "$work/model/001-fi.jurisdiction"
echo
run cli_as operator model put jurisdiction "$work/model/001-fi.jurisdiction"
for f in "$work"/model/*; do
  kind=${f##*.} role=operator
  [ "$f" = "$work/model/001-fi.jurisdiction" ] && continue
  [ "$kind" = li ] && role=li-admin
  printf '   %-9s %s\n' "$role" "$(cli_as "$role" model put "$kind" "$f")"
done
explain "Hosts, hypervisors, VMs, storage and connections are the operator's; the LI authorisation" \
  "li-fi-1 (issued in Finland, monitoring vm-target) only the LI administration may put."
run cli_as operator model compliance

say "MANO asks: may vm-target move to the Helsinki hypervisor hv-hel-1?"
run cli_as mano model decide migration vm-target hv-hel-1

say "And to London (hv-lon-1)? Denied, naming the requirement; MANO does not learn the LI's details"
expect_fail cli_as mano model decide migration vm-target hv-lon-1
explain "The decision is in the audit log either way, sealed to the LI administration because an LI is involved."

say "The LI administration asking the same question sees why: the LI is issued in FI, London is in GB"
expect_fail cli_as li-admin model decide migration vm-target hv-lon-1
expect_fail cli_as operator model get li li-fi-1

say "Kubernetes: the scheduler extender keeps the pod of vm-target off London and off nodes lisec does not know"
show curl ... -d '{"Pod":{..."annotations":{"lisec.io/vm":"vm-target"}},"NodeNames":["hv-hel-1","hv-lon-1","edge-7"]}' "$LISECD_URL/k8s/filter"
as mano -d '{"Pod":{"metadata":{"name":"vnf-target","annotations":{"lisec.io/vm":"vm-target"}}},"NodeNames":["hv-hel-1","hv-lon-1","edge-7"]}' \
  "$LISECD_URL/k8s/filter" | python3 -m json.tool | sed 's/^/     /'

say "libvirt: the migration hook on the London host refuses the incoming migration, as libvirtd would call it"
printf '<domain type="kvm"><name>target</name><metadata><lisec:vm xmlns:lisec="urn:lisec:vm" id="vm-target"/></metadata></domain>\n' >"$work/domain.xml"
hook_env=(env LISEC_HOOK_CONF=/nonexistent LISEC_SERVER="$LISECD_URL" LISEC_HYPERVISOR=hv-lon-1
  LISEC_CERT="$pki/host.crt" LISEC_KEY="$pki/host.key" LISEC_CA="$pki/ca.crt")
show "$src/examples/libvirt/hooks/qemu target migrate begin - <domain.xml   (on hv-lon-1)"
set +e
"${hook_env[@]}" "$src/examples/libvirt/hooks/qemu" target migrate begin - <"$work/domain.xml" 2>&1 | sed 's/^/     /'
rc=${PIPESTATUS[0]}
set -e
[ "$rc" -ne 0 ] || fail "the hook accepted a migration to London"
echo "   -> the hook exits $rc: libvirtd aborts the migration"
