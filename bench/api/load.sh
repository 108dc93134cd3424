# bench/api, part 2 (sourced by bench/api/run after the /healthz rounds):
# migration decisions over HTTPS under load (issue 22 item 6). One lisecd
# with its KEK in a SoftHSM2 token, LOAD_HOSTS attested hosts with 20 VMs
# each in the model (bench_inventory seed) and LOAD_TARGETS targets in the
# vault. LOAD_CLIENTS (64) mTLS keep-alive clients, one thread and one
# connection each, POST /v1/decisions/migration as fast as answers come
# (tlsload with TLSLOAD_BODIES: each request's latency from its write to the
# end of its reply, each decision recorded durably in the audit log before
# the answer). Each of LOAD_ROUNDS rounds runs four kinds one after another:
#   alone   the decision clients only;
#   attest  the same clients while bench_inventory's hosts report quotes and
#           inventories (nonce + evidence, 8 threads);
#   rotate  the same clients while the LI administration rotates the KEK
#           again and again (each rotation re-wraps every target in one
#           store transaction);
#   mixed   both at once.
# Before round 1 every host reports once (bench_inventory's untimed
# warm-up): the seeded hosts are enrolled but never appraised, and a
# decision onto a host without an appraisal younger than [model]
# attestation_max_age_s (60 s) is parked for a fresh quote, up to [attest]
# fresh_wait_ms (5 s; docs/attestation.md, "Fresh at the moment it
# matters"), which these hosts never send unasked. Without it round 1's
# "alone" measured those waits, not decisions (bench/README, 2026-12-06
# 23:54). The attest and mixed kinds keep the hosts fresh for the rounds
# after, which is why a run is at most 50 s (LOAD_SECONDS).
# Prints each run and the ratio to alone of rate, p50, p99 and p99.9
# (medians over the rounds), with the CPU each of lisecd's processes and
# the attestation client used during the decisions' run (in cores: CPU
# seconds per second of wall).
# LOAD_DECISION_RATE=R makes the decisions an open load: R a second in all
# on a fixed schedule, each latency counted from when it was due (tlsload's
# TLSLOAD_RATE). The default, a closed loop as fast as answers come, keeps
# every core busy, so its latency is mostly queueing (clients / rate) and
# its mixed/alone ratio follows the lost throughput; at a rate lisecd can
# carry in every kind, the ratio is how much the other work delays a
# decision. LOAD_ATTEST_RATE=R paces the hosts' reports to R a second in
# all, as a fleet reports at its interval (e.g. 333: 100,000 hosts every 5
# minutes); unset, they report as fast as lisecd answers (a storm).
# Settings of the build under test, each set only when given (a build from
# before them refuses an unknown key): LOAD_BULK_CHANNELS, LOAD_BULK_NICE
# ([server] bulk_channels, bulk_nice), LOAD_BULK_WORKERS ([server]
# bulk_workers: 0 serves hosts on the request workers), LOAD_ROTATION_RATE, LOAD_ROTATION_NICE
# ([vault] rotation_rate, rotation_nice), LOAD_ROTATION_CHUNK ([vault]
# rotation_chunk); each build's own default otherwise. LOAD_CLIENT_NICE
# runs the attestation client and the rotation loop at that nice value (the
# hosts and the LI administration are other machines in a deployment; on
# this one they take the cores the decisions' clients and lisecd share).
# From a test build (-DLISEC_TEST_HOOKS=ON) each run also shows the lock
# waits during it (src/store/turn.c): for the store's write turn and the
# model lock, by class of thread (normal, lowered: nice above lisecd's), how
# many acquisitions waited (>= 0.1 ms), their total, the p99 and the largest
# (histogram bounds) and how long the holders held it. LOAD_WRITER_TURNS=0
# turns the store's write turn off (test builds; SQLite's busy wait alone).
# Needs from bench/api/run: build, src, work, pki, fail, start_lisecd.
. "$src/tests/integration/attest_lib.sh"
. "$src/tests/integration/lib/li_fixture.sh"
lhosts=${LOAD_HOSTS:-200} ltargets=${LOAD_TARGETS:-2000} lsecs=${LOAD_SECONDS:-8}
lrounds=${LOAD_ROUNDS:-2} lclients=${LOAD_CLIENTS:-64} lpoll=${LOAD_POLL_MS:-500}
[ "$lhosts" -ge 8 ] && [ "$lhosts" -le 5000 ] || fail "LOAD_HOSTS must be 8-5000"
[ "$ltargets" -ge 1 ] && [ "$ltargets" -le 100000 ] || fail "LOAD_TARGETS must be 1-100000"
[ "$lclients" -ge 1 ] && [ "$lclients" -le 64 ] || fail "LOAD_CLIENTS must be 1-64"
[ "$lrounds" -ge 1 ] && [ "$lrounds" -le 10 ] || fail "LOAD_ROUNDS must be 1-10"
[ "$lpoll" -ge 50 ] && [ "$lpoll" -le 10000 ] || fail "LOAD_POLL_MS must be 50-10000"
# the hosts' last reports must stay younger than [model]
# attestation_max_age_s (60 s) until a run's last decision: a run, the
# seconds around it (about 5) and the attest run's reports before it
[ "$lsecs" -ge 1 ] && [ "$lsecs" -le 50 ] ||
  fail "LOAD_SECONDS must be 1-50: the hosts report only in the attest and mixed kinds, and decisions onto a host whose report is older than 60 s wait for a fresh quote"
