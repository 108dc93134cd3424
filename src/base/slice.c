/* A thread's scheduling slice (Linux 6.12 and later, EEVDF): the longest
 * burst the kernel expects the thread to run before it yields. A woken
 * thread whose slice is shorter than the running thread's takes the core at
 * once instead of waiting for the rest of that thread's slice (up to a few
 * ms), so lisecd's request threads can ask for a short one ([server]
 * request_slice_us): a decision then waits less behind bulk work (a KEK
 * rotation) that shares its cores, at the same CPU share (issue 22 item 6;
 * bench/README.md, "A short slice for the request threads"). The calling
 * thread's policy and nice value are kept; earlier kernels ignore the slice
 * of an ordinary thread. Debian 12's C library has no wrapper, so the
 * system calls go by number. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/base.h"

/* struct sched_attr as the kernel defines it (SCHED_ATTR_SIZE_VER0). */
typedef struct {
  uint32_t size, policy;
  uint64_t flags;
  int32_t nice;
  uint32_t priority;
  uint64_t runtime, deadline, period;
} sched_attr;

int lisec_thread_slice(unsigned slice_us, lisec_err *err) {
  if (slice_us && (slice_us < LISEC_SLICE_MIN_US || slice_us > LISEC_SLICE_MAX_US))
    return lisec_err_set(err, LISEC_EINVAL, "a thread's slice is 0 (the kernel's) or %u-%u us, not %u",
                         LISEC_SLICE_MIN_US, LISEC_SLICE_MAX_US, slice_us);
  sched_attr a;
  memset(&a, 0, sizeof a);
  /* who 0: the calling thread; its policy and nice value, read first */
  if (syscall(SYS_sched_getattr, 0, &a, (unsigned)sizeof a, 0) != 0)
    return lisec_err_set(err, LISEC_EIO, "sched_getattr: %s", strerror(errno));
  a.size = sizeof a;
  a.flags = 0;
  a.runtime = (uint64_t)slice_us * 1000; /* for an ordinary thread: its slice, in ns */
  if (syscall(SYS_sched_setattr, 0, &a, 0) != 0)
    return lisec_err_set(err, LISEC_EIO, "sched_setattr: %s", strerror(errno));
  return 0;
}
