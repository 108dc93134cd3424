/* The LI function of one VM as a state machine (TR 103 308 §4.1): the
 * hypervisor administration switches it on, the LI administration pairs
 * it, and from then on nobody but the LI administration, by a signed
 * command, switches it off. Each refusal names the clause and the actor so
 * the controller's audit record of the attempt says who tried what. After
 * a restore of the store, the hold and the freshness of signed messages
 * that keep the restore from undoing the lock (li_vm.restored_at). Also
 * the rule that an LI VM only works with known LI VMs (§4.2). */
#include <string.h>

#include "li/li.h"

static const char *const state_names[] = {"off", "enabled", "paired", "retired"};
#define N_STATES (sizeof state_names / sizeof *state_names)

const char *li_state_name(li_state s) { return (unsigned)s < N_STATES ? state_names[s] : "?"; }

int li_state_parse(const char *s, li_state *out) {
  for (unsigned i = 0; s && i < N_STATES; i++)
    if (strcmp(s, state_names[i]) == 0) {
      *out = (li_state)i;
      return 0;
    }
  return LISEC_EINVAL;
}

int li_vm_id_check(const char *id, lisec_err *err) {
  /* LI VMs are model VMs: lisec's one id rule (base/id.c). */
  return lisec_id_check("VM id", id, id ? strnlen(id, LI_VM_ID_MAX + 1) : 0, err);
}

int li_vm_init(li_vm *vm, const char *id, lisec_err *err) {
  memset(vm, 0, sizeof *vm);
  int rc = li_vm_id_check(id, err);
  if (rc) return rc;
  memcpy(vm->id, id, strlen(id) + 1);
  vm->state = LI_STATE_OFF;
  return 0;
}

static bool is(const char *actor, const char *role) { return actor && strcmp(actor, role) == 0; }

static const char *who(const char *actor) { return actor ? actor : "(no role)"; }

/* Nothing leaves retired: the VM's key is gone and so is its LI function. */
static int not_retired(const li_vm *vm, lisec_err *err) {
  if (vm->state != LI_STATE_RETIRED) return 0;
  return lisec_err_set(err, LISEC_ECONFLICT,
                       "TR103308-4.1: LI VM %s is retired (its key was destroyed); register a new "
                       "VM instead",
                       vm->id);
}

int li_enable(li_vm *vm, const char *actor, lisec_err *err) {
  if (!is(actor, "hypervisor-admin"))
    return lisec_err_set(err, LISEC_EAUTH,
                         "TR103308-4.1: only the hypervisor administration enables the LI function "
                         "of VM %s (refused for %.64s)",
                         vm->id, who(actor));
  if (not_retired(vm, err)) return LISEC_ECONFLICT;
  if (vm->state != LI_STATE_OFF)
    return lisec_err_set(err, LISEC_ECONFLICT, "LI function of VM %s is %s already", vm->id,
                         li_state_name(vm->state));
  vm->state = LI_STATE_ENABLED;
  return 0;
}

int li_pair(li_vm *vm, const char *actor, EVP_PKEY *li_admin_key, EVP_PKEY *vm_key,
            const uint8_t *statement, size_t len, int64_t now, lisec_err *err) {
  if (!is(actor, "li-admin"))
    return lisec_err_set(err, LISEC_EAUTH,
                         "TR103308-4.1: only the LI administration pairs VM %s (refused for %.64s)",
                         vm->id, who(actor));
  if (not_retired(vm, err)) return LISEC_ECONFLICT;
  if (vm->state == LI_STATE_OFF)
    return lisec_err_set(err, LISEC_ECONFLICT,
                         "TR103308-4.1: VM %s: the hypervisor administration has not enabled its "
                         "LI function",
                         vm->id);
  if (vm->state == LI_STATE_PAIRED)
    return lisec_err_set(err, LISEC_ECONFLICT,
                         "TR103308-4.1: VM %s is paired already (a signed disable comes first)",
                         vm->id);
  int64_t expires = 0;
  int rc = li_pair_verify(statement, len, li_admin_key, vm->id, vm_key, vm->last_counter, now, err);
  if (!rc) rc = li_message_expires(statement, len, &expires, err);
  if (!rc) rc = li_restore_fresh(vm, expires, "pairing statement", err);
  if (rc) return rc;
  if ((rc = li_key_sha256(vm_key, vm->key_sha256, err))) return rc;
  vm->has_key = true;
  vm->state = LI_STATE_PAIRED;
  vm->held = false;
  return 0;
}

