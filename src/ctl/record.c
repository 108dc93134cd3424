/* Recording events in the audit log: a use case's event becomes an audit
 * record (actor, role, action, subject, outcome, reason) and is handed to
 * the durable appender, which seals it to the LI administration when it is
 * about LI and returns once it is on disk. The appender has its own store
 * handle, so a use case records before it makes its change (write-ahead)
 * and records a follow-up when the change then fails. A subject or reason
 * longer than an audit string may be (AUDIT_STR_MAX) is shortened and says
 * so: a long explanation never stops the event from being recorded.
 * ctl_audit is the one audit-then-act rule every use case follows;
 * ctl_record_docs lets the act be documents written with the record, in
 * its durable transaction (ctl/audit.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "ctl/audit.h"
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

/* rd: an event about Retained Data (and not LI), sealed to the RD
 * administration (ctl_audit_rd). */
static int record(lisec_ctl *ctl, const ctl_actor *actor, const ctl_event *ev, bool rd,
                  ctl_auditlog_doc *docs, size_t n_docs, uint64_t *index, lisec_err *err) {
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
  int rc = rd && !ev->li
               ? ctl_auditlog_append_rd(ctl->shared->audit, &r, docs, n_docs, index, err)
               : ctl_auditlog_append_docs(ctl->shared->audit, &r, ev->li, docs, n_docs, index, err);
  if (rc == LISEC_EDENIED && ev->li)
    return lisec_err_set(err, LISEC_EDENIED,
                         "TR103308-4.1: no LI administration key is configured ([audit] "
                         "li_admin_key), so this LI event cannot be recorded; action refused");
  return rc;
}

int ctl_record(lisec_ctl *ctl, const ctl_actor *actor, const ctl_event *ev, uint64_t *index,
               lisec_err *err) {
  return record(ctl, actor, ev, false, NULL, 0, index, err);
}

int ctl_record_docs(lisec_ctl *ctl, const ctl_actor *actor, const ctl_event *ev, ctl_auditlog_doc *docs,
                    size_t n_docs, uint64_t *index, lisec_err *err) {
  return record(ctl, actor, ev, false, docs, n_docs, index, err);
}

const char *ctl_outcome_name(ctl_outcome o) {
  switch (o) {
  case CTL_OUTCOME_OK: return "ok";
  case CTL_OUTCOME_DENIED: return "denied";
  case CTL_OUTCOME_REFUSED: return "refused";
  case CTL_OUTCOME_FAILED: return "failed";
  }
  return "failed";
}

static int audit_v(lisec_ctl *ctl, const ctl_actor *actor, ctl_outcome outcome, const char *action,
                   bool li, bool rd, const char *reason, int rc, uint64_t *index, lisec_err *err,
                   const char *subject_fmt, va_list ap) __attribute__((format(printf, 11, 0)));

int ctl_audit(lisec_ctl *ctl, const ctl_actor *actor, ctl_outcome outcome, const char *action,
              bool li, const char *reason, int rc, uint64_t *index, lisec_err *err,
              const char *subject_fmt, ...) {
  va_list ap;
  va_start(ap, subject_fmt);
  rc = audit_v(ctl, actor, outcome, action, li, false, reason, rc, index, err, subject_fmt, ap);
  va_end(ap);
  return rc;
}

int ctl_audit_rd(lisec_ctl *ctl, const ctl_actor *actor, ctl_outcome outcome, const char *action,
                 const char *reason, int rc, uint64_t *index, lisec_err *err,
                 const char *subject_fmt, ...) {
  va_list ap;
  va_start(ap, subject_fmt);
  rc = audit_v(ctl, actor, outcome, action, false, true, reason, rc, index, err, subject_fmt, ap);
  va_end(ap);
  return rc;
}

static int audit_v(lisec_ctl *ctl, const ctl_actor *actor, ctl_outcome outcome, const char *action,
                   bool li, bool rd, const char *reason, int rc, uint64_t *index, lisec_err *err,
                   const char *subject_fmt, va_list ap) {
  /* longer than an audit string may be: ctl_record shortens it and says so */
  char subject[2 * AUDIT_STR_MAX + 1];
  vsnprintf(subject, sizeof subject, subject_fmt, ap);
  bool refusal = outcome == CTL_OUTCOME_DENIED || outcome == CTL_OUTCOME_REFUSED;
  if (rc == 0) {
    /* an act, or an event or verdict that is the answer (a decision that
     * says no, a source seen failing): it goes out only once durable */
    ctl_event ev = {action, subject, ctl_outcome_name(outcome), reason, li};
    return record(ctl, actor, &ev, rd, NULL, 0, index, err);
  }
  lisec_err rerr = {0};
  ctl_event ev = {action, subject, ctl_outcome_name(outcome),
                  reason ? reason : (err && err->msg[0] ? err->msg : NULL), li};
  if (record(ctl, actor, &ev, rd, NULL, 0, index, &rerr) == 0) return rc;
  if (refusal) {
    /* fail closed, and say so: the refusal stands without its record. Only
     * the LI administration is told about an LI record, since whether a
     * refusal was an LI record is itself an LI detail (an LI record fails
     * without [audit] li_admin_key where another would not). */
    LOG_ERROR("%s: a refusal could not be recorded (it stands): %s", action, rerr.msg);
    bool told = li ? ctl_actor_role(actor) == CTL_ROLE_LI_ADMIN
                   : !rd || ctl_actor_role(actor) == CTL_ROLE_RD_ADMIN;
    if (err && told) {
      if (err->code == 0) err->code = rc;
      size_t n = strnlen(err->msg, sizeof err->msg);
      snprintf(err->msg + n, sizeof err->msg - n, "%sthis refusal could not be recorded: %s",
               n ? "; " : "", rerr.msg);
    }
  } else {
    LOG_ERROR("%s: a failure after its record could not be recorded: %s", action, rerr.msg);
  }
  return rc;
}
