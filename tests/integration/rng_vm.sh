#!/usr/bin/env bash
# liblisec-rng in a real cloned VM (issue 18, TR 103 308 §5.10/§5.12): a
# Debian kernel (linux-image-amd64, fetched with `apt-get download` into the
# build directory's vmcache/ and unpacked with dpkg -x; nothing is installed)
# boots under QEMU TCG with `-device vmgenid` and an initramfs built here from
# busybox-static, tests/vm/rng_clone_guest and the shared libraries it needs
# (copied as ldd lists them). The guest streams 16-byte blocks from the
# kernel's getrandom(), liblisec-rng and RAND_bytes over a virtio-serial port.
# Three times the running guest is snapshotted (QMP stop, migrate to
# `exec:cat > state`, cont); each snapshot is then resumed as two clones
# (-incoming) with new, different vmgenid GUIDs, and the blocks the clones
# generated after the resume are compared. Pass, per trial: every block
# of liblisec-rng that both clones produced was made over a kernel draw that
# was the same in both clones (the guest records the bytes the library drew
# from getrandom() for each block: the library is never staler than the
# kernel at the instant it draws), and RAND_bytes does repeat (so the
# comparison can see repeats). A control resumes a snapshot twice with the
# original's generation id (as without the device) and must show the
# kernel's getrandom(), and the draws liblisec-rng made, repeating. The
# figures are printed, with the kernel's own getrandom() repeats beside. A
# second boot generates keys in a loop, each fetching its seed from a
# lisec-entropyd on the host (QEMU user network); it is snapshotted
# twice while a key generation is talking to the daemon, and each snapshot
# resumed as two clones. Pass: each clone gets keys after the resume, none
# shared by both, none refused (a twin on the parent's replay stream takes a
# stream of its own), and the daemon saw at least one new connection per key
# (a clone continuing the snapshot's TLS session would get keys without
# one). Bounded: every wait has a deadline and every QEMU is killed on exit;
# 1.5-2.5 minutes on 2 cores. Skipped (77) where qemu-system-x86_64 is
# absent, and in the sanitizer build (once per make check is enough).
build=${1:?build dir}
src=${2:?source dir}
# shellcheck source=lib/common.sh
source "$src/tests/integration/lib/common.sh"

trials=${RNG_VM_TRIALS:-3}
post=${RNG_VM_POST:-1500}   # iterations each clone must produce after the resume
key_trials=${RNG_VM_KEY_TRIALS:-2}
helper="$src/tests/vm/rng_vm.py"
guest="$build/tests/integration/rng_clone_guest"

# The clone behaviour is the same code under the sanitizer; its memory
# safety is what test_rng_lib, test_rng_detect and rng_session check in the
# sanitizer build. One VM run per make check keeps it within its time.
if grep -qs '^LISEC_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
  echo "SKIP: the cloned-VM test runs in the release build; the sanitizer build checks the library in test_rng_lib, test_rng_detect and rng_session"
  exit 77
fi
qemu=$(command -v qemu-system-x86_64 || true)
if [ -z "$qemu" ]; then
  echo "SKIP: qemu-system-x86_64 is not installed (scripts/bootstrap installs qemu-system-x86)"
  exit 77
fi
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || fail "busybox is not installed (scripts/bootstrap installs busybox-static)"
ldd "$busybox" >/dev/null 2>&1 && fail "$busybox is dynamically linked: the initramfs needs busybox-static"
[ -x "$guest" ] || fail "rng_clone_guest not built ($guest)"

# ---- the kernel: Debian's linux-image-amd64, cached in the build directory
cache="$build/vmcache"
mkdir -p "$cache"
deb=$(ls "$cache"/linux-image-*-amd64_*.deb 2>/dev/null | head -1 || true)
if [ -z "$deb" ]; then
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
  [ -n "$pkg" ] || fail "apt-cache knows no linux-image-amd64 (run apt-get update)"
  (cd "$cache" && timeout 300 apt-get download -q "$pkg" >/dev/null 2>&1) ||
    fail "apt-get download $pkg failed"
  deb=$(ls "$cache"/linux-image-*-amd64_*.deb | head -1)
