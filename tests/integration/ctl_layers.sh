#!/usr/bin/env bash
# The floors hold (ARCHITECTURE.md, issue 16 item 4), read from the sources
# and the build's link lines, not from what the code says about itself:
#  - the controller's topics (src/ctl/<topic>.[ch]) include each other
#    without a cycle: the model is the lowest topic, the others register
#    hooks in it (ctl/model.h) instead of being included by it;
#  - a domain module includes only base/, crypto/, lisec/ and itself;
#  - cmd/lisec, a client, neither includes nor links the controller or the
#    API (what it shares with lisecd lives in the floors below).
# The cycle finder is shown a cycle first, so a finder that sees none
# cannot pass the check.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
source "$src/tests/integration/lib/common.sh"

# The core of the controller (the lifecycle table, the record helper, the
# shared layout) may reach every topic, and every topic reaches it.
core='^(ctl|internal|topics|record|actor)$'

# topic_edges DIR: "from to" for each include of ctl/<to>.h in DIR/<from>.[ch].
topic_edges() {
  local f from to
  for f in "$1"/*.c "$1"/*.h; do
    [ -e "$f" ] || continue
    from=$(basename "$f")
    from=${from%.*}
    [[ $from =~ $core ]] && continue
    { grep -o '^#include "ctl/[a-z0-9_]*\.h"' "$f" || true; } | sed 's|.*ctl/\(.*\)\.h"|\1|' | while read -r to; do
      [[ $to =~ $core || $to == "$from" ]] || echo "$from $to"
    done
  done | sort -u
}

# cycle_free: edges on stdin; 0 when they form no cycle (tsort's loop report
# on failure goes to $work/loop).
cycle_free() { tsort >/dev/null 2>"$work/loop"; }

# --- the finder sees a cycle when there is one ------------------------------
mkdir -p "$work/fake/ctl"
printf '#include "ctl/b.h"\n' >"$work/fake/ctl/a.c"
printf '#include "ctl/c.h"\n#include "ctl/ctl.h"\n' >"$work/fake/ctl/b.c"
printf '#include "ctl/a.h"\n' >"$work/fake/ctl/c.h"
[ "$(topic_edges "$work/fake/ctl" | wc -l)" = 3 ] || fail "the include reader missed edges: $(topic_edges "$work/fake/ctl")"
if topic_edges "$work/fake/ctl" | cycle_free; then fail "a -> b -> c -> a was not seen as a cycle"; fi
rm "$work/fake/ctl/c.h"
topic_edges "$work/fake/ctl" | cycle_free || fail "a -> b alone seen as a cycle: $(cat "$work/loop")"
pass "the cycle finder sees a -> b -> c -> a and nothing in a -> b"

# --- the controller's topics --------------------------------------------------
topic_edges "$src/src/ctl" >"$work/edges"
[ -s "$work/edges" ] || fail "no includes between ctl topics read: the reader is broken"
cycle_free <"$work/edges" || fail "ctl topics include each other in a cycle: $(cat "$work/loop"); edges: $(tr '\n' ';' <"$work/edges")"
# the model is the lowest topic: it includes none of the others (its own
# parts, ctl/model_*.[ch], are the model; they include no other topic either)
awk '$1 ~ /^model(_|$)/ && $2 !~ /^model(_|$)/' "$work/edges" >"$work/model_parts"
if [ -s "$work/model_parts" ]; then fail "ctl/model includes another topic: $(tr '\n' ';' <"$work/model_parts")"; fi
pass "ctl topics: no cycle, the model includes no other topic ($(wc -l <"$work/edges") includes)"

# --- domain modules -----------------------------------------------------------
for m in model attest audit vault x1 pkg li rng telemetry; do
  [ -d "$src/src/$m" ] || continue
  bad=$(grep -Ho '^#include "[a-z0-9_-]*/' "$src/src/$m"/*.[ch] 2>/dev/null |
    grep -v "\"\(base\|crypto\|lisec\|$m\)/\$" || true)
  [ -z "$bad" ] || fail "domain module $m includes another module or a floor above: $bad"
done
pass "domain modules include only base/, crypto/, lisec/ and themselves"

# --- cmd/lisec ----------------------------------------------------------------
bad=$(grep -Hn '^#include "\(ctl\|api\|keys\)/' "$src/cmd/lisec"/*.c "$src/cmd/lisec"/*.h 2>/dev/null || true)
[ -z "$bad" ] || fail "cmd/lisec includes the controller, the API or the keys: $bad"
# the link line where the generator writes one (Makefiles); the symbols
# below hold with any generator
link=$build/cmd/lisec/CMakeFiles/lisec.dir/link.txt
if [ -f "$link" ] && grep -Eq 'liblisec_(ctl|api|keys)\.a' "$link"; then
  fail "lisec links $(grep -Eo 'liblisec_(ctl|api|keys)\.a' "$link" | sort -u | tr '\n' ' ')"
fi
# and the built command has none of the controller's, the API's or the
# keys process's code in it
[ -x "$build/cmd/lisec/lisec" ] || fail "no lisec in $build"
nm "$build/cmd/lisec/lisec" >"$work/syms" 2>/dev/null || fail "nm cannot read lisec"
grep -q ' T main$' "$work/syms" || fail "lisec has no symbols to check (stripped?)"
if grep -Eq ' T (ctl|api|keys)_' "$work/syms"; then
  fail "lisec holds controller, API or keys code: $(grep -E ' T (ctl|api|keys)_' "$work/syms" | head -3)"
fi
pass "cmd/lisec neither includes nor links ctl/, api/ or keys/"
