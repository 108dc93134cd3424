#!/usr/bin/env bash
# The Debian package (debian/): built with `dpkg-buildpackage -us -uc -b`
# from a copy of the committed tree (git archive HEAD, so the working tree
# and its build directories are untouched), checked by lintian (no error or
# warning), installed on this machine with dpkg -i, and checked: the system
# user lisec, /etc/lisec at 0750 root:lisec (lisec reads it but cannot put a
# file there that root's agent or hook would read) and /var/lib/lisec at
# 0700 owned by lisec, programs, man pages, units (not enabled; each
# confined as `systemd-analyze security` judges it), the libvirt hook, liblisec-rng and
# liblisec-events with their headers (a program is compiled and linked
# against each), and lisec-event in its own package, linked to the latter. lisecd is then
# started the way systemd would, from the installed unit file's User=,
# ExecStartPre= and ExecStart= lines, with a test configuration and PKI,
# answers /healthz and stops cleanly on the unit's KillSignal. Reinstalling
# keeps the modes and the data; a purge removes every file of the package
# but keeps non-empty /etc/lisec and /var/lib/lisec (the audit log is a
# record), and removes them when empty. Needs root (exit 77 otherwise); in a
# sanitizer build directory it is skipped (the package does not use that
# build, and the release build's run has tested it). The build takes about
# 2-3 minutes on 2 cores.
build=$1 src=$2
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/pki.sh"

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: installing a package (dpkg -i) needs root"
  exit 77
fi
if grep -qs '^LISEC_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
  echo "SKIP: the package is built from the source, not from this sanitizer build; the release build's run tests it"
  exit 77
fi
for tool in dpkg-buildpackage dh help2man lintian git cc; do
  command -v "$tool" >/dev/null || fail "$tool is missing (scripts/bootstrap installs debhelper, help2man, lintian)"
done
# The package, its user and its directories are the machine's: one run at a
# time (the release build's and another build directory's runs wait).
exec 9>/run/lock/lisec-debian-package-test.lock
flock -w 600 9 || fail "another debian_package run held /run/lock/lisec-debian-package-test.lock for 10 minutes"
# The machine's own state is not the test's to change.
if dpkg-query -W -f='${Status}' lisec 2>/dev/null | grep -q installed; then
  fail "a lisec package is installed on this machine; the test will not replace it"
fi
for d in /etc/lisec /var/lib/lisec; do
  [ ! -e "$d" ] || fail "$d exists on this machine; the test will not use it (remove it if a failed run left it)"
done
user_before=$(getent passwd lisec || true)

# dpkg takes a lock; another package operation on the machine may hold it
# for a while. Bounded retries, never a long sleep.
dpkg_do() {
  local i
  for i in $(seq 1 60); do
    if dpkg "$@" >"$work/dpkg.log" 2>&1; then return 0; fi
    grep -q 'lock' "$work/dpkg.log" || { cat "$work/dpkg.log" >&2; return 1; }
    sleep 1
  done
  cat "$work/dpkg.log" >&2
  return 1
}
packages=(liblisec-rng-dev lisec liblisec-rng2 liblisec-events-dev lisec-event liblisec-events1)
remove_all() {
  local p
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -qv 'not-installed' && dpkg_do --purge "$p"
  done
  rm -rf /etc/lisec /var/lib/lisec
  if [ -z "$user_before" ] && getent passwd lisec >/dev/null; then
    userdel lisec
    getent group lisec >/dev/null && groupdel lisec
  fi
  return 0
}
cleanup_hooks+=("remove_all")

# Build from the committed tree.
t0=$(date +%s)
mkdir "$work/pkg" "$work/pkg/lisec"
git -C "$src" archive HEAD | tar -x -C "$work/pkg/lisec" || fail "git archive HEAD of $src"
(cd "$work/pkg/lisec" && DEB_BUILD_OPTIONS="parallel=$(nproc)" dpkg-buildpackage -us -uc -b) \
  >"$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; fail "dpkg-buildpackage -us -uc -b"; }
changes=$(ls "$work"/pkg/lisec_*.changes)
for p in "${packages[@]}"; do
  ls "$work"/pkg/${p}_*.deb >/dev/null 2>&1 || fail "the build made no $p package: $(ls "$work/pkg")"
