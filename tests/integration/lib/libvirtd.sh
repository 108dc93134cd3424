# A private libvirtd with the QEMU driver for integration scripts (sourced
# after common.sh; needs root): libvirtd runs in a mount namespace of its
# own where /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/log/libvirt
# and /var/cache/libvirt are directories under the test's temp dir, so it
# shares nothing with a libvirtd of the machine, and it listens on nothing
# but its unix socket (no --listen). With polkit, the namespace also gets a
# private D-Bus system bus and polkitd reading its rules from a directory
# of the test (libvirtd then runs with access_drivers = ["polkit"]). The
# QEMU driver runs domains as root without cgroups, namespaces or a
# security driver, which a container does not offer; a domain of type
# 'qemu' is TCG, no /dev/kvm needed. Everything started is stopped by pid
# on exit, domains' QEMU processes included.
#
#   libvirtd_start DIR [polkit]   sets LIBVIRTD_URI (qemu+unix:///system?socket=...),
#                                 LIBVIRTD_HOOKS (the hooks dir libvirtd reads at start),
#                                 LIBVIRTD_RULES (polkit rules dir), LIBVIRTD_POLKIT (1/0)
#   libvirtd_stop
#   lv_virsh ARGS...              virsh on the private daemon (as root)
#   lv_tcg_ok                     0 when QEMU can run a TCG guest here

# lv_tcg_ok: QEMU with the TCG accelerator starts and quits (a machine with
# no guest code: -S stops before the first instruction).
lv_tcg_ok() {
  command -v qemu-system-x86_64 >/dev/null || return 1
  printf 'quit\n' | timeout 20 qemu-system-x86_64 -machine pc,accel=tcg -m 16 -nodefaults -display none \
    -S -monitor stdio >/dev/null 2>&1
}

lv_virsh() { virsh -q -c "$LIBVIRTD_URI" "$@"; }

libvirtd_start() {
  local d=$1 polkit=${2:-}
  LIBVIRTD_DIR=$d
  LIBVIRTD_POLKIT=0
  [ "$polkit" = polkit ] && LIBVIRTD_POLKIT=1
  mkdir -p "$d"/{etc/hooks,etc/qemu,run,lib,log,cache,rules}
  # Other users reach the socket (a non-root identity is part of the test).
  chmod 0755 "$d" "$d/run"
  local p=$d
  while [ "$p" != / ]; do chmod o+x "$p" 2>/dev/null || true; p=$(dirname "$p"); done
  cat >"$d/etc/libvirtd.conf" <<CONF
unix_sock_dir = "/run/libvirt"
unix_sock_group = "root"
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "0777"
unix_sock_admin_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
$([ "$LIBVIRTD_POLKIT" = 1 ] && echo 'access_drivers = [ "polkit" ]')
CONF
  cat >"$d/etc/qemu.conf" <<CONF
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
CONF
  cat >"$d/inner.sh" <<'INNER'
set -eu
d=$1 polkit=$2
mount --make-rprivate /
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/libvirt /run/dbus /run/lock
mount --bind "$d/run" /run/libvirt
mount --bind "$d/etc" /etc/libvirt
mkdir -p /var/lib/libvirt /var/log/libvirt /var/cache/libvirt
mount --bind "$d/lib" /var/lib/libvirt
mount --bind "$d/log" /var/log/libvirt
mount --bind "$d/cache" /var/cache/libvirt
if [ "$polkit" = 1 ]; then
  mount --bind "$d/rules" /etc/polkit-1/rules.d
  dbus-daemon --system --fork --print-pid >"$d/dbus.pid"
  /usr/lib/polkit-1/polkitd --no-debug >"$d/polkitd.log" 2>&1 &
  echo $! >"$d/polkitd.pid"
  for _ in $(seq 100); do
    dbus-send --system --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
      org.freedesktop.DBus.NameHasOwner string:org.freedesktop.PolicyKit1 2>/dev/null | grep -q 'boolean true' && break
    sleep 0.1
  done
fi
exec libvirtd --pid-file "$d/libvirtd.pid"
INNER
  unshare -m bash "$d/inner.sh" "$d" "$LIBVIRTD_POLKIT" >"$d/libvirtd.out" 2>&1 &
  LIBVIRTD_PID=$!
  disown "$LIBVIRTD_PID" 2>/dev/null || true # stopped by libvirtd_stop, quietly
  cleanup_hooks+=("libvirtd_stop")
  LIBVIRTD_URI="qemu+unix:///system?socket=$d/run/libvirt-sock"
  LIBVIRTD_HOOKS=$d/etc/hooks
  LIBVIRTD_RULES=$d/rules
  for _ in $(seq 1 150); do
    if [ -S "$d/run/libvirt-sock" ] && virsh -q -c "$LIBVIRTD_URI" version >/dev/null 2>&1; then return 0; fi
    kill -0 "$LIBVIRTD_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$d/libvirtd.out" "$d/log/libvirtd.log" >&2 2>/dev/null || true
  fail "the private libvirtd did not start"
}

# libvirtd_stop: the domains' QEMU processes (libvirt leaves them running
# when it stops), libvirtd, polkitd and the bus, each by its pid.
libvirtd_stop() {
  local d=${LIBVIRTD_DIR:-} f pid
  [ -n "$d" ] || return 0
  for f in "$d"/run/qemu/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f" 2>/dev/null) && [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  done
  if [ -n "${LIBVIRTD_PID:-}" ]; then
    kill -TERM "$LIBVIRTD_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$LIBVIRTD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$LIBVIRTD_PID" 2>/dev/null || true
  fi
  for f in polkitd.pid dbus.pid; do
    pid=$(cat "$d/$f" 2>/dev/null) && [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
  done
  LIBVIRTD_DIR=
}
