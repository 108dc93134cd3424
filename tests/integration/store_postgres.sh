#!/usr/bin/env bash
# Runs the store test suite (the same binary as test_store_sqlite) against a
# real PostgreSQL server started for this test on a loopback port.
set -euo pipefail
build=$1 src=$2
dir=$(mktemp -d /tmp/lisec-pg-XXXXXX)
trap '"$src/scripts/test/pg-stop" "$dir"' EXIT
url=$("$src/scripts/test/pg-start" "$dir")
LISEC_TEST_STORE_URL=$url "$build/src/store/test_store_sqlite"
