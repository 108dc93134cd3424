#!/usr/bin/env bash
# The shipped systemd unit (examples/systemd/lisecd.service, or the unit in
# $LISEC_UNIT) opens a SoftHSM token under its own confinement (issue 25:
# under User=lisec and ProtectSystem=strict the unit once met "C_Initialize
# failed (CKR 0x5)" and "token not found"). systemd-analyze verifies the
# unit; then its confinement is rebuilt from what the unit says, without
# systemd: a mount namespace whose every mount is read-only except the
# unit's ReadWritePaths= and StateDirectory=, the unit's User=, Group= and
# SupplementaryGroups= (setpriv), no new privileges, no capabilities, its
# UMask= and only its Environment=. The unit's paths are mapped under a
# temporary root ($root/etc/lisec, $root/var/lib/softhsm/tokens, ...), laid
# out as Debian's softhsm2 sets them up: configuration and token directory
# of the group softhsm, closed to others. ExecStartPre (--check-config) and
# ExecStart run there; lisecd must answer and its keys be in the token.
# Bad cases: the same confinement without the unit's SOFTHSM2_CONF, and
# without the token's group, each refused with the CKR_ name and what to
# check. Not rebuilt: PrivateTmp= (the temporary root is in /tmp),
# ProtectHome=, the system-call filter and the other kernel protections.
# Run by root, the user is switched; by another user, in a user namespace
# as far as it goes (the mounts), without switching user.
build=$1 src=$2
# On disk, not /dev/shm: the rebuilt confinement leaves /dev's mounts as
# they are, and must be seen to make the temporary root read-only.
LISEC_TEST_TMP=${TMPDIR:-/tmp}
. "$src/tests/integration/lib/common.sh"
command -v systemd-analyze >/dev/null || { echo "skip: systemd-analyze absent"; exit 77; }
unit=${LISEC_UNIT:-$src/examples/systemd/lisecd.service}
eval "$("$src/scripts/test/softhsm-start" "$work/probe" probe 1234)" # finds LISEC_P11_MODULE
unset SOFTHSM2_CONF
chmod 755 "$work"
root=$work/root
mkdir -p "$root/usr/bin"
cp "$build/cmd/lisecd/lisecd" "$root/usr/bin/lisecd"
chmod 755 "$root" "$root/usr" "$root/usr/bin" "$root/usr/bin/lisecd"

# ---- the unit as systemd reads it -------------------------------------------
# The binary's path mapped to the copy, so verify finds it.
sed "s|/usr/bin/lisecd|$root/usr/bin/lisecd|g" "$unit" >"$work/lisecd.service"
systemd-analyze verify "$work/lisecd.service" >"$work/verify.out" 2>&1 || { cat "$work/verify.out" >&2; fail "systemd-analyze verify"; }
if grep -q 'lisecd.service' "$work/verify.out"; then cat "$work/verify.out" >&2; fail "systemd-analyze verify warns about the unit"; fi
pass "systemd-analyze verify: no complaint about the unit"