done
pass "dpkg-buildpackage -us -uc -b built ${packages[*]} in $(($(date +%s) - t0)) s"

lintian --fail-on error,warning --display-info "$changes" >"$work/lintian.log" 2>&1 ||
  fail "lintian: $(cat "$work/lintian.log")"
if grep -E '^(E|W):' "$work/lintian.log"; then fail "lintian reports errors or warnings"; fi
pass "lintian: no error or warning ($(grep -c '^[IPX]:' "$work/lintian.log" || true) informational tags)"

debs=()
for p in "${packages[@]}"; do debs+=("$work"/pkg/${p}_*.deb); done
dpkg_do -i "${debs[@]}" || fail "dpkg -i"
dpkg -L "${packages[@]}" | sort -u >"$work/files"

# The user, the directories and their modes.
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd lisec) || fail "no user lisec after installing"
[ "$uid" -lt 1000 ] || fail "lisec is not a system user (uid $uid)"
case $shell in */nologin | */false) ;; *) fail "lisec has a login shell: $shell" ;; esac
[ "$(getent group lisec | cut -d: -f3)" = "$gid" ] || fail "lisec's primary group is not the group lisec"
[ "$home" = /var/lib/lisec ] || fail "lisec's home is $home"
# /etc/lisec is root's and readable by the group lisec: lisecd (user lisec)
# reads its configuration there, and root's lisec-agent and libvirt hook read
# theirs there too (the agent runs its [bmc] ipmitool program as root), so
# the user lisec must not be able to create or replace a file in it.
dir_modes() {
  [ "$(stat -c '%a %U %G' /etc/lisec)" = "750 root lisec" ] ||
    fail "/etc/lisec is $(stat -c '%a %U %G' /etc/lisec), not 750 root lisec $*"
  [ "$(stat -c '%a %U %G' /var/lib/lisec)" = "700 lisec lisec" ] ||
    fail "/var/lib/lisec is $(stat -c '%a %U %G' /var/lib/lisec), not 700 lisec lisec $*"
  if setpriv --reuid=lisec --regid=lisec --init-groups -- sh -c ': >/etc/lisec/agent.conf' 2>/dev/null; then
    rm -f /etc/lisec/agent.conf
    fail "the user lisec can create /etc/lisec/agent.conf, which root's lisec-agent obeys $*"
  fi
  setpriv --reuid=lisec --regid=lisec --init-groups -- ls /etc/lisec >/dev/null ||
    fail "the user lisec cannot read /etc/lisec $*"
}
dir_modes "after the install"
pass "system user lisec (uid $uid, $shell); /etc/lisec 0750 root:lisec (lisec reads it, cannot write it), /var/lib/lisec 0700 lisec:lisec"

# What the package installs.
for p in lisecd lisec lisec-agent lisec-entropyd lisec-ne lisec-event; do
  [ -x "/usr/bin/$p" ] || fail "/usr/bin/$p missing"
  [ -s "/usr/share/man/man1/$p.1.gz" ] || fail "no man page for $p"
  zcat "/usr/share/man/man1/$p.1.gz" | grep -q '^\.SH DESCRIPTION' || fail "the man page of $p has no DESCRIPTION"
  zcat "/usr/share/man/man1/$p.1.gz" | grep -q 'usage' || fail "the man page of $p lacks the program's usage"
done
/usr/bin/lisecd --help >/dev/null || fail "the installed lisecd does not run"
unit=""
for dir in /lib/systemd/system /usr/lib/systemd/system; do
  [ -f "$dir/lisecd.service" ] && unit=$dir/lisecd.service && break
done
[ -n "$unit" ] || fail "no lisecd.service installed"
[ -f "$(dirname "$unit")/lisec-agent.service" ] || fail "no lisec-agent.service installed"
[ ! -e /etc/systemd/system/multi-user.target.wants/lisecd.service ] ||
  fail "lisecd.service was enabled at install, before it has a configuration"
# The units' Documentation= pages are where they say.
for doc in $(sed -n 's|^Documentation=file://||p' "$unit" "$(dirname "$unit")/lisec-agent.service"); do
  [ -f "$doc" ] || fail "a unit's Documentation= names $doc, which the package does not install"
