/* `lisec li libvirt-acl`: the LI lock on the host (TR 103 308 §4.1: once
 * paired, only the LI administration switches an LI VM off). It asks lisecd
 * for the LI VMs (as li-admin, or as hypervisor-admin, the role a host's
 * timer uses; lisecd refuses every other role and says nothing about
 * them), keeps the paired ones, and writes a polkit JavaScript rules file
 * for libvirt's polkit access driver (access_drivers = ["polkit"] in libvirtd.conf or
 * virtqemud.conf) that denies stopping (also by a request to the guest),
 * resetting, suspending, saving, undefining, redefining, migrating,
 * snapshotting and reading (memory, disks, screen, consoles) those domains
 * to every identity but lisec's LI service account. The domain is matched by its libvirt name, which is the
 * VM's lisec id, or by the libvirt UUID when lisecd knows it. The file
 * reflects lisecd's pairings when it is written: a VM the LI
 * administration switched off by its signed command is no longer paired
 * and drops out at the next run (a systemd path/timer unit runs it; see
 * docs/li.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define ACL_DEFAULT_OUT "/etc/polkit-1/rules.d/60-lisec-li.rules"
#define ACL_DEFAULT_USER "lisec-li"
#define ACL_USER_MAX 32

/* The libvirt ACL permissions that would switch a domain off, interrupt
 * it, take it away from its host or read it (libvirt.org/acl.html, domain
 * object): stop covers destroy and shutdown, init-control the shutdown and
 * reboot requests to the guest (ACPI, agent), reset a hard reset, suspend
 * pause, hibernate save and managed save, delete undefine, write a changed
 * definition, migrate migration out; snapshot creates, reverts (back to a
 * shut-off or earlier state) and deletes snapshots, pm-control suspends
 * the guest to RAM or disk, inject-nmi can panic it, send-input types
 * Ctrl-Alt-Del or SysRq into it, fs-freeze stalls its file systems,
 * block-write changes its disks under it; core-dump, mem-read, block-read
 * and checkpoint (a backup) read its memory or disks, screenshot,
 * open-graphics and open-device its screen and consoles (and type into
 * them), read-secure the display's password. Left to other rules: start,
 * read and getattr (its state and definition). */
static const char *const locked_actions[] = {
    "org.libvirt.api.domain.stop",        "org.libvirt.api.domain.init-control",
    "org.libvirt.api.domain.reset",       "org.libvirt.api.domain.suspend",
    "org.libvirt.api.domain.hibernate",   "org.libvirt.api.domain.delete",
    "org.libvirt.api.domain.write",       "org.libvirt.api.domain.migrate",
    "org.libvirt.api.domain.snapshot",    "org.libvirt.api.domain.pm-control",
    "org.libvirt.api.domain.inject-nmi",  "org.libvirt.api.domain.send-input",
    "org.libvirt.api.domain.fs-freeze",   "org.libvirt.api.domain.block-write",
    "org.libvirt.api.domain.core-dump",   "org.libvirt.api.domain.mem-read",
    "org.libvirt.api.domain.block-read",  "org.libvirt.api.domain.checkpoint",
    "org.libvirt.api.domain.screenshot",  "org.libvirt.api.domain.open-graphics",
    "org.libvirt.api.domain.open-device", "org.libvirt.api.domain.read-secure",
};

static const char acl_usage[] =
    "usage: lisec li libvirt-acl [--out FILE|-] [--allow-user NAME]\n"
    "  writes polkit rules (default " ACL_DEFAULT_OUT ") denying libvirt's domain stop,\n"
    "  init-control, reset, suspend, hibernate, delete, write, migrate, snapshot, pm-control,\n"
    "  inject-nmi, send-input, fs-freeze, block-write and the reading permissions (core-dump,\n"
    "  mem-read, block-read, checkpoint, screenshot, open-graphics, open-device, read-secure)\n"
    "  on every paired LI VM to everyone\n"
    "  but NAME (default " ACL_DEFAULT_USER "); role li-admin or (on a host) hypervisor-admin.\n"
    "  Run it after every pairing change.";

/* A Unix user name as polkit compares it (useradd's portable rule). */
static bool user_name_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > ACL_USER_MAX || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_')) return false;
  for (size_t i = 1; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
          s[i] == '-'))
      return false;
  return true;
}

