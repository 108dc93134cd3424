/* Raw entropy sources read straight from the OS and the CPU: getrandom()
 * (through the vDSO where the kernel exports __vdso_getrandom, Linux 6.11+,
 * else the system call), RDRAND and RDSEED (where the CPU has them, found with
 * CPUID) and CPU timing jitter. They hand out raw bytes; crediting and health
 * testing is the caller's (lisec-entropyd runs SP 800-90B tests on each, the
 * VNF library only hedges with them and credits nothing). */
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "rng/libos.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

bool rngl_cpu_has_rdrand(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  return (c >> 30) & 1u;
}

bool rngl_cpu_has_rdseed(void) {
  unsigned a, b, c, d;
  if (__get_cpuid_max(0, NULL) < 7) return false;
  __cpuid_count(7, 0, a, b, c, d);
  return (b >> 18) & 1u;
}

__attribute__((target("rdrnd"))) static size_t rdrand_fill(uint8_t *p, size_t n) {
  size_t done = 0;
  while (done < n) {
    unsigned long long v;
    int ok = 0;
    for (int tries = 0; tries < 10 && !ok; tries++) ok = _rdrand64_step(&v);
    if (!ok) break;
    size_t k = n - done < 8 ? n - done : 8;
    memcpy(p + done, &v, k);
    done += k;
  }
  return done;
}

__attribute__((target("rdseed"))) static size_t rdseed_fill(uint8_t *p, size_t n) {
  size_t done = 0;
  while (done < n) {
    unsigned long long v;
    int ok = 0;
    /* RDSEED may run dry under contention; retry briefly, then give up. */
    for (int tries = 0; tries < 100 && !ok; tries++) {
      ok = _rdseed64_step(&v);
      if (!ok) _mm_pause();
    }
    if (!ok) break;
    size_t k = n - done < 8 ? n - done : 8;
    memcpy(p + done, &v, k);
    done += k;
  }
  return done;
}

size_t rngl_rdrand(void *buf, size_t n) {
  static int have = -1;
  if (have < 0) have = rngl_cpu_has_rdrand();
  return have ? rdrand_fill(buf, n) : 0;
}

size_t rngl_rdseed(void *buf, size_t n) {
  static int have = -1;
  if (have < 0) have = rngl_cpu_has_rdseed();
  return have ? rdseed_fill(buf, n) : 0;
}
#else
bool rngl_cpu_has_rdrand(void) { return false; }
bool rngl_cpu_has_rdseed(void) { return false; }
size_t rngl_rdrand(void *buf, size_t n) {
  (void)buf, (void)n;
  return 0;
}
size_t rngl_rdseed(void *buf, size_t n) {
  (void)buf, (void)n;
  return 0;
}
#endif

/* ---- the kernel's getrandom() through the vDSO --------------------------
 * The vDSO function is looked up in the vDSO image the kernel maps into every
 * process (getauxval(AT_SYSINFO_EHDR)), not through the C library, so it is
 * used whatever glibc's version. Each thread gets its own opaque state in
 * memory mapped as the kernel asks (MAP_DROPPABLE: wiped in a forked child,
 * which the vDSO notices and rekeys from the kernel); the vDSO compares the
 * state's generation with the kernel's on every call, so its output moves on
 * exactly when the kernel's does, e.g. after the vmgenid driver reseeds. */

typedef ssize_t (*vgetrandom_fn)(void *buf, size_t len, unsigned flags, void *state,
                                 size_t state_len);

/* struct vgetrandom_opaque_params of <linux/random.h> (6.11+), spelled out so
 * the code builds against older kernel headers. */
struct vgr_params {
  uint32_t size_of_opaque_state, mmap_prot, mmap_flags, reserved[13];
};

static pthread_once_t vgr_once = PTHREAD_ONCE_INIT;
static vgetrandom_fn vgr_fn;
static struct vgr_params vgr_par;
static pthread_key_t vgr_key;
static __thread void *vgr_state __attribute__((tls_model("initial-exec")));
static __thread bool vgr_failed __attribute__((tls_model("initial-exec")));

/* The number of dynamic symbols, from DT_HASH's chain count or, where only
 * DT_GNU_HASH exists, from the end of the longest bucket chain. */
static size_t vdso_nsyms(const uint32_t *hash, const uint32_t *gnu) {
  if (hash) return hash[1];
  if (!gnu) return 0;
  uint32_t nbuckets = gnu[0], symoff = gnu[1], bloom = gnu[2];
  const uint32_t *buckets = gnu + 4 + bloom * (sizeof(ElfW(Addr)) / 4);
  const uint32_t *chain = buckets + nbuckets;
  uint32_t last = 0;
  for (uint32_t b = 0; b < nbuckets; b++)
    if (buckets[b] > last) last = buckets[b];
  if (last < symoff) return symoff;
  while (!(chain[last - symoff] & 1u)) last++;
  return (size_t)last + 1;
}