bi=$build/bench/bench_inventory
[ -x "$bi" ] || fail "missing $bi (cmake --build $build --target bench_inventory)"
for c in sqlite3 softhsm2-util; do command -v $c >/dev/null || fail "$c is not installed"; done
ld=$work/load
mkdir -p "$ld"
(cd "$ld" && evgen --log eventlog.bin --extends ext.txt --reference ref.json --events 40)
timeout 300 "$bi" seed "$ld" "$pki" "$lhosts" 20 >/dev/null || fail "bench_inventory seed"
eval "$("$src/scripts/test/softhsm-start" "$ld/hsm" lisec 4321)"
echo 4321 >"$ld/pin"
make_li_admin_key "$ld/li-admin"
# 64 clients handshaking at once on a loaded 2-core machine may need more
# than the default 5 s handshake deadline
lconf=("[server]" "workers = 2" "handshake_timeout_ms = 30000")
[ -z "${LOAD_BULK_CHANNELS:-}" ] || lconf+=("bulk_channels = $LOAD_BULK_CHANNELS")
[ -z "${LOAD_BULK_NICE:-}" ] || lconf+=("bulk_nice = $LOAD_BULK_NICE")
[ -z "${LOAD_BULK_WORKERS:-}" ] || lconf+=("bulk_workers = $LOAD_BULK_WORKERS")
[ -z "${BENCH_REQUEST_SLICE_US:-}" ] || lconf+=("request_slice_us = $BENCH_REQUEST_SLICE_US")
lconf+=("[attest]" "reference_file = $ld/ref.json" "interval_s = 300" "grace_s = 60"
  "[vault]" "pkcs11_module = $LISEC_P11_MODULE" "token = lisec" "pin_file = $ld/pin" "key_label = kek-0")
[ -z "${LOAD_ROTATION_CHUNK:-}" ] || lconf+=("rotation_chunk = $LOAD_ROTATION_CHUNK")
[ -z "${LOAD_ROTATION_RATE:-}" ] || lconf+=("rotation_rate = $LOAD_ROTATION_RATE")
[ -z "${LOAD_ROTATION_NICE:-}" ] || lconf+=("rotation_nice = $LOAD_ROTATION_NICE")
lconf+=("[audit]" "li_admin_key = $ld/li-admin.pub")
cnice=${LOAD_CLIENT_NICE:-0}
[ "$cnice" -ge 0 ] && [ "$cnice" -le 19 ] || fail "LOAD_CLIENT_NICE must be 0-19"
db=$ld/lisec.db
# A test build writes its lock waits here (src/store/turn.c), read around
# each run; LOAD_WRITER_TURNS=0 turns the store's write turn off (test
# builds), for a comparison within one build.
export LISEC_BENCH_WAITS=$ld/waits
[ "${LOAD_WRITER_TURNS:-1}" = 1 ] || export LISEC_TEST_WRITER_TURNS=0
STORE_URL=sqlite:$db start_lisecd "$pki" "${lconf[@]}"
stop_lisecd
sqlite3 "$db" <"$ld/seed.sql"
STORE_URL=sqlite:$db start_lisecd "$pki" "${lconf[@]}"
li_fixture li-7
# The targets, on one keep-alive connection (curl's config: one operation each).
{
  for i in $(seq 1 "$ltargets"); do
    [ "$i" = 1 ] || echo next
    printf 'url = "%s/v1/targets"\ncacert = "%s"\ncert = "%s"\nkey = "%s"\n' "$LISECD_URL" "$pki/ca.crt" \
      "$pki/li-admin.crt" "$pki/li-admin.key"
    printf 'header = "Content-Type: application/json"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n'
    printf 'data = "{\\"id\\":\\"t-%d\\",\\"authorisation\\":\\"li-7\\",\\"identifiers\\":[{\\"kind\\":\\"e164\\",\\"value\\":\\"358%09d\\"}]}"\n' "$i" "$i"
  done
} >"$ld/targets.conf"
t0=$SECONDS
timeout 600 curl -s -K "$ld/targets.conf" >"$ld/targets.codes" || true
made=$(grep -c '^201$' "$ld/targets.codes" || true)
[ "$made" = "$ltargets" ] || fail "$made of $ltargets targets created: $(sort "$ld/targets.codes" | uniq -c | head -3)"
# The questions: any seeded VM to any seeded hypervisor.
python3 - "$lhosts" >"$ld/bodies" <<'PY'
import random, sys
h = int(sys.argv[1]); rnd = random.Random(22)
for _ in range(20000):
    print('{"vm":"vm%d-%d","hypervisor":"hv%d"}' % (rnd.randrange(h), rnd.randrange(20), rnd.randrange(h)))
