#!/usr/bin/env bash
# liblisec-rng's output judged by independent tools: `lisec rng bytes
# 2500000 | rngtest` (rng-tools5, FIPS 140-2 tests on 1000 blocks of 20000
# bits; a perfect generator fails about 0.08% of blocks, so up to 5 failures
# pass: P(more) < 0.1%), and `ent` on 1 MB (entropy above 7.99 bits/byte).
# Both DRBGs (CTR-DRBG AES-256, HMAC-DRBG SHA-256) are checked.
build=${1:?build dir}
src=${2:?source dir}
# shellcheck source=lib/common.sh
source "$src/tests/integration/lib/common.sh"

command -v rngtest >/dev/null || fail "rngtest (rng-tools5) not installed"
command -v ent >/dev/null || fail "ent not installed"

check_rngtest() {
  local label=$1 out fails ok
  out=$(rngtest -c 1000 <"$work/bytes" 2>&1 || true)
  fails=$(echo "$out" | sed -n 's/.*FIPS 140-2 failures: \([0-9]*\).*/\1/p')
  [ -n "$fails" ] || { echo "$out" >&2; fail "$label: rngtest gave no verdict"; }
  ok=$(echo "$out" | sed -n 's/.*FIPS 140-2 successes: \([0-9]*\).*/\1/p')
  # rngtest keeps the first 32 bits for its continuous test: 999 blocks.
  [ $((ok + fails)) -ge 999 ] || { echo "$out" >&2; fail "$label: rngtest tested $((ok + fails)) blocks"; }
  [ "$fails" -le 5 ] || { echo "$out" >&2; fail "$label: rngtest: $fails FIPS 140-2 failures"; }
  pass "$label: rngtest $((ok + fails)) blocks, $fails failures"
}

check_ent() {
  local label=$1 e
  head -c 1000000 "$work/bytes" | ent >"$work/ent.txt"
  e=$(sed -n 's/^Entropy = \([0-9.]*\) bits per byte.*/\1/p' "$work/ent.txt")
  [ -n "$e" ] || fail "$label: ent gave no entropy figure"
  python3 -c "import sys; sys.exit(0 if float('$e') > 7.99 else 1)" ||
    { cat "$work/ent.txt" >&2; fail "$label: ent entropy $e bits/byte"; }
  pass "$label: ent $e bits/byte"
}

for drbg in ctr hmac; do
  LISEC_RNG_DRBG=$drbg lisec rng bytes 2500000 >"$work/bytes" || fail "lisec rng bytes ($drbg)"
  [ "$(stat -c %s "$work/bytes")" = 2500000 ] || fail "lisec rng bytes wrote the wrong length"
  check_rngtest "$drbg"
  check_ent "$drbg"
done

# Small requests (the per-thread buffer path) must be as good as large ones.
lisec rng bytes 16 >/dev/null || fail "small request"
# Refusals: a count that is not a number, and keygen with no external source.
if lisec rng bytes -5 >/dev/null 2>&1; then fail "negative count accepted"; fi
set +e
lisec rng keygen 32 >/dev/null 2>"$work/keygen.err"
rc=$?
set -e
[ "$rc" = 1 ] || fail "keygen without an external source: exit $rc, expected 1 (refused)"
grep -q "TR103308-5.15" "$work/keygen.err" || fail "keygen refusal does not name the clause"
pass "keygen without an external seed fails closed naming TR103308-5.15"
echo "rng_output: all checks passed"
