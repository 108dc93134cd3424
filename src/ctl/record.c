/* Recording events in the audit log: a use case's event becomes an audit
 * record (actor, role, action, subject, outcome, reason) and is handed to
 * the durable appender, which seals it to the LI administration when it is
 * about LI and returns once it is on disk. The appender has its own store
 * handle, so a use case records before it makes its change (write-ahead)
 * and records a follow-up when the change then fails. A subject or reason
 * longer than an audit string may be (AUDIT_STR_MAX) is shortened and says
 * so: a long explanation never stops the event from being recorded. */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "ctl/internal.h"

#define CUT_MARK " \xe2\x80\xa6 (%zu bytes cut)"

/* s itself when it fits; otherwise its head, cut on a UTF-8 character
 * boundary, and " … (N bytes cut)" in buf (AUDIT_STR_MAX + 1 bytes). */
static const char *shortened(const char *s, char *buf) {
  size_t n = s ? strlen(s) : 0;
  if (n <= AUDIT_STR_MAX) return s;
  char mark[48];
  /* The mark's own length depends on N; a cut of at most n bytes bounds it. */
  size_t mark_len = (size_t)snprintf(mark, sizeof mark, CUT_MARK, n);
  size_t keep = AUDIT_STR_MAX - mark_len;
  while (keep > 0 && ((unsigned char)s[keep] & 0xc0) == 0x80) keep--;
  memcpy(buf, s, keep);
  snprintf(buf + keep, AUDIT_STR_MAX + 1 - keep, CUT_MARK, n - keep);
  return buf;
}

int ctl_record(lisec_ctl *ctl, const ctl_actor *actor, const ctl_event *ev, uint64_t *index,
               lisec_err *err) {
  char subject[AUDIT_STR_MAX + 1], reason[AUDIT_STR_MAX + 1];
  audit_record r = {
      .li = ev->li,
      .actor = actor->subject,
      .role = actor->role,
      .action = ev->action,
      .outcome = ev->outcome,
      .subjects = {shortened(ev->subject, subject)},
      .n_subjects = ev->subject ? 1 : 0,
      .reasons = {shortened(ev->reason, reason)},
      .n_reasons = ev->reason ? 1 : 0,
  };
  int rc = ctl_auditlog_append(ctl->shared->audit, &r, ev->li, index, err);
  if (rc == LISEC_EDENIED && ev->li)
    return lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-4.1: no LI administration key is configured ([audit] "
                         "li_admin_key), so this LI event cannot be recorded; action refused");
  return rc;
}