done
# Each unit's confinement as systemd judges it (systemd-analyze security,
# offline, on the installed file): an exposure of 2.5 at most, and none of
# the protections below missing. lisec-agent runs as root (the TPM, the
# event log), so its capabilities are what keeps it from being all of root.
for u in lisecd lisec-agent; do
  f=$(dirname "$unit")/$u.service
  systemd-analyze security --offline=yes --no-pager "$f" >"$work/security-$u.txt" 2>&1 || true
  grep -q "Overall exposure level for $u.service" "$work/security-$u.txt" ||
    fail "systemd-analyze security did not judge $u.service: $(cat "$work/security-$u.txt")"
  for check in 'CapabilityBoundingSet=~CAP_SYS_ADMIN' 'CapabilityBoundingSet=~CAP_SYS_PTRACE' \
    'CapabilityBoundingSet=~CAP_SET(UID|GID|PCAP)' 'CapabilityBoundingSet=~CAP_SYS_MODULE' \
    'CapabilityBoundingSet=~CAP_(CHOWN|FSETID|SETFCAP)' 'CapabilityBoundingSet=~CAP_NET_ADMIN' \
    'SystemCallFilter=~@privileged' 'SystemCallFilter=~@mount' 'SystemCallFilter=~@module' \
    'SystemCallFilter=~@debug' 'SystemCallFilter=~@raw-io' 'NoNewPrivileges=' 'ProtectSystem=' \
    'ProtectHome=' 'PrivateTmp=' 'ProtectClock=' 'ProtectKernelLogs=' 'ProtectKernelModules=' \
    'ProtectKernelTunables=' 'ProtectHostname=' 'RestrictSUIDSGID=' 'RestrictRealtime=' \
    'RestrictNamespaces=~user' 'MemoryDenyWriteExecute=' 'LockPersonality=' 'SystemCallArchitectures='; do
    grep -qF "✓ $check " "$work/security-$u.txt" ||
      fail "$u.service lacks $check: $(grep -F " $check " "$work/security-$u.txt")"
  done
  systemd-analyze security --offline=yes --no-pager --threshold=25 "$f" >/dev/null 2>&1 ||
    fail "$u.service: $(grep 'Overall exposure' "$work/security-$u.txt"), above 2.5"
done
pass "units confined as systemd-analyze security judges them: $(grep -h 'Overall exposure' "$work"/security-*.txt | sed 's/.*for //' | tr '\n' ' ')"
[ -x /usr/share/lisec/libvirt/hooks/qemu ] || fail "the libvirt hook is not installed executable"
! grep -q '^/etc/libvirt' "$work/files" || fail "the package installs into /etc/libvirt (the hook must not be active unasked)"
[ -f /usr/include/lisec/rng.h ] || fail "no /usr/include/lisec/rng.h"
cat >"$work/rngcheck.c" <<'C'
#include <lisec/rng.h>
#include <stdio.h>
int main(void) {
  /* Linking is what is checked; the call proves the symbol is exported. */
  printf("%s\n", lisec_rng_strerror(0));
  return 0;
}
C
cc -o "$work/rngcheck" "$work/rngcheck.c" -llisec-rng 2>"$work/cc.log" || fail "cannot link against liblisec-rng: $(cat "$work/cc.log")"
"$work/rngcheck" >/dev/null || fail "a program linked against the installed liblisec-rng does not run"
[ -f /usr/include/lisec/events.h ] || fail "no /usr/include/lisec/events.h"
[ "$(dpkg -S /usr/include/lisec/events.h | cut -d: -f1)" = liblisec-events-dev ] || fail "events.h is not liblisec-events-dev's"
[ "$(dpkg -S /usr/bin/lisec-event | cut -d: -f1)" = lisec-event ] || fail "lisec-event is not in its own package"
cat >"$work/evcheck.c" <<'C'
#include <lisec/events.h>
#include <stdio.h>
int main(void) {
  /* an event key made by the installed library (software: no TPM here) */
  char err[LISEC_EVENT_ERR_MAX];
  if (lisec_event_key_create("vm.key", "vm.pub", err)) return fprintf(stderr, "%s\n", err), 1;
  lisec_event_key *k = NULL;
  char *ev = NULL;
  if (lisec_event_key_load("vm.key", &k, err) || lisec_event_sign(k, "vm-li-1", 1, 0, "start", NULL, &ev, err))
    return fprintf(stderr, "%s\n", err), 1;
  lisec_event_key_free(k);
  return 0;
}
C
cc -o "$work/evcheck" "$work/evcheck.c" -llisec-events 2>"$work/cc.log" || fail "cannot link against liblisec-events: $(cat "$work/cc.log")"
(cd "$work" && ./evcheck) || fail "a program linked against the installed liblisec-events does not run"
evlib=$(ldd /usr/bin/lisec-event | awk '/liblisec-events\.so\.1 =>/ {print $3}')
[ -n "$evlib" ] && [ "$(realpath "$evlib")" = "$(realpath "/usr/lib/$(cc -print-multiarch)/liblisec-events.so.1")" ] ||
  fail "lisec-event does not use the installed liblisec-events: $(ldd /usr/bin/lisec-event | grep lisec)"
