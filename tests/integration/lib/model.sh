# Helpers for scripts that load a topology into a running lisecd (sourced
# after common.sh; callers set pki and start lisecd first).

# split_topology FILE DIR: one JSON file per entity of the topology, named
# NNN-<id>.<kind>, in the order the model loads kinds.
split_topology() {
  python3 - "$1" "$2" <<'PY'
import json, os, sys
t = json.load(open(sys.argv[1]))
os.makedirs(sys.argv[2])
order = [("jurisdictions", "jurisdiction"), ("leas", "lea"), ("hosts", "host"),
         ("hypervisors", "hypervisor"), ("vms", "vm"), ("storage", "storage"),
         ("connections", "connection"), ("groups", "group"), ("lis", "li")]
n = 0
for arr, kind in order:
    for e in t.get(arr, []):
        n += 1
        with open(f"{sys.argv[2]}/{n:03d}-{e['id']}.{kind}", "w") as f:
            json.dump(e, f)
PY
}

# put_topology DIR: `lisec model put` of every file split_topology wrote, as
# the operator, and LI authorisations as the LI administration.
put_topology() {
  local f kind role
  for f in "$1"/*; do
    kind=${f##*.} role=operator
    [ "$kind" = li ] && role=li-admin
    lisec --server "$LISECD_URL" --pki "$pki" --role "$role" model put "$kind" "$f" >/dev/null ||
      fail "lisec model put $kind $(cat "$f")"
  done
}
