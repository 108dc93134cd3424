# Chapter 0: the controller, its PKI and its roles.
say "A development PKI: one CA, the lisecd server certificate, one client certificate per role"
run "$build/cmd/lisec/lisec" pki init "$pki"

say "lisecd starts on SQLite, on a loopback port, speaking only mutual TLS"
start_lisecd "$pki"
echo "   lisecd is listening on $LISECD_URL (store: $work/lisec.db)"

say "The operator asks for the status; lisecd knows who is asking from the certificate"
run cli_as operator status

say "An auditor may read the metrics, but MANO may not: every route names the roles it admits"
as auditor "$LISECD_URL/metrics" | grep -m3 '^lisec_' | sed 's/^/   /'
expect_fail curl -sS --fail-with-body --cacert "$pki/ca.crt" --cert "$pki/mano.crt" --key "$pki/mano.key" "$LISECD_URL/metrics"

say "A certificate from another CA does not even finish the TLS handshake"
"$build/cmd/lisec/lisec" pki init "$work/rogue" >/dev/null 2>&1
expect_fail "$build/cmd/lisec/lisec" --server "$LISECD_URL" --pki "$work/rogue" --role operator --ca "$pki/ca.crt" status