(cd "$work" && /usr/bin/lisec-event keygen --key vm2.key --pub vm2.pub) || fail "the installed lisec-event does not run"
pass "programs, man pages from their usage, units (not enabled, their Documentation= installed), the hook under /usr/share/lisec, liblisec-rng and <lisec/rng.h>, liblisec-events and <lisec/events.h> (a program links to each and runs), lisec-event in its own package"

# lisecd as its unit runs it: the unit's user, its ExecStartPre and ExecStart.
unit_value() { sed -n "s/^$1=//p" "$unit" | tail -1; }
run_user=$(unit_value User)
[ "$run_user" = lisec ] || fail "the unit runs lisecd as '$run_user', not lisec"
exec_start=$(unit_value ExecStart)
exec_pre=$(unit_value ExecStartPre)
kill_signal=$(unit_value KillSignal)
[ -n "$exec_start" ] || fail "no ExecStart= in $unit"
# systemd's prefixes (-, @, +, !, :) are not part of the command.
exec_start=${exec_start#[-@+!:]} exec_pre=${exec_pre#[-@+!:]}
read -r -a start_cmd <<<"$exec_start"
[ "${start_cmd[0]}" = /usr/bin/lisecd ] || fail "ExecStart runs ${start_cmd[0]}, not the installed /usr/bin/lisecd"
conf=""
for ((i = 1; i < ${#start_cmd[@]}; i++)); do
  case ${start_cmd[$i]} in -c | --config) conf=${start_cmd[$((i + 1))]} ;; esac
done
[ "${conf%/*}" = /etc/lisec ] || fail "ExecStart reads its configuration from '$conf', not /etc/lisec"

pki=$work/pki
make_pki "$pki"
install -d -m 0700 -o lisec -g lisec /etc/lisec/tls
install -m 0600 -o lisec -g lisec "$pki/server.crt" "$pki/server.key" "$pki/ca.crt" /etc/lisec/tls/
port=$(free_port)
install -m 0600 -o lisec -g lisec /dev/stdin "$conf" <<CONF
[server]
listen = 127.0.0.1:$port
workers = 2
[tls]
cert = /etc/lisec/tls/server.crt
key = /etc/lisec/tls/server.key
client_ca = /etc/lisec/tls/ca.crt
[store]
url = sqlite:/var/lib/lisec/lisec.db
[log]
level = info
[audit]
origin = lisec-test/debian
development_key_file = /var/lib/lisec/audit-dev.pem
allow_development_key = true
CONF
if [ -n "$exec_pre" ]; then
  read -r -a pre_cmd <<<"$exec_pre"
  (umask 0077 && cd / && setpriv --reuid=lisec --regid=lisec --init-groups -- "${pre_cmd[@]}") >"$work/pre.log" 2>&1 ||
    fail "ExecStartPre ($exec_pre) failed: $(cat "$work/pre.log")"
fi
# setpriv execs (no process in between), as systemd's User= does.
as_user=(setpriv --reuid=lisec --regid=lisec --init-groups --)
(umask 0077 && cd / && exec "${as_user[@]}" "${start_cmd[@]}") 2>"$work/lisecd.log" &
lisecd_pid=$!
cleanup_hooks+=("kill $lisecd_pid 2>/dev/null; wait $lisecd_pid 2>/dev/null")
up=
for _ in $(seq 1 100); do
  if curl -sf -o /dev/null --cacert "$pki/ca.crt" --cert "$pki/operator.crt" --key "$pki/operator.key" \
    "https://localhost:$port/healthz"; then up=1 && break; fi
  kill -0 "$lisecd_pid" 2>/dev/null || fail "lisecd exited at start: $(cat "$work/lisecd.log")"
  sleep 0.1
done
[ -n "$up" ] || fail "lisecd did not answer /healthz: $(cat "$work/lisecd.log")"
[ "$(ps -o user= -p "$lisecd_pid" | tr -d ' ')" = lisec ] || fail "lisecd does not run as lisec"
[ "$(stat -c '%U %a' /var/lib/lisec/lisec.db)" = "lisec 600" ] ||
  fail "lisecd's store is $(stat -c '%U %a' /var/lib/lisec/lisec.db), not lisec 600"
kill "-${kill_signal#SIG}" "$lisecd_pid"
rc=0
wait "$lisecd_pid" || rc=$?
[ "$rc" = 0 ] || fail "lisecd exited $rc on $kill_signal: $(cat "$work/lisecd.log")"
pass "lisecd started from the unit's ExecStartPre/ExecStart as lisec, answered /healthz, wrote its store 0600, exited 0 on $kill_signal"

# Reinstalling (an upgrade in place) keeps the modes and the data, and gives
# /etc/lisec back to root where an earlier package had given it to lisec.
chown lisec:lisec /etc/lisec && chmod 0700 /etc/lisec
dpkg_do -i "${debs[@]}" || fail "dpkg -i over the installed packages"
dir_modes "after reinstalling over a lisec-owned /etc/lisec"
[ -f /var/lib/lisec/lisec.db ] && [ -f "$conf" ] || fail "reinstalling lost the store or the configuration"
pass "reinstalling keeps /var/lib/lisec (0700 lisec) and the contents, and makes a lisec-owned /etc/lisec 0750 root:lisec"

# Purge with data: every file of the package goes, the data stays.
gone_check() {
  local f
  for p in "${packages[@]}"; do
    case $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true) in
      "" | not-installed) ;;
      *) fail "dpkg still has $p: $(dpkg-query -W -f='${db:Status-Status}' "$p")" ;;
    esac
  done
  while read -r f; do
    [ -d "$f" ] && continue # /usr/bin and the like are shared
    [ ! -e "$f" ] || fail "$f left behind after the purge"
  done <"$work/files"
}
dpkg_do --purge "${packages[@]}" || fail "dpkg --purge"
grep -q '/var/lib/lisec is not empty and is kept' "$work/dpkg.log" || fail "the purge did not say it kept /var/lib/lisec"
gone_check
[ -f /var/lib/lisec/lisec.db ] && [ -f "$conf" ] || fail "the purge deleted the store or the configuration"
pass "purge: every file of the packages is gone; non-empty /etc/lisec and /var/lib/lisec (audit log) are kept, with a message"