# [Service] KEY: each value, one a line (later lines add to earlier ones; an
# empty assignment resets, as systemd does).
unit_get() {
  awk -v k="$1" '
    /^\[/ { sec = $0; next }
    sec == "[Service]" && index($0, k "=") == 1 {
      v = substr($0, length(k) + 2)
      if (v == "") { n = 0; next }
      vals[n++] = v
    }
    END { for (i = 0; i < n; i++) print vals[i] }' "$unit"
}
# An absolute path of the unit, mapped under the temporary root.
mapped() { case $1 in /*) echo "$root$1" ;; *) echo "$1" ;; esac; }

svc_user=$(unit_get User | tail -1)
svc_group=$(unit_get Group | tail -1)
[ -n "$svc_user" ] || fail "the unit names no User="
[ "$(unit_get ProtectSystem | tail -1)" = strict ] || fail "the unit does not say ProtectSystem=strict"
# Ids: the unit's names mapped to numbers no one else here uses.
declare -A ids=(["$svc_user"]=64000 ["${svc_group:-$svc_user}"]=64000 [softhsm]=64001)
id_of() { echo "${ids[$1]:-64002}"; }
uid=$(id_of "$svc_user") gid=$(id_of "${svc_group:-$svc_user}")
groups=""
for g in $(unit_get SupplementaryGroups | tr ' ' '\n'); do groups+="${groups:+,}$(id_of "$g")"; done
as_root=0
[ "$(id -u)" = 0 ] && as_root=1

# ---- the host's files, as docs/deploy.md lays them out -----------------------
tokgid=$(id_of softhsm)
mkdir -p "$root/etc/lisec" "$root/etc/softhsm" "$root/var/lib/softhsm/tokens" "$root/var/lib"
chmod 755 "$root/etc" "$root/var" "$root/var/lib" "$root/var/lib/softhsm"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
  "$root/var/lib/softhsm/tokens" >"$root/etc/softhsm/softhsm2.conf"
SOFTHSM2_CONF=$root/etc/softhsm/softhsm2.conf softhsm2-util --init-token --free --label lisec \
  --pin 4321 --so-pin so-4321 >/dev/null
pki=$root/etc/lisec/tls
make_pki "$pki"
echo 4321 >"$root/etc/lisec/token.pin"
port=$(free_port)
cat >"$root/etc/lisec/lisecd.conf" <<CONF
[server]
listen = 127.0.0.1:$port
workers = 1
[tls]
cert = $pki/server.crt
key = $pki/server.key
client_ca = $pki/ca.crt
[store]
url = sqlite:$root/var/lib/lisec/lisec.db
[audit]
origin = lisec-test/systemd
pkcs11_module = $LISEC_P11_MODULE
token = lisec
pin_file = $root/etc/lisec/token.pin
key_label = lisec-checkpoint
[vault]
pkcs11_module = $LISEC_P11_MODULE
token = lisec
pin_file = $root/etc/lisec/token.pin
key_label = lisec-kek
CONF
state_dirs=""
for d in $(unit_get StateDirectory); do
  state_dirs+=" $root/var/lib/$d"
  mkdir -p "$root/var/lib/$d"
  chmod 700 "$root/var/lib/$d"
done
if [ $as_root = 1 ]; then
  chown -R "$uid:$gid" "$root/etc/lisec" $state_dirs
  chmod 700 "$root/etc/lisec"
  # Debian's softhsm2: root:softhsm, the directory setgid, closed to others
  chown -R "root:$tokgid" "$root/etc/softhsm" "$root/var/lib/softhsm"
  chmod 750 "$root/etc/softhsm" "$root/var/lib/softhsm"
  chmod 640 "$root/etc/softhsm/softhsm2.conf"
  chmod -R g+rwX,o-rwx "$root/var/lib/softhsm/tokens"
  chmod 2770 "$root/var/lib/softhsm/tokens"
fi

# ---- the confinement ----------------------------------------------------------
# confine UNIT_ENV GROUPS CMD...: CMD under the unit's confinement, with the
# environment UNIT_ENV (lines VAR=value) and the supplementary groups GROUPS.
rw_paths() {
  local p
  for p in $(unit_get ReadWritePaths) $(for d in $(unit_get StateDirectory); do echo "/var/lib/$d"; done); do
    p=${p#-}
    p=$(mapped "$p")
    [ -e "$p" ] && echo "$p"
  done
}
confine() {
  local envs=$1 grps=$2
  shift 2
  local -a envargs=() switch=()
  while IFS= read -r e; do [ -n "$e" ] && envargs+=("$e"); done <<<"$envs"
  if [ $as_root = 1 ]; then
    switch=(setpriv --reuid="$uid" --regid="$gid")
    if [ -n "$grps" ]; then switch+=(--groups="$grps"); else switch+=(--clear-groups); fi
    switch+=(--no-new-privs --inh-caps=-all --bounding-set=-all)
  else
    switch=(setpriv --no-new-privs)
  fi
  local -a ns=(unshare --mount --propagation private)
  [ $as_root = 1 ] || ns=(unshare --user --map-root-user --mount --propagation private)
  local umask_v
  umask_v=$(unit_get UMask | tail -1)
  "${ns[@]}" -- bash -c '
    set -e
    rw=$1 umask_v=$2; shift 2
    for p in $rw; do mount --bind "$p" "$p"; done
    # every other mount read-only (ProtectSystem=strict), the API file systems aside
    awk "{print \$5}" /proc/self/mountinfo | while read -r m; do
      m=$(printf "%b" "${m//\\/\\\\0}")
      case $m in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
      keep=0
      for p in $rw; do [ "$m" = "$p" ] && keep=1; done
      [ $keep = 1 ] || mount -o remount,bind,ro "$m" 2>/dev/null || true
    done
    umask "${umask_v:-0022}"
    exec "$@"' confine "$(rw_paths | tr '\n' ' ')" "$umask_v" "${switch[@]}" env -i PATH=/usr/bin:/bin "${envargs[@]}" "$@"
}
unit_env=$(unit_get Environment | while read -r e; do
  e=${e#\"}
  e=${e%\"}
  echo "${e%%=*}=$(mapped "${e#*=}")"
done)
# The unit's command lines, paths mapped.
cmdline() {
  local a out=()
  for a in $(unit_get "$1" | tail -1); do
    [ ${#out[@]} = 0 ] && a=${a#[-+!@:]} # the command's own prefixes
    out+=("$(mapped "$a")")
  done
  echo "${out[*]}"
}
pre=$(cmdline ExecStartPre)
start=$(cmdline ExecStart)
[ -n "$start" ] || fail "the unit has no ExecStart="

# The confinement holds: nothing but the read-write paths is writable.
if confine "$unit_env" "$groups" touch "$root/etc/lisec/probe" 2>/dev/null; then fail "the rebuilt confinement left /etc/lisec writable"; fi
if confine "$unit_env" "$groups" touch "$work/probe" 2>/dev/null; then fail "the rebuilt confinement left the root writable"; fi
for d in $(rw_paths); do
  confine "$unit_env" "$groups" touch "$d/probe" || fail "the unit's read-write path $d is not writable by its user"
  rm -f "$d/probe"
done
pass "the unit's confinement rebuilt: read-only but for $(rw_paths | sed "s|$root||" | tr '\n' ' ')(user $svc_user, groups ${groups:-none})"

# ---- ExecStartPre and ExecStart ------------------------------------------------
if [ -n "$pre" ]; then
  # shellcheck disable=SC2086
  confine "$unit_env" "$groups" $pre >"$work/pre.out" 2>&1 || { cat "$work/pre.out" >&2; fail "ExecStartPre failed under the unit's confinement"; }
  pass "ExecStartPre ($(basename "${pre%% *}") ${pre#* }) passes under the confinement"
fi
# shellcheck disable=SC2086
confine "$unit_env" "$groups" $start 2>"$work/lisecd.log" &
svc_pid=$!
# svc_pid is the subshell running confine; lisecd is its child (unshare
# execs it): signal that child first, then wait for the subshell.
stop_svc() { pkill -TERM -P "$svc_pid" 2>/dev/null || true; wait "$svc_pid" 2>/dev/null || true; }
cleanup_hooks+=("stop_svc")
up=0
for _ in $(seq 300); do
  if curl -s -o /dev/null --cacert "$pki/ca.crt" --cert "$pki/operator.crt" --key "$pki/operator.key" \
    "https://localhost:$port/healthz"; then up=1; break; fi
  kill -0 "$svc_pid" 2>/dev/null || break
  sleep 0.2
done
[ $up = 1 ] || { cat "$work/lisecd.log" >&2; fail "lisecd did not start under the unit's confinement"; }
objs=$(SOFTHSM2_CONF=$root/etc/softhsm/softhsm2.conf pkcs11-tool --module "$LISEC_P11_MODULE" \
  --token-label lisec --login --pin 4321 --list-objects 2>/dev/null)
echo "$objs" | grep -q 'lisec-kek' || fail "the KEK is not in the token: $objs"
echo "$objs" | grep -q 'lisec-checkpoint' || fail "the checkpoint key is not in the token: $objs"
[ -s "$root/var/lib/lisec/lisec.db" ] || fail "no store in the state directory"
stop_svc
pass "ExecStart under the confinement: lisecd answers, its KEK and checkpoint key are in the token"

# ---- the old unit's mistakes, one at a time: each refused in words ------------
no_conf=$(echo "$unit_env" | grep -v '^SOFTHSM2_CONF=' || true)
if confine "$no_conf" "$groups" $start --check-config >"$work/bad1.out" 2>&1; then fail "lisecd started without SOFTHSM2_CONF"; fi
grep -q 'CKR_[A-Z_]*\|not found' "$work/bad1.out" && grep -q 'SOFTHSM2_CONF' "$work/bad1.out" ||
  fail "without SOFTHSM2_CONF the refusal does not say what to check: $(cat "$work/bad1.out")"
pass "without the unit's SOFTHSM2_CONF: refused, $(grep -o 'CKR_[A-Z_]*\|token "lisec" not found' "$work/bad1.out" | head -1), naming SOFTHSM2_CONF"
if [ $as_root = 1 ]; then
  if confine "$unit_env" "" $start --check-config >"$work/bad2.out" 2>&1; then fail "lisecd opened the token without the token's group"; fi
  grep -q 'CKR_GENERAL_ERROR' "$work/bad2.out" && grep -q 'group' "$work/bad2.out" ||
    fail "without the token's group the refusal does not say what to check: $(cat "$work/bad2.out")"
  pass "without the token's group: refused with CKR_GENERAL_ERROR, naming the group"
fi
