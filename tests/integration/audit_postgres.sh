#!/usr/bin/env bash
# The appender's unit tests against a real PostgreSQL server (group commit,
# refusal when the store fails, tampering refused at open).
set -euo pipefail
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
pgdir=$(mktemp -d "$tmp_base/lisec-pg-auditlog-XXXXXX")
cleanup_hooks+=("'$src/scripts/test/pg-stop' '$pgdir'")
url=$(cd / && "$src/scripts/test/pg-start" "$pgdir")
LISEC_TEST_STORE_URL=$url "$build/src/audit/test_auditlog" || fail "test_auditlog on PostgreSQL"
pass "appender tests on PostgreSQL"
