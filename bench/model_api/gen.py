#!/usr/bin/env python3
"""A generated platform for bench/model_api, written three ways from one seed:
a topology document (for the in-process figure), SQL that puts the same
entities into lisecd's store as model documents (so lisecd loads them at
start rather than through thousands of audited PUTs), and the migration
questions (VM, hypervisor) both are asked.

Hosts are spread over four countries, each with a jurisdiction, an LEA, and
LI VMs on LI-protected hosts; every LI's monitored VM has a secure connection
group to its LI VM, so the platform is mostly compliant and the questions mix
allows (same country) and denies (another country, lower protection).

usage: gen.py OUTDIR HOSTS VMS LIS QUESTIONS"""
import json
import random
import sys

out, H, V, L, Q = sys.argv[1], *map(int, sys.argv[2:6])
rnd = random.Random(103308)
countries = [("FI", "FI-18", 60.17, 24.94), ("SE", "SE-AB", 59.33, 18.06),
             ("DE", "DE-BE", 52.52, 13.40), ("GB", "GB-LND", 51.51, -0.09)]
topo = {"format": "lisec-topology/1", "jurisdictions": [], "leas": [], "hosts": [], "hypervisors": [],
        "vms": [], "storage": [], "connections": [], "groups": [], "lis": []}
for c, *_ in countries:
    topo["jurisdictions"].append({"id": f"j-{c}", "codes": [c]})
    topo["leas"].append({"id": f"lea-{c}", "name": f"LEA {c}", "jurisdiction": f"j-{c}"})
host_country, hyps_by_country = [], {c: [] for c, *_ in countries}
for h in range(H):
    c, sub, lat, lon = countries[h % len(countries)]
    prot = "li" if h % 5 == 0 else ("sensitive" if h % 2 else "general")
    topo["hosts"].append({"id": f"h{h}", "trust": "trusted", "protection": prot,
                          "location": {"country": c, "subdivision": sub, "lat": lat, "lon": lon,
                                       "site": f"{c} DC{h // 4}", "source": "attested"}})
    topo["hypervisors"].append({"id": f"hv{h}", "host": f"h{h}"})
    host_country.append((c, prot))
    hyps_by_country[c].append((h, prot))
li_hosts = {c: [h for h, p in hyps_by_country[c] if p == "li"] for c, *_ in countries}
vm_country = {}
n_li_vms = max(4, L // 10)
for i in range(n_li_vms):
    c = countries[i % len(countries)][0]
    h = rnd.choice(li_hosts[c])
    topo["vms"].append({"id": f"li{i}", "hypervisor": f"hv{h}", "sensitivity": "li", "domain": "li", "paired": True})
    topo["storage"].append({"id": f"st{i}", "vm": f"li{i}", "provided_to": []})
    vm_country[f"li{i}"] = c
for v in range(V):
    h = rnd.randrange(H)
    c, prot = host_country[h]
    sens = "general" if prot == "general" else rnd.choice(["general", "sensitive"])
    topo["vms"].append({"id": f"vm{v}", "hypervisor": f"hv{h}", "sensitivity": sens, "domain": "core"})
    vm_country[f"vm{v}"] = c
for i in range(L):
    v = rnd.randrange(V)
    c = vm_country[f"vm{v}"]
    lis = [j for j in range(n_li_vms) if vm_country[f"li{j}"] == c]
    j = rnd.choice(lis)
    topo["connections"].append({"id": f"c{i}", "between": [f"vm{v}", f"li{j}"], "kind": "network", "secure": True})
    topo["groups"].append({"id": f"g{i}", "connections": [f"c{i}"]})
    topo["lis"].append({"id": f"lia{i}", "jurisdiction": f"j-{c}", "lea": f"lea-{c}", "monitored": f"vm{v}",
                        "host": f"li{j}", "storage": f"st{j}",
                        "valid_from": "2025-01-01T00:00:00Z", "valid_until": "2035-01-01T00:00:00Z"})
with open(f"{out}/topology.json", "w") as f:
    json.dump(topo, f)
kinds = [("jurisdictions", "jurisdiction"), ("leas", "lea"), ("hosts", "host"), ("hypervisors", "hypervisor"),
         ("vms", "vm"), ("storage", "storage"), ("connections", "connection"), ("groups", "group"), ("lis", "li")]
with open(f"{out}/documents.sql", "w") as f:
    f.write("BEGIN;\n")
    for arr, kind in kinds:
        for e in topo[arr]:
            body = json.dumps(e, sort_keys=True, separators=(",", ":")).replace("'", "''")
            f.write(f"INSERT INTO documents VALUES ('model.{kind}', '{e['id']}', '{body}', 1, 0);\n")
    f.write("COMMIT;\n")
with open(f"{out}/questions.txt", "w") as f:
    monitored = [li["monitored"] for li in topo["lis"]]
    for q in range(Q):
        vm = rnd.choice(monitored) if q % 2 else f"vm{rnd.randrange(V)}"
        f.write(f"{vm} hv{rnd.randrange(H)}\n")