fi
kroot="$work/kernel"
dpkg -x "$deb" "$kroot" || fail "dpkg -x $deb"
vmlinuz=$(ls "$kroot"/boot/vmlinuz-* | head -1)
config=$(ls "$kroot"/boot/config-* | head -1)
kver=${vmlinuz##*/vmlinuz-}
grep -q '^CONFIG_VMGENID=[ym]' "$config" || fail "kernel $kver has no vmgenid driver (CONFIG_VMGENID)"
echo "kernel: $kver (vmgenid: $(sed -n 's/^CONFIG_VMGENID=//p' "$config"), from ${deb##*/})"

# ---- lisec-entropyd on the host, reached from the guest through QEMU's user
# network (10.0.2.2 is the host's loopback; the guest's /etc/hosts names it
# localhost, the name the development PKI's server certificate carries)
entropyd="$build/cmd/lisec-entropyd/lisec-entropyd"
[ -x "$entropyd" ] || fail "lisec-entropyd not built"
pki="$work/pki"
make_pki "$pki"
lisec pki issue "$pki" vnf-a vnf vnf-a >/dev/null || fail "issue vnf-a"
eport=$(free_port)
emport=$(free_port)
cat >"$work/entropyd.conf" <<CONF
[server]
listen = 127.0.0.1:$eport
idle_timeout_s = 30
[tls]
cert = $pki/server.crt
key = $pki/server.key
client_ca = $pki/ca.crt
[clients]
allowed = vnf-a
[metrics]
listen = 127.0.0.1:$emport
[entropy]
min_sources = 2
CONF
"$entropyd" -c "$work/entropyd.conf" 2>"$work/entropyd.log" &
epid=$!
cleanup_hooks+=("kill -TERM $epid 2>/dev/null; wait $epid 2>/dev/null")
metric() { curl -sf "http://127.0.0.1:$emport/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
for _ in $(seq 1 100); do
  [ -n "$(metric lisec_entropyd_connections_total)" ] && break
  kill -0 "$epid" 2>/dev/null || { cat "$work/entropyd.log" >&2; fail "lisec-entropyd exited at start"; }
  sleep 0.1
done

# ---- the initramfs
root="$work/initramfs"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules,etc/lisec}
cp "$pki/ca.crt" "$pki/vnf-a.crt" "$pki/vnf-a.key" "$root/etc/lisec/"
echo "10.0.2.2 localhost" >"$root/etc/hosts"
echo "hosts: files" >"$root/etc/nsswitch.conf"
cp "$busybox" "$root/bin/busybox"
cp "$guest" "$root/bin/rng_clone_guest"
# The program's shared libraries at the paths ldd resolves them to (the
# dynamic loader included), so RPATHs and the interpreter path hold as is.
while read -r lib; do
  [ -n "$lib" ] && cp -L --parents "$lib" "$root/"
done < <(ldd "$guest" | awk '/=> \// {print $3} /^\t\/[^ ]*ld-linux/ {print $1}')
# virtio-serial is modular in Debian's kernel (listed in dependency order);
# vmgenid must be built in, or its module goes in too, loaded first.
mods=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_console
  failover net_failover virtio_net)
grep -q '^CONFIG_VMGENID=m' "$config" && mods=(vmgenid "${mods[@]}")
for m in "${mods[@]}"; do
  f=$(find "$kroot/lib/modules" -name "$m.ko*" | head -1)
  [ -n "$f" ] || { grep -q "/$m.ko" "$kroot/lib/modules/$kver/modules.builtin" && continue; fail "module $m not in $kver"; }
  case "$f" in
  *.ko) cp "$f" "$root/lib/modules/$m.ko" ;;
  *.ko.xz) xz -dc "$f" >"$root/lib/modules/$m.ko" ;;
  *.ko.zst) zstd -qdc "$f" >"$root/lib/modules/$m.ko" ;;
  *) fail "cannot unpack module $f" ;;
  esac
done
cat >"$root/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in ${mods[*]}; do [ -e /lib/modules/\$m.ko ] && insmod /lib/modules/\$m.ko; done
for d in /sys/bus/acpi/drivers/vmgenid /sys/bus/platform/drivers/vmgenid; do
  ls \$d 2>/dev/null | grep -q : && echo "rng-vm: vmgenid bound (\$d)"
