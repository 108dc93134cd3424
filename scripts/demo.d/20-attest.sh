# Chapter: host attestation with a TPM (TR 103 308 §5.1, §5.4, §6.2 req. 8-10
# and 12-14). A software TPM boots a host, lisec-agent enrols it with lisecd
# and attests on its own; the host becomes trusted, with the location asset
# management signed. A power cycle voids the location until asset
# management confirms it again; an agent that falls silent makes the host
# untrusted.
# shellcheck shell=bash disable=SC2154  # sourced by scripts/demo, which sets work, pki, build, src
. "$src/tests/integration/attest_lib.sh"
agent_bin="$build/cmd/lisec-agent/lisec-agent"

say "A host boots with a TPM 2.0 (swtpm): its firmware measures 40 events into the PCRs"
tpm_up demoA
tpm_use demoA
evgen --log "$work/fw-a.bin" --extends "$work/fw-a.txt" --reference "$work/reference.json"
tpm_extend "$work/fw-a.txt"
run tpm2_pcrread sha256:0,4,7
explain "The operator's reference values say which digests each boot component may have (§5.4);" \
  "the generator wrote them for this good boot to \$WORK/reference.json."

cat >"$work/agent.conf" <<CONF
[tpm]
tcti = $TPM2TOOLS_TCTI
pcrs = 0,1,2,3,4,5,6,7,8,15
[agent]
state_dir = $work/agent-state
eventlog = $work/fw-a.bin
poll_ms = 300
[server]
url = $LISECD_URL
ca = $pki/ca.crt
cert = $pki/host-a.crt
key = $pki/host-a.key
CONF
host_a=$("$agent_bin" -c "$work/agent.conf" host-id)

say "The host's identity is its TPM's endorsement key: the host id is SHA-256 of the EK"
run "$agent_bin" -c "$work/agent.conf" host-id
explain "The host's client certificate carries the role host and this id as its CN, so it can" \
  "act only for itself:"
run lisec pki issue "$pki" host-a host "$host_a"

say "Asset management signs where the host is, bound to the TPM's current resetCount"
am_pki "$work/am"
mkdir -p "$work/agent-state"
issue_location "$work/am" "$host_a" "$(tpm_reset_count)" "$work/agent-state/location.cms"
echo >>"$work/agent-state/location.cms.json" # (a newline for the screen; the certificate is signed already)
run cat "$work/agent-state/location.cms.json"

say "lisecd restarts with reference values, the asset-management CA and a short attestation interval"
stop_lisecd
start_lisecd "$pki" "[audit]" "li_admin_key = $work/li-admin.pub" "[model]" "allow_declared_trust = true" \
  "[attest]" "reference_file = $work/reference.json" "location_ca = $work/am/ca.crt" \
  "interval_s = 4" "grace_s = 2" "check_ms = 250"
sed -i "s|^url = .*|url = $LISECD_URL|" "$work/agent.conf"
printf '{"id":"%s","protection":"li"}\n' "$host_a" >"$work/host-a.host"
run cli_as operator model put host "$work/host-a.host"
explain "The model knows the host now, but not its trust or location: nobody may declare those."

say "lisec-agent runs on its own: it enrols (MakeCredential / ActivateCredential) and attests"
show lisec-agent -c \$WORK/agent.conf run
"$agent_bin" -c "$work/agent.conf" run >"$work/agent.log" 2>&1 &
demo_agent=$!
cleanup_hooks+=("kill $demo_agent 2>/dev/null || true")
host_wait() { # host_wait JQ: until the host's attestation satisfies it
  for _ in $(seq 1 150); do
    as operator "$LISECD_URL/v1/hosts/$host_a/attestation" | jq -e "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$work/agent.log" >&2
  fail "the host never reached $1"
}
host_wait '.lisec.trust == "trusted"'
sed 's/^/     /' "$work/agent.log" | short
run cli_as operator host show "$host_a"
run cli_as operator model get host "$host_a"
explain "Trust and location in the model now come from the TPM: the quote's signature, the" \
  "nonce, the PCRs, the event log against the reference values, and the location certificate" \
  "measured into PCR 15 with the quote's resetCount equal to the certificate's."

say "Relying parties that speak RATS read the result as an EAT Attestation Result (AR4SI trust vector)"
show curl ... "$LISECD_URL/v1/hosts/${host_a:0:12}.../attestation"
as auditor "$LISECD_URL/v1/hosts/$host_a/attestation" |
  jq '{eat_profile, iat, submods: {"lisec-host": .submods["lisec-host"] | {"ear.status", "ear.trustworthiness-vector"}}}' |
  sed 's/^/     /'

say "The host is power-cycled (it may have been moved): resetCount goes up"
kill -TERM "$demo_agent"
wait "$demo_agent" || true
before=$(tpm_reset_count)
tpm_power_cycle
tpm_extend "$work/fw-a.txt"
explain "TPM resetCount: $before before, $(tpm_reset_count) after. The agent starts again with the boot."
"$agent_bin" -c "$work/agent.conf" run >>"$work/agent.log" 2>&1 &
demo_agent=$!
cleanup_hooks+=("kill $demo_agent 2>/dev/null || true")
host_wait '.lisec.location == null and (.lisec.reasons | map(test("R10")) | any)'
run cli_as operator host show "$host_a"
explain "The boot is still good, but the location is void (requirement 10/14): every" \
  "jurisdiction check that needs it now fails closed, until asset management confirms it."

say "Asset management checks the chassis and signs the location again, for the new resetCount"
issue_location "$work/am" "$host_a" "$(tpm_reset_count)" "$work/location-2.cms"
run cli_as operator host confirm-location "$host_a" --location "$work/location-2.cms"
host_wait '.lisec.location.site == "HEL1"'
run cli_as operator host show "$host_a"
explain "lisecd checked the certificate and handed it to the agent at its next challenge; the" \
  "agent measured it into PCR 15 and attested at once."

say "The agent falls silent: after the interval and its grace the host is untrusted (overdue)"
kill -TERM "$demo_agent"
wait "$demo_agent" || true
host_wait '.lisec.trust == "untrusted:overdue"'
expect_fail cli_as operator host show "$host_a"
run cli_as operator model get host "$host_a"
explain "Fail closed: a host is trusted only while it keeps proving it. Every result above is in" \
  "the audit log with its reasons."
"$swtpm_stop" "$work/demoA"
