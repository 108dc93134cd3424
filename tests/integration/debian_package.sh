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
# answers /healthz and stops cleanly on the unit's KillSignal. The units of
# lisec-entropyd and lisec-ne (their own system users, the group lisec to
# enter /etc/lisec) are judged as the others are, and each daemon is
# started from its unit's ExecStart= (and EnvironmentFile=) under setpriv
# with the unit's User=, Group=, SupplementaryGroups=, no capability and no
# new privileges (systemd is not PID 1 in a test), with its configuration
# made from the installed example: lisec-entropyd serves a seed from
# getrandom, jitter and a swtpm (by TCP, as rng_entropyd.sh; no
# /dev/tpmrm0 here) and lisec-ne takes a task into its state directory,
# and each stops with 0 on SIGTERM; without the group lisec each is refused
# its configuration. Reinstalling
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
for tool in dpkg-buildpackage dh help2man lintian git cc swtpm; do
  command -v "$tool" >/dev/null || fail "$tool is missing (scripts/bootstrap installs debhelper, help2man, lintian, swtpm)"
done
# The package, its user and its directories are the machine's: one run at a
# time (the release build's and another build directory's runs wait).
exec 9>/run/lock/lisec-debian-package-test.lock
flock -w 600 9 || fail "another debian_package run held /run/lock/lisec-debian-package-test.lock for 10 minutes"
# The machine's own state is not the test's to change.
if dpkg-query -W -f='${Status}' lisec 2>/dev/null | grep -q installed; then
  fail "a lisec package is installed on this machine; the test will not replace it"
fi
for d in /etc/lisec /var/lib/lisec /var/lib/lisec-ne; do
  [ ! -e "$d" ] || fail "$d exists on this machine; the test will not use it (remove it if a failed run left it)"
done
declare -A user_before
for u in lisec lisec-entropyd lisec-ne; do user_before[$u]=$(getent passwd "$u" || true); done

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
  rm -rf /etc/lisec /var/lib/lisec /var/lib/lisec-ne
  local u
  for u in lisec lisec-entropyd lisec-ne; do
    if [ -z "${user_before[$u]}" ] && getent passwd "$u" >/dev/null; then
      userdel "$u"
      getent group "$u" >/dev/null && groupdel "$u"
    fi
  done
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
units=(lisecd lisec-agent lisec-entropyd lisec-ne)
unitdir=$(dirname "$unit")
for u in "${units[@]}"; do
  [ -f "$unitdir/$u.service" ] || fail "no $u.service installed"
  [ ! -e "/etc/systemd/system/multi-user.target.wants/$u.service" ] ||
    fail "$u.service was enabled at install, before it has a configuration"
  # The units' Documentation= pages are where they say.
  for doc in $(sed -n 's|^Documentation=file://||p' "$unitdir/$u.service"); do
    [ -f "$doc" ] || fail "$u.service's Documentation= names $doc, which the package does not install"
  done
done
for u in lisec-entropyd lisec-ne; do
  IFS=: read -r _ _ uid _ _ _ shell < <(getent passwd "$u") || fail "no user $u after installing"
  [ "$uid" -lt 1000 ] || fail "$u is not a system user (uid $uid)"
  case $shell in */nologin | */false) ;; *) fail "$u has a login shell: $shell" ;; esac
done
for f in entropyd.conf lisec-ne.env; do
  [ -f "/usr/share/doc/lisec/examples/$f" ] || fail "the example $f is not installed"
done
# Each unit's confinement as systemd judges it (systemd-analyze security,
# offline, on the installed file): an exposure of 2.5 at most, and none of
# the protections below missing. lisec-agent runs as root (the TPM, the
# event log), so its capabilities are what keeps it from being all of root.
for u in "${units[@]}"; do
  f=$unitdir/$u.service
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
pass "programs, man pages from their usage, units of lisecd, lisec-agent, lisec-entropyd and lisec-ne (not enabled, their Documentation= installed), the hook under /usr/share/lisec, liblisec-rng and <lisec/rng.h>, liblisec-events and <lisec/events.h> (a program links to each and runs), lisec-event in its own package"

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