PY
paced() { [ -n "$1" ] && echo "at $1/s, open load" || echo "as fast as answered"; }
echo
echo "decisions under load: $lclients clients x 1 mTLS connection, POST /v1/decisions/migration, ${lsecs}s rounds;" \
  "$lhosts hosts x 20 VMs, $ltargets targets ($((SECONDS - t0)) s to add); load average $(cut -d' ' -f1-3 /proc/loadavg);" \
  "settings: ${lconf[*]//$ld\//}; attestation client and rotations at nice $cnice;" \
  "decisions $(paced "${LOAD_DECISION_RATE:-}"), reports $(paced "${LOAD_ATTEST_RATE:-}")"
# the CPU of lisecd's processes (user + system ticks)
lfront=$(pgrep -P "$LISECD_PID" -x lisecd-front) lctl=$(pgrep -P "$LISECD_PID" -x lisecd-ctl)
lkeys=$(pgrep -P "$LISECD_PID" -x lisecd-keys)
# and, of the front's, the bulk workers' threads (lisec-fbulk: hosts' connections)
lticks() {
  local p t="" b=0 th
  for p in "$lfront" "$lctl" "$lkeys"; do t="$t $(awk '{print $14 + $15}' "/proc/$p/stat")"; done
  for th in /proc/"$lfront"/task/*; do
    [ "$(cat "$th/comm" 2>/dev/null)" = lisec-fbulk ] && b=$((b + $(awk '{print $14 + $15}' "$th/stat")))
  done
  echo $t $b
}

# the lock waits so far (one line: 4 x 17 numbers), empty from a build without them
waits() { [ -s "$ld/waits" ] && awk '{for (i = 3; i <= NF; i++) printf "%s ", $i}' "$ld/waits" || true; }
decide() {
  TLSLOAD_RATE=${LOAD_DECISION_RATE:-} TLSLOAD_BODIES=$ld/bodies "$build/bench/tlsload" "$LISECD_PORT" /v1/decisions/migration "$pki/ca.crt" \
    "$pki/mano.crt" "$pki/mano.key" "$lclients" 1 "$lsecs" 50000000
}
kek=0
# rotate_loop END_EPOCH_US OUT: rotations one after another until END (at
# most 200); writes "count total_seconds max_seconds" to OUT.
rotate_loop() {
  local n=0 total=0 max=0 a b d code
  while [ "${EPOCHREALTIME/./}" -lt "$1" ] && [ $n -lt 200 ]; do
    kek=$((kek + 1))
    a=${EPOCHREALTIME/./}
    code=$(as li-admin -o "$ld/rotate.reply" -w '%{http_code}' -H 'Content-Type: application/json' \
      -d "{\"key_label\":\"kek-$kek-$BASHPID\"}" "$LISECD_URL/v1/vault/rotate-kek")
    [ "$code" = 202 ] || { echo "rotation failed: $code $(cat "$ld/rotate.reply")" >&2; break; }
    # a job: its state is asked every LOAD_POLL_MS (500) until it ends (at
    # most 120 s). Each ask is a curl with its TLS handshake on the machine
    # under test, and the reply is read by bash, not jq: at 200 ms with jq
    # the asking took a tenth of a core, and its processes, at the
    # decisions' priority, delayed decisions by milliseconds (perf sched).
    local id="" state="" i
    [[ $(<"$ld/rotate.reply") =~ \"id\":\"([^\"]+)\" ]] && id=${BASH_REMATCH[1]}
    for ((i = 0; i * lpoll < 120000; i++)); do
      as li-admin -o "$ld/rotate.reply" "$LISECD_URL/v1/vault/rotate-kek/$id" || true
      state=""
      [[ $(<"$ld/rotate.reply") =~ \"state\":\"([a-z]+)\" ]] && state=${BASH_REMATCH[1]}
      [ "$state" = running ] || break
      sleep "$((lpoll / 1000)).$(printf %03d $((lpoll % 1000)))"
    done
    b=${EPOCHREALTIME/./}
    [ "$state" = done ] || { echo "rotation failed: $(cat "$ld/rotate.reply")" >&2; break; }
    d=$((b - a)) n=$((n + 1)) total=$((total + d))
    [ $d -gt $max ] && max=$d
  done
  echo "$n $total $max" >"$2"
}
: >"$ld/rounds"
# run_kind KIND ROUND: one timed run of the decision clients with KIND's mix.
run_kind() {
  local kind=$1 r=$2 apid="" rpid="" line extra=""
  if [ "$kind" = attest ] || [ "$kind" = mixed ]; then
    # attestations start first and outlast the decisions
    BENCH_INVENTORY_RATE=${LOAD_ATTEST_RATE:-} nice -n "$cnice" "$bi" run "$ld" "$pki" "$LISECD_PORT" "$lhosts" 8 20 $((lsecs + 4)) 10000000 "$LISECD_PID" \
      >"$ld/attest.$kind.$r" 2>"$ld/attest.$kind.$r.err" &
    apid=$!
  fi
  if [ "$kind" = rotate ] || [ "$kind" = mixed ]; then
    rotate_loop $(( ${EPOCHREALTIME/./} + (lsecs + 3) * 1000000 )) "$ld/rot.$kind.$r" &
    rpid=$!
    renice -n "$cnice" -p "$rpid" >/dev/null
  fi
  # the inventory client's warm-up (every host reports once) before the decisions start
  [ -z "$apid$rpid" ] || sleep 1
  # tlsload exits 1 when a request failed; its line still counts them and
  # the table shows them, so only no line at all stops the run
  local c0 c1 w0 w1 k0 k1
  k0=$(waits) c0=$(lticks) w0=${EPOCHREALTIME/./}
  line=$(decide) || true
  c1=$(lticks) w1=${EPOCHREALTIME/./}
  sleep 1.1 # the waits' file is rewritten at most once a second
  k1=$(waits)
  [ -n "$line" ] || fail "decisions ($kind): tlsload printed nothing"
  extra=" cpu $((w1 - w0)) $c0 $c1"
  if [ -n "$rpid" ]; then wait "$rpid"; extra="$extra rot $(cat "$ld/rot.$kind.$r")"; fi
  if [ -n "$apid" ]; then
    wait "$apid" || { cat "$ld/attest.$kind.$r.err" >&2; fail "bench_inventory run ($kind, round $r)"; }
    extra="$extra att $(cut -d' ' -f3,5,7,2 "$ld/attest.$kind.$r")"
  fi
  [ -z "$k0" ] || [ -z "$k1" ] || extra="$extra waits $k0 $k1"
  echo "$kind $line |$extra" >>"$ld/rounds"
}
# The warm-up: every host's first report (no timed reports after it), so
# that round 1's decisions find the hosts as the later rounds do, appraised
# within the last minute, and none waits for a quote (see the top).
timeout 300 "$bi" run "$ld" "$pki" "$LISECD_PORT" "$lhosts" 8 20 0 0 "$LISECD_PID" >"$ld/warmup" 2>"$ld/warmup.err" ||
  { cat "$ld/warmup.err" >&2; fail "bench_inventory warm-up (every host's first report, each trusted)"; }
echo "  warm-up: each of the $lhosts hosts reported once before round 1 ($(awk '{print $10}' "$ld/warmup") s)"
for r in $(seq 1 "$lrounds"); do
  for kind in alone attest rotate mixed; do run_kind "$kind" "$r"; done
done
stop_lisecd
python3 - "$ld/rounds" "$ltargets" "$(getconf CLK_TCK)" <<'PY'
import statistics as st, sys
runs = {}
hz = int(sys.argv[3])
print(f"  {'kind':<7} {'decisions/s':>11} {'p50 us':>8} {'p99 us':>8} {'p99.9 us':>9} {'max us':>8} {'client us/dec':>13}"
      f"  {'lisecd cores front(hosts)/ctl/keys':>35}  beside it")
for line in open(sys.argv[1]):
    kind, rest = line.split(None, 1)
    dec, extra = rest.split("|")
    d = list(map(float, dec.split()))
    runs.setdefault(kind, []).append(d)
    words, notes = extra.split(), []
    for i, w in enumerate(words):
        if w == "att":  # bench_inventory's seconds, rate, p99 (us), own CPU seconds
            el, rate, p99, cpu = map(float, words[i + 1:i + 5])
            notes.append(f"attestations {rate:.0f}/s (their p99 {p99 / 1e3:.1f} ms; client {cpu / el:.2f} cores)")
        if w == "cpu":  # wall_us, then front ctl keys fbulk ticks before and after
            wall, f0, c0, k0, b0, f1, c1, k1, b1 = map(float, words[i + 1:i + 10])
            cr = [(b - a) / hz / (wall / 1e6) for a, b in ((f0, f1), (c0, c1), (k0, k1), (b0, b1))]
            cores = f"{cr[0]:.2f}({cr[3]:.2f})/{cr[1]:.2f}/{cr[2]:.2f}"
        if w == "waits":  # 4 lines (store normal, store lowered, model normal, model lowered) x 17, before and after
            v = list(map(int, words[i + 1:i + 1 + 2 * 68]))
            dl = [b - a for a, b in zip(v[:68], v[68:])]
            ws = []
            for li, name in enumerate(("store normal", "store lowered", "model normal", "model lowered")):
                n, waited, tot_us, held_us = dl[li * 17:li * 17 + 4]
                hist = dl[li * 17 + 5:li * 17 + 17]
                # the wait p99 over all acquisitions, by the histogram's upper bounds (ms)
                bounds = [0.25 * 2 ** k for k in range(11)] + [float("inf")]
                p99 = 0.1
                if n and n - waited < 0.99 * n:
                    left = n - waited
                    for bk, c in zip(bounds, hist):
                        left += c
                        if left >= 0.99 * n:
                            p99 = bk
                            break
                top = max([k for k, c in enumerate(hist) if c > 0], default=-1)
                mx = "-" if top < 0 else f"<{bounds[top]:g}" if top < len(bounds) - 1 else ">256"
                ws.append(f"{name} {waited}/{n} waited, {tot_us / 1e3:.0f} ms in all, p99 <{p99:g} ms, max {mx} ms, held {held_us / 1e3:.0f} ms")
            notes.append("waits: " + "; ".join(ws))
        if w == "rot":  # count total_us max_us
            n, tot, mx = map(float, words[i + 1:i + 4])
            notes.append(f"{n:.0f} KEK rotations of {sys.argv[2]} targets, {tot / max(n, 1) / 1e3:.0f} ms each (max {mx / 1e3:.0f} ms)")
    print(f"  {kind:<7} {d[0]:>11.0f} {d[4]:>8.0f} {d[5]:>8.0f} {d[6]:>9.0f} {d[7]:>8.0f} {d[3] * 1e6 / max(d[1], 1):>13.1f}"
          f"  {cores:>35}  {'; '.join(notes)}")
    if d[2]:
        print(f"          {d[2]:.0f} decisions failed")
med = {k: [st.median(x[i] for x in v) for i in range(8)] for k, v in runs.items()}
a = med["alone"]
print(f"  ratio to alone (medians over the rounds):  rate    p50    p99  p99.9")
for k in ("attest", "rotate", "mixed"):
    m = med[k]
    print(f"  {k:<7} {'':>34} {m[0] / a[0]:>5.2f} {m[4] / a[4]:>6.2f} {m[5] / a[5]:>6.2f} {m[6] / a[6]:>6.2f}")
# Each round's kinds ran one after another, so a round's ratio compares runs
# a minute apart; on a shared machine whose load moves between rounds the
# median of the rounds' ratios is the steadier figure.
print(f"  ratio to alone in each round, median (min-max):  rate    p50    p99  p99.9")
for k in ("attest", "rotate", "mixed"):
    cells = []
    for i in (0, 4, 5, 6):
        rs = [m[i] / x[i] for x, m in zip(runs["alone"], runs[k]) if x[i]]
        cells.append(f"{st.median(rs):.2f} ({min(rs):.2f}-{max(rs):.2f})")
    print(f"  {k:<7} {'   '.join(cells)}")
PY