static void *vdso_lookup(const char *name) {
  uintptr_t base = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
  if (!base) return NULL;
  const ElfW(Ehdr) *eh = (const void *)base;
  if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0) return NULL;
  const ElfW(Phdr) *ph = (const void *)(base + eh->e_phoff);
  uintptr_t load = 0;
  bool loaded = false;
  const ElfW(Dyn) *dyn = NULL;
  for (unsigned i = 0; i < eh->e_phnum; i++) {
    if (ph[i].p_type == PT_LOAD && !loaded) {
      load = base + ph[i].p_offset - ph[i].p_vaddr;
      loaded = true;
    } else if (ph[i].p_type == PT_DYNAMIC) {
      dyn = (const void *)(base + ph[i].p_offset);
    }
  }
  if (!loaded || !dyn) return NULL;
  const ElfW(Sym) *sym = NULL;
  const char *str = NULL;
  const uint32_t *hash = NULL, *gnu = NULL;
  for (; dyn->d_tag != DT_NULL; dyn++) {
    if (dyn->d_tag == DT_SYMTAB) sym = (const void *)(load + dyn->d_un.d_ptr);
    else if (dyn->d_tag == DT_STRTAB) str = (const void *)(load + dyn->d_un.d_ptr);
    else if (dyn->d_tag == DT_HASH) hash = (const void *)(load + dyn->d_un.d_ptr);
    else if (dyn->d_tag == DT_GNU_HASH) gnu = (const void *)(load + dyn->d_un.d_ptr);
  }
  if (!sym || !str) return NULL;
  size_t n = vdso_nsyms(hash, gnu);
  for (size_t i = 0; i < n; i++)
    if (ELF64_ST_TYPE(sym[i].st_info) == STT_FUNC && sym[i].st_shndx != SHN_UNDEF &&
        strcmp(str + sym[i].st_name, name) == 0)
      return (void *)(load + sym[i].st_value);
  return NULL;
}

/* The key's destructor, run in the exiting thread. The thread's pointer is
 * cleared too: another destructor that runs later (the application's, or
 * the library's own) may still ask for random bytes, and must get a new
 * state rather than the page just unmapped (the new one is freed when the
 * destructors run again, as pthread_setspecific makes them). */
static void vgr_state_free(void *p) {
  if (p) munmap(p, (size_t)sysconf(_SC_PAGESIZE));
  if (vgr_state == p) vgr_state = NULL;
}

static void vgr_init(void) {
  vgetrandom_fn f = (vgetrandom_fn)vdso_lookup("__vdso_getrandom");
  if (!f) return;
  struct vgr_params p;
  memset(&p, 0, sizeof p);
  /* (NULL, 0, 0, &params, ~0) asks the vDSO how to allocate a state. */
  if (f(NULL, 0, 0, &p, ~(size_t)0) != 0 || p.size_of_opaque_state == 0 ||
      p.size_of_opaque_state > (size_t)sysconf(_SC_PAGESIZE))
    return;
  if (pthread_key_create(&vgr_key, vgr_state_free) != 0) return;
  vgr_par = p;
  vgr_fn = f;
}

bool rngl_vdso_getrandom_available(void) {
  pthread_once(&vgr_once, vgr_init);
  return vgr_fn != NULL;
}

/* This thread's vDSO state: one page per thread holds one state (a state
 * must not cross a page), mapped at the thread's first call; false when it
 * could not be (then never tried again on this thread). */
static bool vgr_thread_state(void) {
  if (vgr_state) return true;
  if (vgr_failed) return false;
  void *m = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), (int)vgr_par.mmap_prot,
                 (int)vgr_par.mmap_flags, -1, 0);
  if (m == MAP_FAILED) {
    vgr_failed = true;
    return false;
  }
  vgr_state = m;
  pthread_setspecific(vgr_key, m);
  return true;
}

ssize_t rngl_vgetrandom(void *buf, size_t n) {
  if (!rngl_vdso_getrandom_available() || !vgr_thread_state()) return RNGL_NO_VDSO;
  return vgr_fn(buf, n, 0, vgr_state, vgr_par.size_of_opaque_state);
}

int rngl_getrandom(void *buf, size_t n, lisec_err *err) {
  uint8_t *p = buf;
  bool vdso = true;
  while (n) {
    ssize_t r = vdso ? rngl_vgetrandom(p, n) : RNGL_NO_VDSO;
    if (r == RNGL_NO_VDSO) {
      vdso = false;
      r = getrandom(p, n, 0);
      if (r < 0) r = -errno;
    }
    if (r < 0) {
      if (r == -EINTR) continue;
      return lisec_err_set(err, LISEC_EIO, "getrandom: %s", strerror((int)-r));
    }
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

void rngl_jitter(uint8_t *samples, size_t n) {
  /* A memory walk whose duration varies with cache, TLB and pipeline state;
   * the low byte of each duration is one raw sample. */
  static _Thread_local uint8_t mem[16384];
  static _Thread_local size_t pos;
  for (size_t i = 0; i < n; i++) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC_RAW, &a);
    size_t steps = 32 + (a.tv_nsec & 31);
    for (size_t s = 0; s < steps; s++) {
      pos = (pos + 4093 + mem[pos]) & (sizeof mem - 1);
      mem[pos] = (uint8_t)(mem[pos] + 1 + (uint8_t)s);
    }
    clock_gettime(CLOCK_MONOTONIC_RAW, &b);
    uint64_t d = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000ull + (uint64_t)b.tv_nsec -
                 (uint64_t)a.tv_nsec;
    samples[i] = (uint8_t)d;
  }
}