int li_disable(li_vm *vm, const char *actor, lisec_err *err) {
  if (vm->state == LI_STATE_PAIRED)
    return lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-4.1: VM %s is paired with the LI administration; only a command "
                         "signed by the LI administration disables it (attempt by %.64s refused)",
                         vm->id, who(actor));
  /* After a restore the VM may have been paired since the backup: held as
   * if paired until the LI administration confirms what the store says. */
  bool held = vm->held && vm->state == LI_STATE_ENABLED;
  if (held && !is(actor, "li-admin"))
    return lisec_err_set(err, LISEC_EDENIED,
                         LI_RESTORE_RULE ": the LI state of VM %s was put back from a backup "
                         "(lisec restore) and may be older than its pairing; until the LI "
                         "administration confirms it, only the LI administration switches it off "
                         "(attempt by %.64s refused)",
                         vm->id, who(actor));
  if (!held && !is(actor, "hypervisor-admin"))
    return lisec_err_set(err, LISEC_EAUTH,
                         "TR103308-4.1: only the hypervisor administration disables an unpaired LI "
                         "function (refused for %.64s)",
                         who(actor));
  if (not_retired(vm, err)) return LISEC_ECONFLICT;
  if (vm->state == LI_STATE_OFF)
    return lisec_err_set(err, LISEC_ECONFLICT, "LI function of VM %s is off already", vm->id);
  vm->state = LI_STATE_OFF;
  vm->held = false;
  return 0;
}

int li_confirm(li_vm *vm, const char *actor, lisec_err *err) {
  if (!is(actor, "li-admin"))
    return lisec_err_set(err, LISEC_EAUTH,
                         LI_RESTORE_RULE ": only the LI administration confirms the LI state of a "
                         "VM after a restore (refused for %.64s)",
                         who(actor));
  if (not_retired(vm, err)) return LISEC_ECONFLICT;
  if (!vm->held)
    return lisec_err_set(err, LISEC_ECONFLICT,
                         LI_RESTORE_RULE ": VM %s is not held after a restore; nothing to confirm",
                         vm->id);
  vm->held = false;
  return 0;
}

int li_restore_fresh(const li_vm *vm, int64_t expires, const char *what, lisec_err *err) {
  /* A message signed in the second of the restore, before it, expires at
   * restored_at + LI_CMD_LIFETIME_MAX at the latest: that one too. */
  if (vm->restored_at <= 0 || expires > vm->restored_at + LI_CMD_LIFETIME_MAX) return 0;
  char at[32], exp[32], min[32];
  lisec_time_format(vm->restored_at, at);
  lisec_time_format(expires, exp);
  lisec_time_format(vm->restored_at + LI_CMD_LIFETIME_MAX, min);
  return lisec_err_set(err, LISEC_EDENIED,
                       LI_RESTORE_RULE ": the store was restored from a backup at %s, which put "
                       "the LI states and counters back; this %s expires at %s, not after %s (the "
                       "restore plus the longest lifetime of a signed message), so it may have "
                       "been signed before the restore and used since: refused; sign a new one "
                       "expiring after %s (the longest lifetime, 7 days)",
                       at, what, exp, min, min);
}

int li_disable_signed(li_vm *vm, EVP_PKEY *li_admin_key, const uint8_t *cmd, size_t len,
                      int64_t now, lisec_err *err) {
  if (vm->state != LI_STATE_PAIRED)
    return lisec_err_set(err, LISEC_ECONFLICT, "VM %s is %s, not paired", vm->id,
                         li_state_name(vm->state));
  li_command c;
  int rc = li_command_verify(cmd, len, li_admin_key, vm->id, vm->last_counter, now, &c, err);
  if (!rc) rc = li_restore_fresh(vm, c.expires, "disable command", err);
  if (rc) return rc;
  vm->last_counter = c.counter;
  vm->state = LI_STATE_OFF;
  vm->held = false;
  vm->has_key = false;
  memset(vm->key_sha256, 0, sizeof vm->key_sha256);
  return 0;
}

int li_retire_signed(li_vm *vm, EVP_PKEY *li_admin_key, const uint8_t *cmd, size_t len,
                     int64_t now, lisec_err *err) {
  if (not_retired(vm, err)) return LISEC_ECONFLICT;
  li_command c;
  int rc = li_retire_verify(cmd, len, li_admin_key, vm->id, vm->last_counter, now, &c, err);
  if (!rc) rc = li_restore_fresh(vm, c.expires, "retire command", err);
  if (rc) return rc;
  vm->last_counter = c.counter;
  vm->state = LI_STATE_RETIRED;
  vm->held = false;
  vm->has_key = false;
  memset(vm->key_sha256, 0, sizeof vm->key_sha256);
  return 0;
}

static int peer_ok(const li_peer *p, const li_peer *other, lisec_err *err) {
  if (!p->registered)
    return lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-4.2: VM %.64s is unknown; an LI VM only operates with known VMs",
                         p->id ? p->id : "?");
  if (p->li && p->state != LI_STATE_PAIRED)
    return lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-4.2: LI VM %.64s is not paired with the LI administration, so "
                         "%.64s may not operate with it",
                         p->id ? p->id : "?", other->id ? other->id : "?");
  return 0;
}

int li_connection_check(const li_peer *a, const li_peer *b, lisec_err *err) {
  if (!a->li && !b->li) return 0; /* not an LI connection: the model's other rules apply */
  int rc = peer_ok(a, b, err);
  return rc ? rc : peer_ok(b, a, err);
}
