#!/usr/bin/env bash
# docs/deploy.md is a procedure that works: its ```sh blocks, taken in
# order, run as one script as an unprivileged user in a temporary directory
# (PREFIX) against a real PostgreSQL on loopback (scripts/test/pg-start):
# a root and an issuing CA, a revoked client certificate and its CRL, the
# database role, database and passfile, TLS to PostgreSQL with
# sslmode=verify-full, a SoftHSM token, the configuration, --check-config,
# and a first start where the operator's certificate is served and the
# revoked one refused. Any command of the page that fails fails the test.
# No command it runs has the token's PIN or the database password on its
# command line (visible to every user in ps).
# Release build only (as rng_vm): under the sanitizer it proves nothing more.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
if grep -qs '^LISEC_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
  echo "skip: deploy_doc runs in the release build only"
  exit 77
fi
eval "$("$src/scripts/test/softhsm-start" "$work/probe" probe 1234)" # finds the module
unset SOFTHSM2_CONF
chmod 755 "$work"
mkdir -p "$work/bin" "$work/doc" "$work/pg"
cp "$build/cmd/lisecd/lisecd" "$work/bin/"
# the page's sh blocks, in order, as one script
awk '/^```sh$/ {on = 1; next} /^```/ {on = 0} on' "$src/docs/deploy.md" >"$work/deploy.sh"
[ "$(grep -c '' "$work/deploy.sh")" -gt 50 ] || fail "docs/deploy.md has almost no sh blocks"
runas=()
if [ "$(id -u)" = 0 ]; then
  runas=(runuser -u postgres --)
  chown -R postgres "$work/doc" "$work/pg"
fi
url=$("$src/scripts/test/pg-start" "$work/pg")
stop_pg() { "$src/scripts/test/pg-stop" "$work/pg" >/dev/null 2>&1 || true; }
cleanup_hooks+=("stop_pg")
port=${url##*:}
port=${port%%/*}
# The page's production names, mapped to this machine: the database server
# is localhost (its certificate names it), the administrator role is the
# test cluster's superuser, lisecd's role and database get names of their own.
"${runas[@]}" env -i PATH="$work/bin:/usr/local/bin:/usr/bin:/bin" HOME="$work/doc" PREFIX="$work/doc" \
  DB_HOST=localhost DB_PORT="$port" DB_ROLE=lisecd DB_NAME=lisecd \
  PGADMIN="postgresql://lisec@127.0.0.1:$port/postgres" P11="$LISEC_P11_MODULE" LISEC_PORT="$(free_port)" \
  PS4='+ $(date +%s.%N) ' bash -x "$work/deploy.sh" >"$work/doc.out" 2>"$work/doc.err" ||
  { tail -n 40 "$work/doc.err" >&2; tail -n 20 "$work/doc/var/lib/lisec/lisecd.log" >&2 2>/dev/null; fail "a command of docs/deploy.md failed"; }
grep -q 'is valid' "$work/doc.out" || fail "--check-config did not pass: $(cat "$work/doc.out")"
pass "docs/deploy.md: $(grep -c '^+ ' "$work/doc.err") commands ran; PostgreSQL over verify-full TLS, SoftHSM, CRL revocation as written"

# No secret of the doc's on a program's command line, where every user of
# the host reads it (ps, /proc/PID/cmdline): the token's user PIN and the
# database password, read back from the files the doc keeps them in, are
# looked for in the traced commands that run a program (a shell builtin such
# as printf, or an assignment, starts no process). A PIN a PKCS#11 tool was
# given on its command line (not env:NAME) must open the token no more,
# neither as its user nor as its security officer (an SO login is tried by
# setting the user PIN to what it is).
pin=$(head -n 1 "$work/doc/etc/lisec/token.pin")
dbpw=$(cut -d: -f5 "$work/doc/etc/lisec/pgpass")
[ -n "$pin" ] && [ -n "$dbpw" ] || fail "the doc left no token.pin or pgpass to read the secrets back from"
shown=()
while read -r _ _ word rest; do
  [ "$(type -t "$word" 2>/dev/null)" = file ] || continue
  line="$word $rest"
  case $line in
    *"$pin"*) fail "docs/deploy.md puts the token's PIN on the command line of $word (visible in ps)" ;;
    *"$dbpw"*) fail "docs/deploy.md puts the database password on the command line of $word (visible in ps)" ;;
  esac
  rest=" $line "
  while [[ $rest =~ \ --?(so-|new-)?pin[\ =]([^\ ]+)(.*) ]]; do
    [[ ${BASH_REMATCH[2]} == env:* ]] || shown+=("${BASH_REMATCH[2]}")
    rest=${BASH_REMATCH[3]}
  done
done < <(grep -E '^\++ [0-9.]+ ' "$work/doc.err")
p11=(env SOFTHSM2_CONF="$work/doc/etc/lisec/softhsm2.conf" pkcs11-tool --module "$LISEC_P11_MODULE" --token-label lisec)
"${p11[@]}" --login --pin "$pin" -O >/dev/null 2>&1 || fail "the token.pin the doc wrote does not open its token"
for v in "${shown[@]}"; do
  if "${p11[@]}" --login --pin "$v" -O >/dev/null 2>&1 ||
    "${p11[@]}" --login --login-type so --so-pin "$v" --init-pin --new-pin "$pin" >/dev/null 2>&1; then
    fail "a PIN docs/deploy.md put on a command line ($v, visible in ps) still opens the token"
  fi
done
pass "docs/deploy.md puts no PIN or password on a program's command line (${#shown[@]} throw-away PIN(s) shown there open the token no more)"
