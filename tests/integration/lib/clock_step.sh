# A program's wall clock stepped under it, the machine's untouched, for the
# clock tests (status_clock, x1_admf_clock, x1_keepalive_clock, rng_clock,
# ha_lease_clock, attest_quarantine_clock, li_events_spool): clock_step_shim
# (clock_step_shim.c), LD_PRELOADed, makes the program's
# clock_gettime(CLOCK_REALTIME), and with LISEC_TEST_CLOCK_STEP_TIME=1 its
# time() and gettimeofday() too, read the kernel's clock plus the seconds
# written in a file. Sourced after common.sh (uses build, work, fail).

# clock_step_env FILE SECONDS [time] [alone]: sets clock_env, the words
# (env ...) that run a program of $build with its wall clock FILE's seconds
# off the kernel's, FILE starting at SECONDS. "time": its time() and
# gettimeofday() stepped too. A sanitizer build's runtime must come first
# among the preloaded (every program of a build links the same one), unless
# "alone": the shim alone preloaded and the runtime told not to mind coming
# second (for a lisecd whose quarantine command inherits LD_PRELOAD: the
# runtime preloaded into it fails under lisecd's filter).
clock_step_env() {
  local file=$1 seconds=$2 opt all='' alone='' shim asan
  shift 2
  for opt; do
    case $opt in
    time) all=1 ;;
    alone) alone=1 ;;
    *) fail "clock_step_env: unknown option $opt" ;;
    esac
  done
  shim=$build/tests/integration/libclock_step_shim.so
  [ -f "$shim" ] || shim=$(find "$build" -name libclock_step_shim.so -print -quit)
  [ -f "$shim" ] || fail "libclock_step_shim.so is not built"
  asan=$(ldd "$build/cmd/lisecd/lisecd" | awk '/libasan/ {print $3}')
  printf '%-15s' "$seconds" >"$file"
  if [ -n "$alone" ]; then
    clock_env=(env "LD_PRELOAD=$shim" "LISEC_TEST_CLOCK_STEP_FILE=$file")
    [ -z "$asan" ] || clock_env+=("ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
  else
    clock_env=(env "LD_PRELOAD=${asan:+$asan:}$shim" "LISEC_TEST_CLOCK_STEP_FILE=$file")
  fi
  [ -z "$all" ] || clock_env+=(LISEC_TEST_CLOCK_STEP_TIME=1)
}

# step SECONDS [FILE]: the wall clock of the programs reading FILE (by
# default $work/step) now SECONDS off the kernel's; written in place, as
# the shim maps the file.
step() { printf '%-15s' "$1" | dd of="${2:-$work/step}" conv=notrunc status=none; }
