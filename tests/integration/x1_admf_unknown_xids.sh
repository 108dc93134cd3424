#!/usr/bin/env bash
# An NE that lists XIDs lisecd does not know and refuses their deactivation
# costs a bounded number of DeactivateTasks and sealed records, and each
# XID is still asked again after its backoff (src/ctl/x1_unknown.c,
# deactivate_unknown in src/ctl/tasks.c). Before, lisecd sent a
# DeactivateTask for every such XID at every check (300 ms here), each
# after a sealed record of its own: 40 made-up XIDs cost hundreds of sends
# and records in seconds, a list of 1,024 up to 1,024 records per check.
# What it asserts, with x1_admf_ne.py in mode ghosts in front of a real
# lisec-ne (40 made-up XIDs listed, each DeactivateTask answered 2020) and
# [x1] unknown_xid_backoff_max_s = 4, until each XID has been asked again
# after a wait at the maximum (about 8 s):
#  - no XID is asked more than its backoff allows (1, 2, 4, 4 ... s apart),
#    so at most 40 times that in all;
#  - at most one sealed x1.deactivate record per check names them, and
#    every DeactivateTask the NE saw was recorded (sealed) before;
#  - every XID is still asked again after a wait at the maximum (never
#    given up: it may be an interception still running);
#  - the real task on the NE is left alone, and once the NE stops listing
#    them no DeactivateTask of them goes out.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/li_topology.sh"
pki=$work/pki
make_pki "$pki"
lisec pki issue "$pki" admf operator lisec-admf >/dev/null
eval "$("$src/scripts/test/softhsm-start" "$work/hsm" lisec 4321)"
echo 4321 >"$work/pin"
lisec audit li-keygen "$work/li-admin.key" "$work/li-admin.pub" >/dev/null

ports=$("$src/scripts/test/free-ports" 2)
read -r ne_port px_port <<<"$(echo $ports)"
pids=()
"$build/cmd/lisec-ne/lisec-ne" --listen "127.0.0.1:$ne_port" --cert "$pki/server.crt" --key "$pki/server.key" \
  --ca "$pki/ca.crt" --ne-id poi-a --admf-id lisec-admf --state "$work/poi-a.json" 2>>"$work/ne.log" &
pids+=($!)
wait_port "$ne_port"
echo pass >"$work/mode"
CRAWL_GHOSTS=40 python3 "$src/tests/integration/x1_admf_ne.py" "$px_port" "https://localhost:$ne_port/X1/NE" \
  "$pki/server.crt" "$pki/server.key" "$pki/admf.crt" "$pki/admf.key" "$pki/ca.crt" "$work/mode" "$work/sent" \
  2>>"$work/proxy.log" &
pids+=($!)
cleanup_hooks+=("kill ${pids[*]} 2>/dev/null; wait ${pids[*]} 2>/dev/null || true")
wait_port "$px_port"

start_lisecd "$pki" "[keys]" "x1_key_dir = $pki" "[vault]" "pkcs11_module = $LISEC_P11_MODULE" "token = lisec" \
  "pin_file = $work/pin" "key_label = lisec-kek" "[audit]" "li_admin_key = $work/li-admin.pub" \
  "[model]" "allow_declared_trust = true" "[x1]" "unknown_xid_backoff_max_s = 4"
li_post() { # ROLE PATH BODY
  local code
  code=$(as "$1" -X POST -H 'Content-Type: application/json' -o "$work/out.json" -w '%{http_code}' \
    "$LISECD_URL$2" -d "$3")
  [[ $code == 20? ]] || fail "$1 POST $2: $code $(cat "$work/out.json")"
}

# LI li-1's LI VM vm-li runs on hel-1 (lib/li_topology.sh); poi-a runs as vm-li, checked every 300 ms
li_topology
li_post li-admin /v1/x1/nes "$(li_ne_json poi-a "$px_port" vm-li 192.0.2.200)"
li_post li-admin /v1/targets '{"id":"t-1","authorisation":"li-1","identifiers":[{"kind":"ipv4","value":"192.0.2.1"}]}'
holds() { python3 -c "import json;print(' '.join(v['value'] for t in json.load(open('$work/poi-a.json'))['tasks'] for v in t['targets']))" 2>/dev/null; }
for _ in $(seq 150); do [ "$(holds)" = 192.0.2.1 ] && break; sleep 0.2; done
[ "$(holds)" = 192.0.2.1 ] || fail "the task did not reach poi-a: '$(holds)'"
pass "the task reached poi-a"

# The NE lists 40 XIDs more that lisecd does not know, and refuses to deactivate them.
cat >"$work/judge.py" <<'PY'
# judge.py SENDS GHOSTLIST [AUDIT.json]: 0 when every made-up XID has been
# asked again after a wait at the maximum (4 s), 1 not yet, 2 (and why)
# when lisecd asked more than the backoff allows; with the audit log, also
# the sealed records that name them.
import collections, json, sys
sends = [l.split() for l in open(sys.argv[1]) if l.strip()]
ghosts = set(l.strip() for l in open(sys.argv[2]) if l.strip())
when = collections.defaultdict(list)
for t, x in sends:
    when[x].append(float(t))
