#!/usr/bin/env bash
# Runs the store test suite (the same binary as test_store_sqlite) against a
# real PostgreSQL 15 server started for this test on a loopback port, and
# removes the server whatever happens. Missing PostgreSQL binaries fail it.
set -euo pipefail
build=$1 src=$2
test_bin="$build/src/store/test_store_sqlite"
[ -x "$test_bin" ] || { echo "FAIL: $test_bin not built" >&2; exit 1; }
dir=$(mktemp -d /tmp/lisec-pg-XXXXXX)
trap '"$src/scripts/test/pg-stop" "$dir"' EXIT
# A throw-away cluster: no fsync (scripts/test/pg-start says what that keeps).
url=$(LISEC_PG_THROWAWAY=1 "$src/scripts/test/pg-start" "$dir")
echo "store suite on $url"
if ! LISEC_TEST_STORE_URL=$url "$test_bin"; then
  echo "--- server log" >&2
  tail -n 40 "$dir/server.log" >&2 || true
  exit 1
fi