/* The rules file: the lists are JSON, which is JavaScript. */
static char *rules_text(const json_t *names, const json_t *uuids, const char *user) {
  json_t *acts = json_array(), *who = json_string(user);
  for (size_t i = 0; acts && i < LISEC_ARRAY_LEN(locked_actions); i++)
    json_array_append_new(acts, json_string(locked_actions[i]));
  char *a = acts ? json_dumps(acts, JSON_COMPACT) : NULL, *n = json_dumps(names, JSON_COMPACT),
       *u = json_dumps(uuids, JSON_COMPACT), *w = who ? json_dumps(who, JSON_ENCODE_ANY) : NULL,
       *out = NULL, now[32];
  lisec_time_format(lisec_time_now(), now);
  if (a && n && u && w &&
      asprintf(&out,
               "// The LI lock (TR 103 308 section 4.1), written by `lisec li libvirt-acl` at %s\n"
               "// from lisecd %s: a paired LI VM is switched off only by the LI\n"
               "// administration's signed command, so nobody but %s may stop, shut down,\n"
               "// reboot, reset, suspend, save, undefine, redefine, migrate, snapshot or\n"
               "// read it (memory, disks, screen, consoles) through libvirt (polkitd\n"
               "// itself always authorises root). Needs\n"
               "// access_drivers = [\"polkit\"] in libvirtd.conf (or virtqemud.conf).\n"
               "// Do not edit: it is rewritten from lisecd's pairings.\n"
               "polkit.addRule(function (action, subject) {\n"
               "  var actions = %s;\n"
               "  var names = %s;\n"
               "  var uuids = %s;\n"
               "  if (actions.indexOf(action.id) < 0 || subject.user == %s)\n"
               "    return polkit.Result.NOT_HANDLED;\n"
               "  var name = action.lookup(\"domain_name\"), uuid = action.lookup(\"domain_uuid\");\n"
               "  if ((name && names.indexOf(name) >= 0) || (uuid && uuids.indexOf(uuid.toLowerCase()) >= 0))\n"
               "    return polkit.Result.NO;\n"
               "  return polkit.Result.NOT_HANDLED;\n"
               "});\n",
               now, cli.server, user, a, n, u, w) < 0)
    out = NULL;
  free(a), free(n), free(u), free(w);
  json_decref(acts);
  json_decref(who);
  return out;
}

int cli_li_libvirt_acl(int argc, char **argv) {
  const char *out = ACL_DEFAULT_OUT, *user = ACL_DEFAULT_USER;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      puts(acl_usage);
      return CLI_OK;
    }
    if (i + 1 < argc && strcmp(argv[i], "--out") == 0) out = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--allow-user") == 0) user = argv[++i];
    else return cli_fail("%s", acl_usage);
  }
  if (!user_name_ok(user))
    return cli_fail("li libvirt-acl: --allow-user: a Unix user name (a-z, 0-9, _ and -, at most %d)",
                    ACL_USER_MAX);
  lisec_err err = {0};
  long status = 0;
  json_t *reply = NULL;
  if (cli_http_request("GET", "/v1/li/vms", NULL, &status, &reply, &err))
    return cli_fail("li libvirt-acl: %s", err.msg);
  if (status != 200) {
    int rc = cli_http_error(status, reply);
    json_decref(reply);
    return rc;
  }
  json_t *names = json_array(), *uuids = json_array(), *vm;
  size_t i;
  int rc = CLI_OK;
  json_array_foreach(json_object_get(reply, "vms"), i, vm) {
    const char *id = json_string_value(json_object_get(vm, "vm"));
    const char *state = json_string_value(json_object_get(vm, "state"));
    const char *uuid = json_string_value(json_object_get(vm, "domain_uuid"));
    if (!id || !state || strcmp(state, "paired") != 0) continue;
    json_array_append_new(names, json_string(id));
    if (uuid) json_array_append_new(uuids, json_string(uuid));
  }
  char *text = rules_text(names, uuids, user);
  if (!text) {
    rc = cli_fail("li libvirt-acl: out of memory");
  } else if (strcmp(out, "-") == 0) {
    fputs(text, stdout);
  } else if (lisec_file_write_atomic(out, text, strlen(text), 0644, &err)) {
    rc = cli_fail("li libvirt-acl: %s", err.msg);
  } else if (cli.json) {
    json_t *j = json_pack("{s:s, s:s, s:O}", "out", out, "allow_user", user, "locked", names);
    cli_print_json(j);
    json_decref(j);
  } else {
    printf("%s: %zu paired LI VM(s) locked against everyone but %s\n", out, json_array_size(names),
           user);
  }
  free(text);
  json_decref(names);
  json_decref(uuids);
  json_decref(reply);
  return rc;
}