first = min(float(t) for t, _ in sends)
span = max(float(t) for t, _ in sends) - first
def bad(why):
    print(why)
    sys.exit(2)
# 1, 2, 4, 4 ... s apart: by s seconds after its first ask at most
# 3 + s/4 asks (the checks' 300 ms timing included)
for x, ts in when.items():
    ts.sort()
    if len(ts) > 3 + (ts[-1] - ts[0]) / 4:
        bad("XID %s asked %d times in %.1f s (backoff 1, 2, 4, 4 ... s)" % (x, len(ts), ts[-1] - ts[0]))
if len(sends) > 40 * (3 + span / 4):
    bad("%d DeactivateTasks of 40 XIDs in %.1f s" % (len(sends), span))
again = [x for x, ts in when.items() if any(b - a >= 3.5 for a, b in zip(ts, ts[1:]))]
if len(sys.argv) < 4:
    sys.exit(0 if set(again) == ghosts else 1)
print("%d DeactivateTasks of %d XIDs in %.1f s" % (len(sends), len(when), span))
# the sealed records: at most one per check (300 ms), each naming at most
# 16 XIDs, so several XIDs a record; every DeactivateTask recorded before
# it went out
records = [json.dumps(e) for e in json.load(open(sys.argv[3]))['entries']]
records = [r for r in records if 'x1.deactivate' in r and any(g in r for g in ghosts)]
named = collections.Counter(g for r in records for g in ghosts if g in r)
print("%d sealed records name them" % len(records))
if len(records) > 5 + span / 0.3 or 4 * len(records) > len(sends):
    bad("%d sealed records for %d DeactivateTasks in %.1f s" % (len(records), len(sends), span))
if any(sum(g in r for g in ghosts) > 16 for r in records):
    bad("a record names more than 16 XIDs")
for x, ts in when.items():
    if named[x] < len(ts):
        bad("XID %s: %d DeactivateTasks, named in %d records" % (x, len(ts), named[x]))
if set(when) != ghosts or set(again) != ghosts:
    bad("of %d made-up XIDs %d were asked, %d again after a wait at the maximum" % (len(ghosts), len(when), len(again)))
PY
echo ghosts >"$work/mode"
for _ in $(seq 100); do [ -s "$work/sent.ghosts" ] && break; sleep 0.1; done
[ -s "$work/sent.ghosts" ] || fail "lisecd asked poi-a to deactivate none of the XIDs it does not know"
# until each has been asked again after a wait at the maximum (~8 s), at
# most 25 s; the records are judged, and that, once the NE lists them no more
verdict=1
for _ in $(seq 125); do
  cp "$work/sent.ghosts" "$work/window.ghosts"
  verdict=0
  python3 "$work/judge.py" "$work/window.ghosts" "$work/sent.ghostlist" >"$work/judge.out" || verdict=$?
  [ $verdict = 1 ] || break
  sleep 0.2
done
[ $verdict != 2 ] || fail "the XIDs lisecd does not know: $(cat "$work/judge.out") ($(wc -l <"$work/window.ghosts") DeactivateTasks)"
echo pass >"$work/mode"
# the NE no longer lists them once a ListAllDetails met mode pass
before=$(grep -c '^ListAllDetails pass$' "$work/sent.modes")
for _ in $(seq 100); do [ "$(grep -c '^ListAllDetails pass$' "$work/sent.modes")" -gt "$before" ] && break; sleep 0.1; done
[ "$(grep -c '^ListAllDetails pass$' "$work/sent.modes")" -gt "$before" ] || fail "lisecd listed poi-a's tasks no more"
cp "$work/sent.ghosts" "$work/window.ghosts"
lisec audit read --db "$work/lisec.db" --li-key "$work/li-admin.key" --json >"$work/audit.json" 2>"$work/audit.err" ||
  fail "lisec audit read: $(cat "$work/audit.err")"
python3 "$work/judge.py" "$work/window.ghosts" "$work/sent.ghostlist" "$work/audit.json" >"$work/judge.out" ||
  fail "the XIDs lisecd does not know: $(cat "$work/judge.out")"
pass "40 XIDs lisecd does not know, refused: $(tr '\n' ' ' <"$work/judge.out")- each asked again after its backoff"

# no more once the NE stops listing them, and the real task is untouched
n=$(wc -l <"$work/sent.ghosts")
before=$(grep -c '^ListAllDetails pass$' "$work/sent.modes")
for _ in $(seq 100); do [ "$(grep -c '^ListAllDetails pass$' "$work/sent.modes")" -ge $((before + 3)) ] && break; sleep 0.1; done
[ "$(wc -l <"$work/sent.ghosts")" = "$n" ] || fail "lisecd asked to deactivate XIDs the NE no longer lists"
[ "$(holds)" = 192.0.2.1 ] || fail "poi-a's own task went: '$(holds)'"
pass "XIDs the NE no longer lists are asked no more; the NE's real task stays"
