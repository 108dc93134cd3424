# Chapter 0 of `make demo`: the controller, its PKI and its roles. Who may do
# what is decided from the client certificate alone: its chain to the CA
# lisecd trusts, and the one role it carries.
# shellcheck shell=bash disable=SC2154  # sourced by scripts/demo, which sets work, pki, build

demo_pki() {
  say "A development PKI: one CA, lisecd's server certificate, one client certificate per role"
  run lisec pki init "$pki"
  explain "Each client certificate carries exactly one role, in its subject OU and as a URI:"
  run openssl x509 -in "$pki/li-admin.crt" -noout -subject -ext subjectAltName,extendedKeyUsage
}

demo_start() {
  say "lisecd starts on SQLite, on a free loopback port, speaking only mutual TLS"
  start_lisecd "$pki"
  run cat "$work/lisecd.conf"
  explain "lisecd is listening on $LISECD_URL; it admits only certificates from \$WORK/pki/ca.crt."
}

demo_status_as_roles() {
  say "The same question from three certificates: lisecd knows who asks from the certificate alone"
  run cli_as operator status
  run cli_as auditor status
  run cli_as tenant-example status
  explain "Scripts ask for JSON instead (--json), and read the exit status: 0 ok, 1 refused, 2 error."
  run cli_as operator --json status
}

demo_wrong_role() {
  say "An auditor may read the metrics, MANO may not: every route names the roles it admits"
  show curl --cacert "$pki/ca.crt" --cert "$pki/auditor.crt" --key "$pki/auditor.key" "$LISECD_URL/metrics"
  # read whole, then shown in part: grep -m3 on the pipe would close it under curl
  as auditor "$LISECD_URL/metrics" >"$work/metrics.txt"
  grep -m3 '^lisec_' "$work/metrics.txt" | sed 's/^/     /'
  echo "     ..."
  expect_fail curl -sS --fail-with-body --cacert "$pki/ca.crt" --cert "$pki/mano.crt" --key "$pki/mano.key" \
    "$LISECD_URL/metrics"
  explain "A certificate from the right CA with a role lisecd does not know is admitted nowhere:"
  lisec pki issue "$pki" stranger someone >/dev/null 2>&1
  expect_fail cli_as someone status
}

demo_other_ca() {
  say "A certificate from another CA does not even finish the TLS handshake"
  lisec pki init "$work/rogue" >/dev/null 2>&1
  explain "A second development PKI made by the same command; its operator certificate is well formed:"
  expect_fail lisec --server "$LISECD_URL" --pki "$work/rogue" --role operator --ca "$pki/ca.crt" status
  explain "The CLI checks lisecd in turn: with the wrong CA it refuses to talk to lisecd at all:"
  expect_fail lisec --server "$LISECD_URL" --pki "$pki" --role operator --ca "$work/rogue/ca.crt" status
}

demo_pki
demo_start
demo_status_as_roles
demo_wrong_role
demo_other_ca