# Purge without data: nothing at all remains but the system user. On the
# way, an administrator's dpkg-statoverride for /etc/lisec (a host that runs
# no lisecd gives it to root) is what the install applies.
rm -rf /etc/lisec /var/lib/lisec
dpkg-statoverride --add root root 0750 /etc/lisec || fail "dpkg-statoverride --add"
cleanup_hooks+=("dpkg-statoverride --remove /etc/lisec >/dev/null 2>&1")
dpkg_do -i "${debs[@]}" || fail "dpkg -i (second install)"
[ "$(stat -c '%a %U %G' /etc/lisec)" = "750 root root" ] ||
  fail "the install ignored the statoverride of /etc/lisec: $(stat -c '%a %U %G' /etc/lisec)"
[ "$(stat -c '%a %U %G' /var/lib/lisec)" = "700 lisec lisec" ] || fail "/var/lib/lisec: $(stat -c '%a %U %G' /var/lib/lisec)"
dpkg-statoverride --remove /etc/lisec || fail "dpkg-statoverride --remove"
pass "an administrator's dpkg-statoverride of /etc/lisec (root root 0750) is applied by the install"
dpkg_do --purge "${packages[@]}" || fail "dpkg --purge (second)"
gone_check
[ ! -e /etc/lisec ] && [ ! -e /var/lib/lisec ] || fail "the purge left empty /etc/lisec or /var/lib/lisec"
pass "purge of an unused installation removes /etc/lisec and /var/lib/lisec too (test total $(($(date +%s) - t0)) s)"