# lisec-entropyd and lisec-ne as their units run them. systemd is not PID 1
# here, so each ExecStart= runs under setpriv with the unit's User=,
# Group= and SupplementaryGroups=, no capability (the unit's
# CapabilityBoundingSet= is empty) and no new privileges, in the
# environment of its EnvironmentFile=, its state directory made as systemd
# makes it. The unit's file-system and system-call confinement is judged
# above, not rebuilt (systemd_unit.sh rebuilds lisecd's).
# sval UNIT KEY: the last value of KEY in the unit's [Service].
sval() {
  awk -v k="$2" '/^\[/ { sec = $0; next } sec == "[Service]" && index($0, k "=") == 1 { v = substr($0, length(k) + 2) } END { print v }' \
    "$unitdir/$1.service"
}
# as_unit UNIT [GROUPS]: the setpriv command line of UNIT's identity, with
# GROUPS instead of its SupplementaryGroups= when given.
as_unit() {
  local u=$1 groups user group
  user=$(sval "$u" User) group=$(sval "$u" Group)
  groups=${2-$(sval "$u" SupplementaryGroups | tr ' ' ',')}
  [ -n "$user" ] && [ "$user" != root ] || fail "$u.service runs as '${user:-root}', not a user of its own"
  [ -z "$(sval "$u" CapabilityBoundingSet)" ] && [ -z "$(sval "$u" AmbientCapabilities)" ] ||
    fail "$u.service keeps capabilities: $(sval "$u" CapabilityBoundingSet)"
  [ "$(sval "$u" NoNewPrivileges)" = yes ] || fail "$u.service does not set NoNewPrivileges=yes"
  echo setpriv --reuid="$user" --regid="${group:-$user}" "$([ -n "$groups" ] && echo "--groups=$groups" || echo --clear-groups)" \
    --inh-caps=-all --bounding-set=-all --no-new-privs --
}
# unit_cmd UNIT: the unit's ExecStart=, one word a line, its ${VAR} (one
# word) and $VAR (split at blanks) taken from its EnvironmentFile=, as
# systemd does.
unit_cmd() {
  local u=$1 envf line w
  declare -A vars=()
  envf=$(sval "$u" EnvironmentFile)
  envf=${envf#-}
  if [ -n "$envf" ]; then
    while IFS= read -r line; do
      case $line in '' | '#'*) continue ;; esac
      vars[${line%%=*}]=${line#*=}
    done <"$envf"
  fi
  local first=1
  for w in $(sval "$u" ExecStart); do
    # systemd's prefixes (-, @, +, !, :) are the command's, not an argument's
    [ $first = 1 ] && w=${w#[-@+!:]} && first=0
    case $w in
      '${'*'}') printf '%s\n' "${vars[${w:2:-1}]}" ;;
      '$'*) for x in ${vars[${w:1}]}; do printf '%s\n' "$x"; done ;;
      *) printf '%s\n' "$w" ;;
    esac
  done
}
# unit_env UNIT: the EnvironmentFile='s lines (systemd gives them to the process).
unit_env() {
  local envf
  envf=$(sval "$1" EnvironmentFile)
  envf=${envf#-}
  [ -n "$envf" ] && grep -v '^#\|^$' "$envf"
  return 0
}
unit_start() { # UNIT LOG [GROUPS]: ExecStart as the unit's user in the background; sets svc_pid
  local -a cmd envs setp
  mapfile -t cmd < <(unit_cmd "$1")
  mapfile -t envs < <(unit_env "$1")
  read -r -a setp <<<"$(as_unit "$1" "${@:3}")"
  [ "${cmd[0]}" = "/usr/bin/$1" ] || fail "$1.service's ExecStart runs ${cmd[0]}, not /usr/bin/$1"
  (umask "$(sval "$1" UMask)" && cd / && exec "${setp[@]}" env -i PATH=/usr/bin:/bin "${envs[@]}" "${cmd[@]}") 2>"$2" &
  svc_pid=$!
  cleanup_hooks+=("kill $svc_pid 2>/dev/null; wait $svc_pid 2>/dev/null")
}
unit_stop() { # UNIT LOG: the unit's KillSignal, then its exit status must be 0
  local rc=0 sig
  sig=$(sval "$1" KillSignal)
  kill "-${sig#SIG}" "$svc_pid"
  wait "$svc_pid" || rc=$?
  [ "$rc" = 0 ] || fail "$1 exited $rc on $sig: $(cat "$2")"
}
# Each unit lets its daemon write its state directory at most: no
# ReadWritePaths=, and the paths it writes lie under the StateDirectory=.
for u in lisec-entropyd lisec-ne; do
  [ -z "$(sval "$u" ReadWritePaths)" ] || fail "$u.service opens more to writing: $(sval "$u" ReadWritePaths)"
  [ "$(sval "$u" ProtectSystem)" = strict ] || fail "$u.service does not say ProtectSystem=strict"
done
[ -z "$(sval lisec-entropyd StateDirectory)" ] || fail "lisec-entropyd.service has a state directory; the daemon keeps nothing on disk"
[ "$(sval lisec-ne StateDirectory)" = lisec-ne ] || fail "lisec-ne.service's StateDirectory= is not lisec-ne"

# --- lisec-entropyd: its configuration from the example, a swtpm by TCP ----
eval "$("$src/scripts/test/swtpm-start" "$work/tpm")" || fail "swtpm did not start (scripts/bootstrap installs it)"
cleanup_hooks+=("'$src/scripts/test/swtpm-stop' '$work/tpm'")
lisec pki issue "$pki" vnf-a vnf vnf-a >/dev/null || fail "issue vnf-a"
install -d -m 0750 -o root -g lisec-entropyd /etc/lisec/entropyd
install -m 0640 -o root -g lisec-entropyd "$pki/server.crt" "$pki/server.key" "$pki/ca.crt" /etc/lisec/entropyd/
eport=$(free_port) emport=$(free_port)
sed -e "s|^listen = 127.0.0.1:7443|listen = 127.0.0.1:$eport|" -e "s|^listen = 127.0.0.1:9464|listen = 127.0.0.1:$emport|" \
  -e "s|^tcti = .*|tcti = $LISEC_TPM_TCTI|" /usr/share/doc/lisec/examples/entropyd.conf |
  install -m 0640 -o root -g lisec-entropyd /dev/stdin /etc/lisec/entropyd.conf
grep -q "^listen = 127.0.0.1:$eport" /etc/lisec/entropyd.conf && grep -q "^tcti = swtpm" /etc/lisec/entropyd.conf ||
  fail "the example entropyd.conf no longer has the lines this test sets"
# Bad case: without the group lisec it cannot enter /etc/lisec.
unit_start lisec-entropyd "$work/entropyd-nogroup.log" tss
rc=0
wait "$svc_pid" || rc=$?
[ "$rc" = 2 ] && grep -q 'entropyd.conf' "$work/entropyd-nogroup.log" ||
  fail "lisec-entropyd without the group lisec: exit $rc, $(cat "$work/entropyd-nogroup.log")"
unit_start lisec-entropyd "$work/entropyd.log"
serving=
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$emport/metrics" 2>/dev/null | grep -q '^lisec_entropyd_serving 1' && serving=1 && break
  kill -0 "$svc_pid" 2>/dev/null || fail "lisec-entropyd exited at start: $(cat "$work/entropyd.log")"
  sleep 0.1
done
[ -n "$serving" ] || fail "lisec-entropyd did not serve: $(cat "$work/entropyd.log")"
curl -sf "http://127.0.0.1:$emport/metrics" | grep -q '^lisec_entropyd_source_healthy{source="tpm"} 1' ||
  fail "lisec-entropyd's TPM source is not healthy: $(curl -sf "http://127.0.0.1:$emport/metrics" | grep tpm)"
env LISEC_RNG_ENTROPYD="127.0.0.1:$eport" LISEC_RNG_CERT="$pki/vnf-a.crt" LISEC_RNG_KEY="$pki/vnf-a.key" \
  LISEC_RNG_CA="$pki/ca.crt" /usr/bin/lisec rng reseed >"$work/reseed.out" 2>&1 ||
  fail "no seed from the unit's lisec-entropyd: $(cat "$work/reseed.out") $(cat "$work/entropyd.log")"
[ "$(ps -o user= -p "$svc_pid" | tr -d ' ')" = lisec-entropyd ] || fail "lisec-entropyd does not run as lisec-entropyd"
grep -q '^CapEff:[[:space:]]*0*$' "/proc/$svc_pid/status" || fail "lisec-entropyd has capabilities: $(grep Cap "/proc/$svc_pid/status")"
unit_stop lisec-entropyd "$work/entropyd.log"
pass "lisec-entropyd from its unit's ExecStart as lisec-entropyd (groups $(sval lisec-entropyd SupplementaryGroups), no capability): serves a seed with the TPM source healthy, exits 0; refused its configuration without the group lisec"

# --- lisec-ne: its options from the example, a task kept in its state directory
lisec pki issue "$pki" admf operator admf-1 >/dev/null || fail "issue admf"
install -d -m 0750 -o root -g lisec-ne /etc/lisec/ne
install -m 0640 -o root -g lisec-ne "$pki/server.crt" "$pki/server.key" "$pki/ca.crt" /etc/lisec/ne/
nport=$(free_port)
sed "s|^LISEC_NE_LISTEN=.*|LISEC_NE_LISTEN=127.0.0.1:$nport|" /usr/share/doc/lisec/examples/lisec-ne.env |
  install -m 0640 -o root -g lisec-ne /dev/stdin /etc/lisec/lisec-ne.env
ne_id=$(sed -n 's/^LISEC_NE_ID=//p' /etc/lisec/lisec-ne.env)
admf_id=$(sed -n 's/^LISEC_NE_ADMF_ID=//p' /etc/lisec/lisec-ne.env)
[ "$admf_id" = admf-1 ] || fail "the example lisec-ne.env's ADMF is '$admf_id', not the admf-1 this test issues"
# Every path ExecStart names for lisec-ne to write is in its state directory.
state=$(unit_cmd lisec-ne | sed -n '/^--state$/{n;p}')
[ "${state%/*}" = /var/lib/lisec-ne ] || fail "lisec-ne.service keeps its tasks in '$state', outside its state directory"
# systemd makes the state directory at start, the unit's user's, its mode.
install -d -m "$(sval lisec-ne StateDirectoryMode)" -o lisec-ne -g lisec-ne /var/lib/lisec-ne
unit_start lisec-ne "$work/ne-nogroup.log" ""
rc=0
wait "$svc_pid" || rc=$?
[ "$rc" = 2 ] || fail "lisec-ne without the group lisec: exit $rc, $(cat "$work/ne-nogroup.log")"
unit_start lisec-ne "$work/ne.log"
up=
for _ in $(seq 1 100); do
  (echo >"/dev/tcp/127.0.0.1/$nport") 2>/dev/null && up=1 && break
  kill -0 "$svc_pid" 2>/dev/null || fail "lisec-ne exited at start: $(cat "$work/ne.log")"
  sleep 0.1
done
[ -n "$up" ] || fail "lisec-ne did not listen: $(cat "$work/ne.log")"
xid=29f28e1c-f230-486a-a860-f5a784ab9172
curl -sS --cacert "$pki/ca.crt" --cert "$pki/admf.crt" --key "$pki/admf.key" -H 'Content-Type: application/xml' \
  --data-binary @- "https://localhost:$nport/X1/NE" >"$work/ne-answer.xml" <<XML || fail "no answer from lisec-ne"
<?xml version="1.0" encoding="UTF-8"?>
<X1Request xmlns="http://uri.etsi.org/03221/X1/2017/10" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <x1RequestMessage xsi:type="ActivateTaskRequest">
  <admfIdentifier>$admf_id</admfIdentifier><neIdentifier>$ne_id</neIdentifier>
  <messageTimestamp>2026-11-24T08:00:00.000000Z</messageTimestamp><version>v1.22.1</version>
  <x1TransactionId>4f0f7a52-2b0e-4b8e-9d55-0c3e6d1a2b3c</x1TransactionId>
  <taskDetails><xId>$xid</xId><targetIdentifiers><targetIdentifier><imsi>244051234567890</imsi></targetIdentifier></targetIdentifiers><deliveryType>X2andX3</deliveryType><listOfDIDs><dId>0b5d9b3a-8c9e-4d8b-9a55-5d8f1e2a3b4c</dId></listOfDIDs></taskDetails>
 </x1RequestMessage>
</X1Request>
XML
grep -q '<oK>AcknowledgedAndCompleted</oK>' "$work/ne-answer.xml" || fail "lisec-ne did not take the task: $(cat "$work/ne-answer.xml")"
[ "$(stat -c '%U %a' "$state" 2>/dev/null)" = "lisec-ne 600" ] && grep -q "$xid" "$state" ||
  fail "lisec-ne did not keep the task in $state (0600, its own): $(stat -c '%U %a' "$state" 2>&1)"
[ "$(ps -o user= -p "$svc_pid" | tr -d ' ')" = lisec-ne ] || fail "lisec-ne does not run as lisec-ne"
unit_stop lisec-ne "$work/ne.log"
pass "lisec-ne from its unit's ExecStart and EnvironmentFile as lisec-ne (groups $(sval lisec-ne SupplementaryGroups), no capability): takes a task into $state (0600), exits 0; refused its files without the group lisec"

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
grep -q '/var/lib/lisec-ne is not empty and is kept' "$work/dpkg.log" && [ -f "$state" ] ||
  fail "the purge did not keep lisec-ne's tasks in /var/lib/lisec-ne, saying so"
gone_check
[ -f /var/lib/lisec/lisec.db ] && [ -f "$conf" ] || fail "the purge deleted the store or the configuration"
pass "purge: every file of the packages is gone; non-empty /etc/lisec, /var/lib/lisec (audit log) and /var/lib/lisec-ne (the NE's tasks) are kept, with a message"

# Purge without data: nothing at all remains but the system user. On the
# way, an administrator's dpkg-statoverride for /etc/lisec (a host that runs
# no lisecd gives it to root) is what the install applies.
rm -rf /etc/lisec /var/lib/lisec /var/lib/lisec-ne
dpkg-statoverride --add root root 0750 /etc/lisec || fail "dpkg-statoverride --add"
cleanup_hooks+=("dpkg-statoverride --remove /etc/lisec >/dev/null 2>&1")
dpkg_do -i "${debs[@]}" || fail "dpkg -i (second install)"
[ "$(stat -c '%a %U %G' /etc/lisec)" = "750 root root" ] ||
  fail "the install ignored the statoverride of /etc/lisec: $(stat -c '%a %U %G' /etc/lisec)"
[ "$(stat -c '%a %U %G' /var/lib/lisec)" = "700 lisec lisec" ] || fail "/var/lib/lisec: $(stat -c '%a %U %G' /var/lib/lisec)"
dpkg-statoverride --remove /etc/lisec || fail "dpkg-statoverride --remove"
# lisec-ne.service started once: systemd made its state directory.
install -d -m 0700 -o lisec-ne -g lisec-ne /var/lib/lisec-ne
pass "an administrator's dpkg-statoverride of /etc/lisec (root root 0750) is applied by the install"
dpkg_do --purge "${packages[@]}" || fail "dpkg --purge (second)"
gone_check
[ ! -e /etc/lisec ] && [ ! -e /var/lib/lisec ] && [ ! -e /var/lib/lisec-ne ] ||
  fail "the purge left empty /etc/lisec, /var/lib/lisec or /var/lib/lisec-ne"
pass "purge of an unused installation removes /etc/lisec, /var/lib/lisec and /var/lib/lisec-ne too (test total $(($(date +%s) - t0)) s)"
