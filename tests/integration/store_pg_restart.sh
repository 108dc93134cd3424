#!/usr/bin/env bash
# lisecd on PostgreSQL survives a restart of the server (issue 25 item 6):
# every worker, the audit appender and the background threads hold a
# connection; after `pg_ctl restart` the next requests (reads and writes)
# all succeed, none answers 503, and nothing written before is lost. With
# the argument "tls" the server only admits TLS (hostssl) with a
# certificate from a test CA and lisecd connects with sslmode=verify-full,
# where a lost session shows as "SSL connection has been closed
# unexpectedly". While the server is down a request is refused 503 naming
# the store, and the first request after it is back succeeds (plain only:
# it proves nothing more over TLS).
build=${1:?build dir}
src=${2:?source dir}
mode=${3:-plain}
source "$src/tests/integration/lib/common.sh"
pki=$work/pki
make_pki "$pki"
pgdir=$(mktemp -d "$tmp_base/lisec-pg-restart-XXXXXX")
cleanup_hooks+=("'$src/scripts/test/pg-stop' '$pgdir'")
url=$(cd / && "$src/scripts/test/pg-start" "$pgdir")
port=${url##*:}
port=${port%%/*}
bin=${LISEC_PG_BIN:-/usr/lib/postgresql/15/bin}
as_pg=()
[ "$(id -u)" -eq 0 ] && as_pg=(runuser -u postgres --)
pg_ctl() { (cd / && "${as_pg[@]}" "$bin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -t 60 "$@" >/dev/null) || fail "pg_ctl $*"; }

if [ "$mode" = tls ]; then
  # a CA of the test's own and a server certificate for localhost
  d=$work/pgca
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" -out "$d/ca.crt" \
    -subj "/CN=lisec test PostgreSQL CA" -days 2 -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign" 2>/dev/null || fail "openssl: the test CA"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/server.key" \
    -subj "/CN=localhost" 2>/dev/null |
    openssl x509 -req -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 -out "$d/server.crt" \
      -extfile <(printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n') 2>/dev/null ||
    fail "openssl: the server certificate"
  install -m 0600 "$d/server.key" "$pgdir/data/server.key"
  install -m 0644 "$d/server.crt" "$pgdir/data/server.crt"
  [ "$(id -u)" -eq 0 ] && chown postgres "$pgdir/data/server.key" "$pgdir/data/server.crt"
  printf "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n" >>"$pgdir/data/postgresql.conf"
  # TCP clients must use TLS: every host line becomes hostssl
  sed -i 's/^host /hostssl /' "$pgdir/data/pg_hba.conf"
  pg_ctl reload # SSL settings and pg_hba.conf take effect on a reload
  for _ in $(seq 1 100); do
    ! psql -qtA "postgresql://lisec@127.0.0.1:$port/lisec?sslmode=disable" -c 'SELECT 1' >/dev/null 2>&1 && break
    sleep 0.1
  done
  url="postgresql://lisec@localhost:$port/lisec?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert=$d/ca.crt"
  ! psql -qtA "postgresql://lisec@127.0.0.1:$port/lisec?sslmode=disable" -c 'SELECT 1' >/dev/null 2>&1 ||
    fail "the server admits a client without TLS"
  [ "$(psql -qtA "$url" -c 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')" = t ] ||
    fail "the test's URL does not connect over TLS"
fi

STORE_URL=$url start_lisecd "$pki"
req() { # METHOD PATH [BODY] -> the HTTP status
  if [ $# -ge 3 ]; then as operator -o "$work/body" -w '%{http_code}' -X "$1" -H 'Content-Type: application/json' -d "$3" "$LISECD_URL$2"
  else as operator -o "$work/body" -w '%{http_code}' -X "$1" "$LISECD_URL$2"; fi
}
n=0
write() { # a new jurisdiction: an audit record and a document
  n=$((n + 1))
  local st
  st=$(req POST /v1/model/jurisdiction "{\"id\":\"j-$n\",\"codes\":[\"FI\"]}")
  [ "$st" = 201 ] || fail "$1: write $n -> $st: $(cat "$work/body")"
}
read_() { # the attestation list is read from the store at each request
  local st
  st=$(req GET /v1/attest/hosts)
  [ "$st" = 200 ] || fail "$1: read -> $st: $(cat "$work/body")"
}
# every worker has its connection in use (each request is a new TLS
# connection to lisecd, spread over its 2 workers)
for _ in 1 2 3 4; do write "before"; read_ "before"; done

pg_ctl -m fast restart
for _ in 1 2 3 4; do read_ "after the restart"; write "after the restart"; done
pass "$mode: after a PostgreSQL restart every read and write succeeds at once (no 503)"

if [ "$mode" = plain ]; then
pg_ctl -m fast stop
st=$(req GET /v1/attest/hosts)
[ "$st" = 503 ] || fail "with PostgreSQL stopped a read answered $st, not 503: $(cat "$work/body")"
grep -qi 'store\|postgresql' "$work/body" || fail "the 503 does not name the store: $(cat "$work/body")"
pg_ctl -o "-c listen_addresses=127.0.0.1 -p $port -k $pgdir" start
read_ "after the server came back"
write "after the server came back"
pass "$mode: with the server down a request is refused 503 naming the store; once it is back the next request succeeds"
fi

ids=$(as operator "$LISECD_URL/v1/model/jurisdiction" | jq -r '[.jurisdictions[].id] | sort | join(" ")')
want=$(for i in $(seq 1 "$n"); do echo "j-$i"; done | sort | tr '\n' ' ' | sed 's/ $//')
[ "$ids" = "$want" ] || fail "stored jurisdictions '$ids', wanted '$want'"
pass "$mode: every write made around the restarts is stored ($n)"
stop_lisecd
! grep -q Sanitizer "$work/lisecd.log" || { cat "$work/lisecd.log" >&2; fail "sanitizer report"; }
