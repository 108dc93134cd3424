#!/usr/bin/env bash
# lisec-agent runs as root and trusts three files: its configuration (-c),
# the ipmitool it runs ([bmc] ipmitool) and the BMC password file it hands to
# it ([bmc] password_file). Each, and every directory and link on its way,
# must be only root's to change (TR103308-5.5; cmd/lisec-agent/trust.c),
# else the agent refuses to start, naming the file, its owner and mode and
# the fix. Checked against a software TPM and an ipmitool stand-in (a BMC
# that does not answer): a group-writable configuration, an ipmitool owned
# by another user (nobody), one found on PATH in a world-writable
# directory, one reached by another user's link, a world-readable password
# file and a configuration in a world-writable directory without the
# sticky bit are refused, for `chassis`, `host-id` and `run` alike; root's
# files (0600, directories 0755, a sticky directory) start, and the
# ipmitool found on PATH is the one the agent runs.
build=${1:?build dir}
src=${2:?source dir}
source "$src/tests/integration/lib/common.sh"
source "$src/tests/integration/attest_lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (files owned by root and by nobody)"; exit 77; }
cd "$work"
agent_bin="$build/cmd/lisec-agent/lisec-agent"
tpm_up A
tpm_use A
umask 022
chmod 0755 "$work"
mkdir -m 0755 bin
(umask 077 && echo 'S3cret-BMC-pw' >pw)
cat >bin/ipmitool <<SH
#!/bin/sh
# A BMC that does not answer; it says which program ran.
echo "\$0" >>"$work/ran"
exit 1
SH
chmod 0755 bin/ipmitool
conf() { # conf FILE IPMITOOL [PASSWORD_FILE]
  (umask 077 && cat >"$1" <<CONF
[tpm]
tcti = $TPM2TOOLS_TCTI
[agent]
state_dir = $work/state
[bmc]
interface = lan
host = 192.0.2.7
user = lisec
password_file = ${3:-$work/pw}
timeout_s = 1
ipmitool = $2
CONF
  )
}
refused() { # refused RE CONF: chassis, host-id and run all exit 2 naming RE
  local cmd
  for cmd in chassis host-id run; do
    [ "$cmd" = host-id ] && ! grep -q configuration <<<"$1" && continue # host-id reads no [bmc]
    expect 2 "$1" "$agent_bin" -c "$2" "$cmd"
    grep -q 'refused (TR103308-5\.5)' "$work/out.txt" || fail "$cmd: the refusal names no requirement"
  done
}
conf agent.conf "$work/bin/ipmitool"

# Root's files: the agent starts and runs the program it checked.
out=$("$agent_bin" -c agent.conf chassis 2>agent.err) || { cat agent.err >&2; fail "good files refused"; }
jq -e '.version == 3 and .bmc == null' <<<"$out" >/dev/null || fail "no chassis report: $out"
grep -qx "$work/bin/ipmitool" ran || fail "the stand-in did not run"
conf path.conf ipmitool
: >ran
PATH="$work/bin:$PATH" "$agent_bin" -c path.conf chassis >/dev/null 2>agent.err ||
  { cat agent.err >&2; fail "ipmitool on PATH refused"; }
grep -qx "$work/bin/ipmitool" ran || fail "the ipmitool found on PATH and checked is not the one run: $(cat ran)"
pass "root's configuration (0600), ipmitool (0755, by path or on PATH) and password file (0600) in root's directories: started"

# The configuration: group-writable, then another user's.
chmod 0620 agent.conf
refused "configuration agent\.conf: .*$work/agent\.conf is owned by uid 0, mode 0620: writable by group or others.*fix: chmod go-w $work/agent\.conf" agent.conf
chmod 0600 agent.conf
chown nobody agent.conf
refused "configuration agent\.conf: .*is owned by uid $(id -u nobody), mode 0600: not owned by root.*fix: chown root $work/agent\.conf" agent.conf
chown root agent.conf
pass "a group-writable configuration, and one owned by nobody: refused naming the file, its owner and mode, and the fix"

# ipmitool: another user's; found on PATH in a world-writable directory;
# reached through another user's link in a sticky directory.
chown nobody bin/ipmitool
refused "\[bmc\] ipmitool $work/bin/ipmitool: .*owned by uid $(id -u nobody), mode 0755: not owned by root" agent.conf
chown root bin/ipmitool
mkdir -m 0777 ww
cp -p bin/ipmitool ww/ipmitool
PATH="$work/ww:$PATH" refused "\[bmc\] ipmitool $work/ww/ipmitool: .*$work/ww is owned by uid 0, mode 0777: a directory writable by group or others without the sticky bit.*fix: chmod go-w $work/ww" path.conf
mkdir -m 1777 sticky
ln -s "$work/bin/ipmitool" sticky/ipmitool
chown -h nobody sticky/ipmitool
conf link.conf "$work/sticky/ipmitool"
refused "\[bmc\] ipmitool .*$work/sticky/ipmitool is owned by uid $(id -u nobody).*a symbolic link not owned by root" link.conf
chown -h root sticky/ipmitool
"$agent_bin" -c link.conf chassis >/dev/null 2>agent.err || { cat agent.err >&2; fail "root's link in a sticky directory refused"; }
pass "an ipmitool owned by nobody, one found on PATH in a world-writable directory, one through nobody's link: refused; root's link in a sticky directory: started"

# The password file: world-readable, group-writable.
chmod 0604 pw
refused "\[bmc\] password_file $work/pw: .*mode 0604: a secret readable by group or others.*fix: chmod go-rwx $work/pw" agent.conf
chmod 0620 pw
refused "\[bmc\] password_file $work/pw: .*mode 0620: writable by group or others" agent.conf
chmod 0600 pw
pass "a world-readable and a group-writable password file: refused"

# A directory above the configuration writable by others without the sticky
# bit; with it (as /tmp), root's file there cannot be replaced by another.
mkdir -m 0777 open
conf open/agent.conf "$work/bin/ipmitool"
refused "configuration open/agent\.conf: .*$work/open is owned by uid 0, mode 0777: a directory writable by group or others without the sticky bit" open/agent.conf
chmod 1777 open
"$agent_bin" -c open/agent.conf chassis >/dev/null 2>agent.err || { cat agent.err >&2; fail "sticky directory refused"; }
chmod 0755 open
pass "a configuration in a world-writable directory without the sticky bit: refused; with it: started"
