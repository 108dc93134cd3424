#!/usr/bin/env bash
# The documentation, the example configuration and lisecd's list of known
# settings agree. lisecd refuses a key not in lisecd_known_settings
# (cmd/lisecd/settings.c), so a setting documented but not listed stops the
# start of whoever copies it, and one listed but documented nowhere cannot be
# found. Every "section.key" of the list must be in examples/lisecd.conf
# (`key =` or `#key =` under its `[section]` or `#[section]` header) and in a
# table row of docs/operations.md (`[section] key`, or a row naming several
# keys of one section: `[section] a`, `b`). Then a copy of the example with
# every commented setting and section header uncommented is checked with
# lisecd --check-config: no "unknown setting". The check's other problems
# (files that are not on this machine, no token) are expected and ignored.
# The loader stops at the first unknown key, so each one found is commented
# out again and the check repeated until none is left. Bad cases: a key
# removed from both files, and a key misspelt, are each reported.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
lisecd=$build/cmd/lisecd/lisecd

# The list: the quoted strings between the array's braces.
sed -n '/lisecd_known_settings\[\] = {/,/^};/p' "$src/cmd/lisecd/settings.c" | sed 's|/\*.*\*/||g' |
  grep -o '"[a-z0-9_]*\.[a-z0-9_]*"' | tr -d '"' >"$work/known"
[ "$(wc -l <"$work/known")" -ge 100 ] || fail "read only $(wc -l <"$work/known") settings from settings.c"

# in_example FILE: section.key of every setting of an example, commented or not.
in_example() {
  awk '
    /^#?\[[a-z0-9_]+\][ \t]*$/ { s = $0; sub(/^#?\[/, "", s); sub(/\].*/, "", s); next }
    s != "" && /^#?[a-z][a-z0-9_]* =( |$)/ { k = $0; sub(/^#/, "", k); sub(/ =.*/, "", k); print s "." k }
  ' "$1" | sort -u
}
# in_tables FILE: section.key of every key named in the first cell of a table
# row: `[section] key`, optionally followed by `more`, `keys`.
in_tables() {
  awk -F' [|] ' '
    /^[|] `\[[a-z0-9_]+\] [a-z]/ {
      cell = substr($1, 3); s = cell; sub(/^`\[/, "", s); sub(/\].*/, "", s)
      sub(/^`\[[a-z0-9_]+\] /, "`", cell)
      while (match(cell, /`[a-z][a-z0-9_]*`/)) {
        print s "." substr(cell, RSTART + 1, RLENGTH - 2); cell = substr(cell, RSTART + RLENGTH)
      }
    }
  ' "$1" | sort -u
}
# gaps EXAMPLE OPS: one line per known setting missing from either.
gaps() {
  in_example "$1" >"$work/in_example"
  in_tables "$2" >"$work/in_tables"
  while read -r setting; do
    grep -qx "$setting" "$work/in_example" || echo "[${setting%%.*}] ${setting#*.} is not in examples/lisecd.conf"
    grep -qx "$setting" "$work/in_tables" || echo "[${setting%%.*}] ${setting#*.} has no row in docs/operations.md"
  done <"$work/known"
}
# uncomment EXAMPLE OUT: every commented setting and section header made live.
uncomment() {
  sed -E -e 's/^#(\[[a-z0-9_]+\][ \t]*)$/\1/' -e 's/^#([a-z][a-z0-9_]* =( |$))/\1/' "$1" >"$2"
}
# unknown_settings CONF: every "unknown setting [s] k" lisecd --check-config
# reports, one per run (the file is changed: each one found is commented out).
unknown_settings() {
  local conf=$1 rounds err line
  rounds=$(grep -c . "$conf")
  for ((i = 0; i <= rounds; i++)); do
    err=$("$lisecd" --check-config -c "$conf" 2>&1 >/dev/null) || true
    line=$(sed -n 's/.*unknown setting \[.*(first error on line \([0-9]*\)).*/\1/p' <<<"$err" | head -n1)
    [ -n "$line" ] || return 0
    grep -o 'unknown setting \[[a-z0-9_]*\] [^ ]*' <<<"$err" | head -n1
    sed -i "${line}s/^/#/" "$conf"
  done
  fail "unknown_settings: still finding unknown settings after $rounds runs"
}

example=$src/examples/lisecd.conf ops=$src/docs/operations.md
gaps "$example" "$ops" >"$work/gaps"
# Both checks run before either fails, so one run names every gap.
if [ -s "$work/gaps" ]; then
  sed 's/^/missing: /' "$work/gaps" >&2
else
  pass "each of the $(wc -l <"$work/known") known settings is in examples/lisecd.conf and in a table row of docs/operations.md"
fi

uncomment "$example" "$work/all.conf"
live=$(grep -cE '^[a-z][a-z0-9_]* =' "$work/all.conf")
unknown_settings "$work/all.conf" >"$work/unknown"
[ -s "$work/unknown" ] && cat "$work/unknown" >&2
[ -s "$work/gaps" ] || [ -s "$work/unknown" ] &&
  fail "$(wc -l <"$work/gaps") gap(s) between cmd/lisecd/settings.c and the documentation, and lisecd refuses $(wc -l <"$work/unknown") setting(s) of examples/lisecd.conf as unknown (above)"
set +e
"$lisecd" --check-config -c "$work/all.conf" >/dev/null 2>"$work/check.err"
rc=$?
set -e
[ $rc = 0 ] || { [ $rc = 2 ] && grep -q 'problem' "$work/check.err"; } ||
  fail "lisecd --check-config of the uncommented example exits $rc: $(cat "$work/check.err")"
pass "examples/lisecd.conf with its $live settings uncommented: lisecd knows every key (exit $rc; the other problems: files not on this machine)"

# Bad cases: a setting removed from the example and from its table row is
# reported in both; a misspelt key of the example is refused as unknown.
grep -v '^#stale_ms = ' "$example" >"$work/less.conf"
sed 's/^| `\[time\] stale_ms`/| `[time] stale`/' "$ops" >"$work/less.md"
gaps "$work/less.conf" "$work/less.md" >"$work/less.gaps"
grep -qx '\[time\] stale_ms is not in examples/lisecd.conf' "$work/less.gaps" &&
  grep -qx '\[time\] stale_ms has no row in docs/operations.md' "$work/less.gaps" && [ "$(wc -l <"$work/less.gaps")" = 2 ] ||
  fail "a setting taken out of both files is not reported (exactly) twice: $(cat "$work/less.gaps")"
pass "a setting missing from both files is reported for each"
sed 's/^#max_age_s = /#max_age_sec = /' "$example" >"$work/typo.conf"
uncomment "$work/typo.conf" "$work/typo-all.conf"
unknown_settings "$work/typo-all.conf" >"$work/typo.unknown"
[ "$(cat "$work/typo.unknown")" = 'unknown setting [telemetry] max_age_sec' ] ||
  fail "a misspelt key is not the one unknown setting: $(cat "$work/typo.unknown")"
pass "a misspelt key ([telemetry] max_age_sec) is refused as unknown, and only it"
