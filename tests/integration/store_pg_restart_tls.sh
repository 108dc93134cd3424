#!/usr/bin/env bash
# store_pg_restart over TLS with sslmode=verify-full (see that script).
exec bash "${2:?source dir}/tests/integration/store_pg_restart.sh" "${1:?build dir}" "$2" tls
