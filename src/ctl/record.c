/* Recording events in the audit log: a use case's event becomes an audit
 * record (actor, role, action, subject, outcome, reason) and is handed to
 * the durable appender, which seals it to the LI administration when it is
 * about LI and returns once it is on disk. The appender has its own store
 * handle, so a use case records before it makes its change (write-ahead)
 * and records a follow-up when the change then fails. */
#include "ctl/internal.h"

int ctl_record(lisec_ctl *ctl, const ctl_actor *actor, const ctl_event *ev, uint64_t *index,
               lisec_err *err) {
  audit_record r = {
      .li = ev->li,
      .actor = actor->subject,
      .role = actor->role,
      .action = ev->action,
      .outcome = ev->outcome,
      .subjects = {ev->subject},
      .n_subjects = ev->subject ? 1 : 0,
      .reasons = {ev->reason},
      .n_reasons = ev->reason ? 1 : 0,
  };
  int rc = ctl_auditlog_append(ctl->shared->audit, &r, ev->li, index, err);
  if (rc == LISEC_EDENIED && ev->li)
    return lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-4.1: no LI administration key is configured ([audit] "
                         "li_admin_key), so this LI event cannot be recorded; action refused");
  return rc;
}