done
i=0
while { [ ! -e /dev/vport0p1 ] || [ ! -e /dev/vport0p2 ]; } && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done
echo "rng-vm: kernel \$(uname -r), ports \$(cat /sys/class/virtio-ports/vport0p*/name 2>/dev/null | tr '\\n' ' ')"
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
# One workload per boot: a key generation's network traffic and kernel draws
# interleave differently in two clones and would make their getrandom()
# streams differ without any generation change (the control would show it).
case " \$(cat /proc/cmdline) " in
*" rngvm=keygen "*)
  LISEC_RNG_ENTROPYD=localhost:$eport LISEC_RNG_CERT=/etc/lisec/vnf-a.crt \\
    LISEC_RNG_KEY=/etc/lisec/vnf-a.key LISEC_RNG_CA=/etc/lisec/ca.crt \\
    /bin/rng_clone_guest /dev/vport0p2 keygen ;;
*) /bin/rng_clone_guest /dev/vport0p1 ;;
esac
echo "rng-vm: rng_clone_guest exited \$?"
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | "$busybox" cpio -o -H newc 2>/dev/null | gzip -1) >"$work/initrd.gz" ||
  fail "cannot build the initramfs"

# ---- QEMU instances, each stopped on exit
pids=()
kill_all() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
}
cleanup_hooks+=("kill_all")

# start_vm NAME GUID [-incoming URI]: a guest whose stream goes to $work/NAME.out.
start_vm() {
  local name=$1 guid=$2
  shift 2
  # The devices, their order and the machine must be the same for every
  # instance, or the clones cannot load the snapshot. no_timer_check: under
  # TCG on a loaded host the kernel's IO-APIC timer check can time out and
  # panic ("IO-APIC + timer doesn't work"); the guest needs no such check.
  "$qemu" -machine pc -accel tcg -cpu qemu64 -m 256 -smp 1 -nodefaults -no-user-config \
    -display none -no-reboot -kernel "$vmlinuz" -initrd "$work/initrd.gz" \
    -append "console=ttyS0 panic=-1 quiet no_timer_check rngvm=$vm_mode" \
    -device vmgenid,guid="$guid" \
    -device virtio-serial-pci,id=vs \
    -chardev file,id=rngout,path="$work/$name.out" \
    -device virtserialport,bus=vs.0,nr=1,chardev=rngout,name=rng \
    -chardev file,id=keyout,path="$work/$name.keys" \
    -device virtserialport,bus=vs.0,nr=2,chardev=keyout,name=keys \
    -netdev user,id=net0 -device virtio-net-pci,netdev=net0 \
    -serial file:"$work/$name.console" -qmp unix:"$work/$name.qmp",server=on,wait=off \
    "$@" 2>"$work/$name.qemu.log" &
  pids+=($!)
}
uuid() { cat /proc/sys/kernel/random/uuid; }

# wait_records NAME COUNT SECONDS: until the stream holds COUNT records.
wait_records() {
  local end=$((SECONDS + $3)) n
  while :; do
    n=$(python3 "$helper" count "$work/$1.out")
    [ "$n" -ge "$2" ] && return 0
    if [ $SECONDS -ge $end ]; then
      cat "$work/$1.console" >&2 2>/dev/null || true
      fail "$1: $n of $2 records after $3 s"
    fi
    sleep 0.2
  done
}

# boot_orig NAME READY_REGEX: boots the original guest and waits for its
# program to say READY_REGEX on the console.
boot_orig() {
  local end=$((SECONDS + 120))
  start_vm "$1" "$orig_guid"
  until grep -q "$2" "$work/$1.console" 2>/dev/null; do
    [ $SECONDS -lt $end ] || { cat "$work/$1.console" >&2; fail "$1: the guest program did not start within 120 s"; }
    grep -q "rng-vm: rng_clone_guest exited" "$work/$1.console" 2>/dev/null &&
      { cat "$work/$1.console" >&2; fail "$1: the guest program failed"; }
    sleep 0.2
  done
  grep -q "rng-vm: vmgenid bound" "$work/$1.console" ||
    { cat "$work/$1.console" >&2; fail "the guest kernel did not bind the vmgenid device"; }
}

