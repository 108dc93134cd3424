/* Every setting lisecd accepts, in one list: a key not listed here stops the
 * start, so a misspelt setting is never silently replaced by its default. A
 * module that reads a new key adds one line in its section below (and
 * documents it in examples/lisecd.conf and docs/operations.md). */
#include <stddef.h>

#include "lisecd.h"

const char *const lisecd_known_settings[] = {
    /* the HTTPS API (api/) */
    "server.listen", "server.workers", "server.max_connections", "server.handshake_timeout_ms",
    "server.idle_timeout_s", "server.max_header_bytes", "server.max_client_connections",
    "server.max_body_memory", "server.linger_ms", "server.linger_bytes", /* api/server.c */
    "server.stop_timeout_s", /* the parent's bound on each process's stop (main.c) */
    "server.bulk_channels", "server.bulk_nice", /* bulk work's threads and priority (api/backend.c) */
    "server.request_slice_us", /* the request threads' scheduling slice (base/slice.c) */
    "tls.cert", "tls.key", "tls.client_ca", "tls.crl", "tls.max_file_bytes", /* api/tls.c */
    "api.role_source", "api.max_body", "api.refusal_rate", "api.refusal_burst", "api.refusal_clients",
    /* the store and logging */
    "store.url", "store.timeout_ms", "store.migration_timeout_ms",
    "log.level", "log.json", "log.format", "log.access",
    /* plain-HTTP /healthz and /readyz for load balancers (probe.c) */
    "probe.listen", "probe.max_connections", "probe.idle_timeout_s",
    /* the audit log (ctl/record.c, ctl/auditlog.c) */
    "audit.li_admin_key", "audit.origin", "audit.vkey_file",
    "audit.checkpoint_entries", "audit.checkpoint_ms", "audit.open_full_check_below",
    "audit.max_batch", "audit.gather_us",
    "audit.pkcs11_module", "audit.token", "audit.pin_file", "audit.key_label",
    "audit.development_key_file", "audit.allow_development_key",
    /* RFC 3161 timestamps on checkpoints (ctl/audit_tsa.c) */
    "audit.tsa_url", "audit.tsa_ca", "audit.tsa_tls_ca", "audit.tsa_timeout_ms", "audit.tsa_max_bytes",
    "audit.tsa_max_skew_ms", "audit.tsa_required",
    /* the target vault (ctl/kek.c) */
    "vault.pkcs11_module", "vault.pkcs11_init_args", "vault.token", "vault.pin_file", "vault.key_label",
    "vault.development_key_file", "vault.allow_development_key",
    "vault.cache_ttl_s", "vault.cache_keys", "vault.token_sessions", /* keys/service.c */
    /* VNF packages (ctl/pkg.c) */
    "pkg.vendor_ca", "pkg.operator_ca", "pkg.li_admin_ca", "pkg.crl", "pkg.max_package", "pkg.max_expanded", "pkg.max_crl",
    /* LI VMs (ctl/li.c) */
    "li.admin_pubkey", "li.pkcs11_module", "li.token", "li.pin_file", "li.restart_stopped",
    /* signed events of LI VMs (ctl/events.c) */
    "events.max_event", "events.max_batch",
    /* the trust model (ctl/model.c) */ "model.allow_declared_trust", "model.attestation_max_age_s",
    /* the Kubernetes admission webhook (ctl/k8s_admit.c) */ "k8s.scheduler_name",
    /* attestation */
    "attest.reference_file", "attest.location_ca", "attest.ek_ca", "attest.interval_s", "attest.grace_s", "attest.nonce_ttl_s", "attest.fresh_wait_ms", "attest.check_ms", "attest.quarantine_command", "attest.quarantine_timeout_s", "attest.inventory_max_bytes", "attest.inventory_max_domains",
    /* chassis telemetry from the hosts' BMCs (ctl/telemetry.c, issue 19) */
    "telemetry.missing", "telemetry.max_age_s", "telemetry.idle_w", "telemetry.peak_w", "telemetry.busy_vms",
    "telemetry.max_bytes",
    /* the ADMF (ctl/tasks.c, ctl/x1_status.c, ctl/x1_reports.c) */
    "x1.keepalive_timeout_s", "x1.request_timeout_ms", "x1.connect_timeout_ms", "x1.report_rate_per_ne",
    "x1.report_burst_per_ne", "x1.report_queue_max", "x1.compliance_record_s", "x1.unknown_xid_backoff_max_s",
    "x1.announce_quiet_ms", "x1.announce_settle_max_ms",
    /* the keys process's channel and its X1 client keys (src/keys) */
    "keys.spin_us", "keys.max_message", "keys.max_batch", "keys.x1_key_dir",
    /* the per-process sandbox (cmd/lisecd/sandbox.c) */
    "security.sandbox",
    /* one fenced leader among several lisecd on PostgreSQL (ctl/ha.c, docs/ha.md) */
    "ha.enabled", "ha.node", "ha.advertise", "ha.lock_poll_ms", "ha.lock_timeout_ms", "ha.store_failover_ms", "ha.lease_ms",
    /* trusted time: chronyd's verdict and the TPM clocks (ctl/clock.c, docs/time.md) */
    "time.source", "time.chrony_socket", "time.reply_socket", "time.max_offset_ms",
    "time.max_root_dispersion_ms", "time.require_nts", "time.poll_ms", "time.stale_ms",
    "time.timeout_ms", "time.tpm_jump_ms", "time.tpm_min_hosts", "time.tpm_window_s",
    /* Retained Data (ctl/rd.c, keys/rdkey.c; issue 20) */
    "audit.rd_seal_key", "rd.admin_pubkey", "rd.pkcs11_module", "rd.token", "rd.pin_file", "rd.check_ms",
    "rd.max_live_keys",
    /* randomness */
    /* the KEK rotation's write transactions (ctl/vault_rotation.c) */
    "vault.rotation_chunk", "vault.rotation_rate", "vault.rotation_nice",
    /* front workers of their own for hosts' connections (api/server.c) */
    "server.bulk_workers",
    NULL,
};

void lisecd_config_forget_credentials(lisec_config *cfg) {
  static const char *const credentials[][2] = {{"store", "url"}, {"audit", "tsa_url"}};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(credentials); i++)
    lisec_config_forget(cfg, credentials[i][0], credentials[i][1]);
}
