#!/usr/bin/env bash
# Runs test_store_pg_stall (a slow migration under its own bound and one
# past it rolled back, cancel threads bounded while the server takes no
# cancel, a large statement to a stopped backend given up) against a real
# PostgreSQL 15 started for this test on a loopback port, removed whatever
# happens. The test stops backends (SIGSTOP) of a server this script owns.
set -euo pipefail
build=$1 src=$2
test_bin="$build/src/store/test_store_pg_stall"
[ -x "$test_bin" ] || { echo "FAIL: $test_bin not built" >&2; exit 1; }
dir=$(mktemp -d /tmp/lisec-pg-stall-XXXXXX)
trap '"$src/scripts/test/pg-stop" "$dir"' EXIT
url=$(LISEC_PG_THROWAWAY=1 "$src/scripts/test/pg-start" "$dir")
echo "stall suite on $url"
if ! LISEC_TEST_STORE_URL=$url "$test_bin"; then
  echo "--- server log" >&2
  tail -n 40 "$dir/server.log" >&2 || true
  exit 1
fi