# clones NAME STATE GUID_A GUID_B: resumes STATE as two clones and waits for
# each to produce what the boot's workload must (stream: $post iterations;
# keygen: 2 keys after iteration $key_n0), then stops them.
clones() {
  local name=$1 state=$2 ga=$3 gb=$4 ca c n end
  for c in a b; do rm -f "$work/$name$c.qmp"; done
  start_vm "${name}a" "$ga" -incoming "exec:cat $state"
  start_vm "${name}b" "$gb" -incoming "exec:cat $state"
  python3 "$helper" cont "$work/${name}a.qmp" incoming &
  ca=$!
  python3 "$helper" cont "$work/${name}b.qmp" incoming || fail "$name: clone b did not resume"
  wait $ca || fail "$name: clone a did not resume"
  if [ "$vm_mode" = stream ]; then
    for c in a b; do wait_records "$name$c" $((4 * post)) 90; done
  else
    end=$((SECONDS + 90))
    for c in a b; do
      until n=$(python3 "$helper" keys_ok "$key_n0" "$work/$name$c.keys") && [ "$n" -ge 2 ]; do
        [ $SECONDS -lt $end ] || { cat "$work/$name$c.console" "$work/entropyd.log" >&2; fail "$name$c: $n keys after the resume within 90 s"; }
        sleep 0.2
      done
    done
  fi
  for c in a b; do python3 "$helper" quit "$work/$name$c.qmp" || true; done
}
get() { sed -n "s/.*\b$1=\([0-9]*\)\b.*/\1/p" <<<"$res"; }

t0=$SECONDS
orig_guid=$(uuid)
bad=0

# ---- 1. the random stream: liblisec-rng against the kernel and RAND_bytes
vm_mode=stream
boot_orig orig "rng_clone_guest: streaming"
grep "rng-vm:" "$work/orig.console"
echo "guest streaming after $((SECONDS - t0)) s"

# Snapshots of the running guest, some way apart in its stream.
declare -a n0
have=$(python3 "$helper" count "$work/orig.out")
for t in $(seq 1 "$trials"); do
  wait_records orig $((have + 4 * 500)) 60
  python3 "$helper" snapshot "$work/orig.qmp" "$work/state$t" || fail "snapshot $t"
  n0[$t]=$(python3 "$helper" last "$work/orig.out")
  have=$(python3 "$helper" count "$work/orig.out")
  python3 "$helper" cont "$work/orig.qmp" || fail "resuming the original after snapshot $t"
  echo "snapshot $t at iteration ${n0[$t]} ($(du -k "$work/state$t" | cut -f1) KiB)"
done
python3 "$helper" quit "$work/orig.qmp" || true

# Each snapshot resumed as two clones with new, different generation ids.
summary=""
for t in $(seq 1 "$trials"); do
  clones "t$t" "$work/state$t" "$(uuid)" "$(uuid)"
  res=$(python3 "$helper" compare "${n0[$t]}" "$work/t${t}a.out" "$work/t${t}b.out")
  echo "trial $t: blocks generated after resume that both clones produced: $res"
  kern=$(get getrandom) lib=$(get liblisec-rng) draw=$(get liblisec-rng_draw) ossl=$(get RAND_bytes)
  summary+=" trial $t: liblisec-rng $lib (its kernel draws $draw), getrandom() $kern, RAND_bytes $ossl;"
  if [ "$(get liblisec-rng_unexplained)" -gt 0 ]; then
    echo "FAIL: trial $t: liblisec-rng repeated $(get liblisec-rng_unexplained) blocks for which the kernel drew different bytes in the two clones" >&2
    bad=1
  fi
  if [ "$ossl" -eq 0 ]; then
    echo "FAIL: trial $t: RAND_bytes repeated nothing: the test cannot see repeats" >&2
    bad=1
  fi
done

# Control: the first snapshot resumed twice with the original's generation
# id, as if there were no vmgenid device. The kernel is not told and does
# not reseed, so its getrandom() repeats: the comparison sees kernel repeats,
# and liblisec-rng (no generation id visible to it either) is no better.
clones ctl "$work/state1" "$orig_guid" "$orig_guid"
res=$(python3 "$helper" compare "${n0[1]}" "$work/ctla.out" "$work/ctlb.out")
echo "control (no generation change): $res"
[ "$(get getrandom)" -gt 0 ] || { echo "FAIL: control: the kernel's getrandom() did not repeat: the test cannot see kernel repeats" >&2; bad=1; }
[ "$(get liblisec-rng_draw)" -gt 0 ] || { echo "FAIL: control: liblisec-rng's kernel draws did not repeat: the test does not see the draws the library makes" >&2; bad=1; }
summary+=" control: liblisec-rng $(get liblisec-rng), getrandom() $(get getrandom), RAND_bytes $(get RAND_bytes)"
rm -f "$work"/state*

# ---- 2. key generation talking to lisec-entropyd at the snapshot
vm_mode=keygen
boot_orig korig "rng_clone_guest: generating keys"
end=$((SECONDS + 120))
until [ "$(python3 "$helper" keys_ok 0 "$work/korig.keys")" -ge 3 ]; do
  [ $SECONDS -lt $end ] || { cat "$work/korig.console" "$work/entropyd.log" >&2; fail "the guest generated no keys with lisec-entropyd within 120 s"; }
  sleep 0.2
done
echo "guest generating keys with lisec-entropyd after $((SECONDS - t0)) s"
declare -a n0k
for t in $(seq 1 "$key_trials"); do
  # A snapshot while a key generation is in flight: the one after the last
  # recorded key has started and, at this rate, is talking to the daemon.
  have=$(python3 "$helper" count "$work/korig.keys")
  until [ "$(python3 "$helper" count "$work/korig.keys")" -gt "$have" ]; do sleep 0.05; done
  python3 "$helper" snapshot "$work/korig.qmp" "$work/kstate$t" || fail "key snapshot $t"
  n0k[$t]=$(python3 "$helper" last "$work/korig.keys")
  python3 "$helper" cont "$work/korig.qmp" || fail "resuming the original after key snapshot $t"
done
python3 "$helper" quit "$work/korig.qmp" || true
ksummary=""
for t in $(seq 1 "$key_trials"); do
  key_n0=${n0k[$t]}
  conns=$(metric lisec_entropyd_connections_total)
  clones "k$t" "$work/kstate$t" "$(uuid)" "$(uuid)"
  conns=$(($(metric lisec_entropyd_connections_total) - conns))
  keys=$(python3 "$helper" keys "$key_n0" "$work/k${t}a.keys" "$work/k${t}b.keys")
  echo "key trial $t: after the resume $keys; new connections at lisec-entropyd: $conns"
  for c in a b; do grep "rng_clone_guest: keygen" "$work/k$t$c.console" | sed "s/^/  clone $c: /" | head -5 || true; done
  read -r koka kokb < <(sed -n 's/.*keys_ok=\([0-9]*\),\([0-9]*\).*/\1 \2/p' <<<"$keys")
  read -r kfa kfb < <(sed -n 's/.*keys_failed=\([0-9]*\),\([0-9]*\).*/\1 \2/p' <<<"$keys")
  shared=$(sed -n 's/.*keys_shared=\([0-9]*\).*/\1/p' <<<"$keys")
  ksummary+=" key trial $t: $koka + $kokb keys, $shared shared, $((kfa + kfb)) refused, $conns connections;"
  # The parent went on fetching after the snapshot on the same replay
  # stream: each twin's first request is refused as a replay, and the retry
  # must go out on a stream of its own.
  if [ $((kfa + kfb)) -ne 0 ]; then
    echo "FAIL: key trial $t: $kfa and $kfb key generations refused after the resume" >&2
    bad=1
  fi
  if [ "$shared" -ne 0 ]; then
    echo "FAIL: key trial $t: both clones generated $shared identical keys" >&2
    bad=1
  fi
  # Every key generation fetches over a session of its own: a clone that
  # continued the snapshot's session would get keys without connecting.
  if [ "$conns" -lt $((koka + kokb)) ]; then
    echo "FAIL: key trial $t: $((koka + kokb)) keys after the resume over only $conns new connections" >&2
    bad=1
  fi
done

echo "after resume, per trial:$summary;$ksummary"
[ $bad -eq 0 ] || fail "liblisec-rng is weaker than the kernel after a VM clone, or a clone reused a session"
pass "VM clones (vmgenid, kernel $kver: $trials stream trials and a control, $key_trials key trials) in $((SECONDS - t0)) s"
