/* `lisec li ...`: the LI administration's side of pairing and of the
 * activation lock, offline. pair-sign makes the statement that pairs an LI
 * VM's public key with that VM; sign-disable makes the single-use command
 * that alone may switch a paired VM's LI function off; sign-retire the one
 * that ends an LI VM (its key destroyed); verify-pair, verify-disable and
 * verify-retire check such files the way the controller does. The LI
 * administration's key is the global --key; formats are in docs/li.md.
 * instantiate, enable, pair, disable, disable-command, retire, confirm, show and list ask
 * lisecd (global --server and the client certificate of the role). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "crypto/crypto.h"
#include "li/li.h"

const char cli_help_li[] =
    "LI pairing statements, signed disable and retire commands; LI VMs on lisecd";

int cli_cmd_li(int argc, char **argv);
int cli_li_libvirt_acl(int argc, char **argv); /* li_acl.c */

static const char li_usage_text[] =
    "usage: lisec li pair-sign --key LI-ADMIN.key --vm VM --pubkey VM-PUB.pem [--last N]\n"
    "                          [--expires TIME] [-o FILE]\n"
    "         the LI administration pairs VM's key (signs its SHA-256); N is the VM's last\n"
    "         disable counter (lisec li show; default 0), TIME at most 7 days ahead (+86400)\n"
    "       lisec li sign-disable --key LI-ADMIN.key --vm VM --counter N --expires TIME [-o FILE]\n"
    "         a command switching VM's LI function off; N above every earlier command's;\n"
    "         TIME: RFC 3339, epoch seconds or +SECONDS (at most 7 days ahead)\n"
    "       lisec li sign-retire --key LI-ADMIN.key --vm VM --counter N --expires TIME [-o FILE]\n"
    "         a command retiring LI VM VM (pairing ended, key destroyed); the same counter\n"
    "         as disable commands: N above every earlier command's\n"
    "       lisec li verify-pair FILE --pubkey LI-ADMIN-PUB.pem --vm VM --vm-key VM-PUB.pem\n"
    "                            [--last N] [--at TIME]\n"
    "       lisec li verify-disable FILE --pubkey LI-ADMIN-PUB.pem --vm VM [--last N] [--at TIME]\n"
    "       lisec li verify-retire FILE --pubkey LI-ADMIN-PUB.pem --vm VM [--last N] [--at TIME]\n"
    "       lisec li instantiate VM --pubkey VM-PUB.pem     (lisecd, mano / hypervisor-admin:\n"
    "         register an LI VM with the key it made, e.g. by lisec-event keygen)\n"
    "       lisec li enable VM | disable VM                 (lisecd, hypervisor-admin)\n"
    "       lisec li pair VM STATEMENT-FILE                 (lisecd, li-admin)\n"
    "       lisec li disable-command VM COMMAND-FILE        (lisecd, li-admin)\n"
    "       lisec li retire VM COMMAND-FILE                 (lisecd, li-admin)\n"
    "       lisec li confirm VM                             (lisecd, li-admin: after a restore,\n"
    "         the VM's LI state as restored is right; its hold ends, docs/li.md)\n"
    "       lisec li show VM | list                         (lisecd)\n"
    "       lisec li libvirt-acl [--out FILE|-] [--allow-user NAME]   (lisecd, li-admin or,\n"
    "         on a host, hypervisor-admin: polkit rules locking the paired LI VMs in libvirt;\n"
    "         see docs/li.md)\n"
    "Exit 0: signed, verified or done; 1: refused (reason printed); 2: usage or I/O error.";

static int usage(void) { return cli_fail("%s", li_usage_text); }

static int parse_u64(const char *s, uint64_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || !end || *end || s[0] == '-' || !*s) return -1;
  *out = v;
  return 0;
}

static int parse_time(const char *s, int64_t now, int64_t *out) {
  uint64_t v;
  if (s[0] == '+' && parse_u64(s + 1, &v) == 0 && v <= INT32_MAX) {
    *out = now + (int64_t)v;
    return 0;
  }
  if (parse_u64(s, &v) == 0 && v > 0 && v < (uint64_t)INT64_MAX) {
    *out = (int64_t)v;
    return 0;
  }
  return lisec_time_parse(s, out);
}

static int write_out(const char *path, const char *data) {
  lisec_err err = {0};
  if (!path) {
    fputs(data, stdout);
    return CLI_OK;
  }
  if (lisec_file_write_atomic(path, data, strlen(data), 0644, &err))
    return cli_fail("li: %s", err.msg);
  if (!cli.json) fprintf(stderr, "%s written\n", path);
  return CLI_OK;
}

static int refused(const lisec_err *err) {
  if (cli.json) {
    json_t *o = json_pack("{s:s, s:s, s:s}", "verdict", "refused", "code",
                          lisec_err_name(err->code), "reason", err->msg);
    cli_print_json(o);
    json_decref(o);
  } else {
    fprintf(stderr, "lisec: li: refused: %s\n", err->msg);
  }
  return err->code == LISEC_ENOMEM || err->code == LISEC_EIO ? CLI_ERROR : CLI_REFUSED;
}

typedef struct li_opts {
  const char *file, *vm, *pubkey, *vm_key, *out, *counter, *expires, *last, *at;
} li_opts;

static int parse_opts(int argc, char **argv, li_opts *o) {
  static const struct {
    const char *name;
    size_t offset;
  } valued[] = {
      {"--vm", offsetof(li_opts, vm)},           {"--pubkey", offsetof(li_opts, pubkey)},
      {"--vm-key", offsetof(li_opts, vm_key)},   {"-o", offsetof(li_opts, out)},
      {"--counter", offsetof(li_opts, counter)}, {"--expires", offsetof(li_opts, expires)},
      {"--last", offsetof(li_opts, last)},       {"--at", offsetof(li_opts, at)},
  };
  for (int i = 2; i < argc; i++) {
    bool taken = false;
    for (size_t k = 0; k < LISEC_ARRAY_LEN(valued) && !taken; k++)
      if (strcmp(argv[i], valued[k].name) == 0) {
        if (i + 1 >= argc) return -1;
        *(const char **)((char *)o + valued[k].offset) = argv[++i];
        taken = true;
      }
    if (taken) continue;
    if (argv[i][0] == '-' || o->file) return -1;
    o->file = argv[i];
  }
  return 0;
}

static int load_key(const char *path, bool private_key, EVP_PKEY **out, lisec_err *err) {
  if (!path) return lisec_err_set(err, LISEC_EINVAL, "a key file is missing (see lisec li --help)");
  return crypto_pkey_load_pem(path, private_key, out, err);
}

/* ---- against lisecd ----------------------------------------------------- */

static void print_vm(const json_t *v) {
  printf("%s: %s, key %s (%s), last counter %lld\n", cli_str(v, "vm"), cli_str(v, "state"),
         cli_str(v, "key_sha256"), cli_str(v, "key_source"),
         (long long)json_integer_value(json_object_get(v, "last_counter")));
}

static void print_vms(const json_t *v) {
  size_t i;
  const json_t *vm;
  json_array_foreach(json_object_get(v, "vms"), i, vm) {
    print_vm(vm);
  }
}

/* A signed message file as the JSON object lisecd takes. */
static int message_body(const char *key, const char *file, json_t **out) {
  lisec_err err = {0};
  uint8_t *data = NULL;
  size_t len = 0;
  if (lisec_file_read(file, LI_MSG_MAX, &data, &len, &err)) return cli_fail("li: %s", err.msg);
  json_t *m = NULL;
  int rc = lisec_json_parse((const char *)data, len, &m, &err);
  free(data);
  if (rc) return cli_fail("li: %s: %s", file, err.msg);
  *out = json_pack("{s:o}", key, m);
  return *out ? CLI_OK : cli_fail("out of memory");
}

static int li_online(int argc, char **argv) {
  const char *sub = argv[1], *vm = argc > 2 ? argv[2] : NULL, *method = "POST", *action = NULL;
  json_t *body = NULL;
  void (*human)(const json_t *) = print_vm;
  char path[CLI_ID_PATH_MAX + 64], eid[CLI_ID_PATH_MAX];
  int rc = CLI_OK;
  if (strcmp(sub, "list") == 0) {
    if (argc != 2) return usage();
    snprintf(path, sizeof path, "/v1/li/vms");
    method = "GET";
    human = print_vms;
  } else {
    if (!vm || vm[0] == '-') return usage();
    if (cli_path_id(vm, eid, sizeof eid)) return CLI_ERROR;
    snprintf(path, sizeof path, "/v1/li/vms/%s", eid);
    if (strcmp(sub, "instantiate") == 0) {
      const char *pub = NULL;
      if (argc == 5 && strcmp(argv[3], "--pubkey") == 0) pub = argv[4];
      else return usage(); /* the VM makes its key; lisecd makes none */
      body = json_pack("{s:s}", "vm", vm);
      if (pub) {
        lisec_err err = {0};
        uint8_t *pem = NULL;
        size_t len = 0;
        if (lisec_file_read(pub, 4096, &pem, &len, &err)) {
          json_decref(body);
          return cli_fail("li: %s", err.msg);
        }
        json_object_set_new(body, "pubkey", json_string((const char *)pem));
        free(pem);
      }
      snprintf(path, sizeof path, "/v1/li/vms");
    } else if (strcmp(sub, "show") == 0) {
      if (argc != 3) return usage();
      method = "GET";
    } else if (strcmp(sub, "enable") == 0 || strcmp(sub, "disable") == 0 || strcmp(sub, "confirm") == 0) {
      if (argc != 3) return usage();
      action = sub;
    } else if (strcmp(sub, "pair") == 0 || strcmp(sub, "disable-command") == 0 ||
               strcmp(sub, "retire") == 0) {
      if (argc != 4) return usage();
      action = sub;
      rc = message_body(strcmp(sub, "pair") == 0 ? "statement" : "command", argv[3], &body);
      if (rc) return rc;
    } else {
      return usage();
    }
    if (action) {
      size_t at = strlen(path);
      snprintf(path + at, sizeof path - at, "/%s", action);
    }
  }
  lisec_err err = {0};
  long status = 0;
  json_t *reply = NULL;
  rc = cli_http_request(method, path, body, &status, &reply, &err);
  json_decref(body);
  if (rc) return cli_fail("li: %s", err.msg);
  rc = status >= 200 && status < 300 ? CLI_OK : cli_http_error(status, reply);
  if (rc == CLI_OK) cli_print(reply, human);
  json_decref(reply);
  return rc;
}

int cli_cmd_li(int argc, char **argv) {
  if (argc < 2) return usage();
  if (strcmp(argv[1], "libvirt-acl") == 0) return cli_li_libvirt_acl(argc - 1, argv + 1);
  static const char *const online[] = {"instantiate", "enable",  "pair", "disable", "disable-command",
                                       "retire",      "confirm", "show", "list"};
  for (size_t i = 0; i < LISEC_ARRAY_LEN(online); i++)
    if (strcmp(argv[1], online[i]) == 0) {
      for (int k = 2; k < argc; k++)
        if (strcmp(argv[k], "--help") == 0) {
          puts(li_usage_text);
          return CLI_OK;
        }
      return li_online(argc, argv);
    }
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      puts(li_usage_text);
      return CLI_OK;
    }
  li_opts o = {0};
  if (parse_opts(argc, argv, &o)) return usage();
  const char *sub = argv[1];
  lisec_err err = {0};
  EVP_PKEY *key = NULL, *vm_key = NULL;
  char *msg = NULL;
  uint8_t *data = NULL;
  size_t len = 0;
  int64_t now = lisec_time_now();
  int rc = CLI_OK;
  if (strcmp(sub, "pair-sign") == 0) {
    if (o.file || !o.vm || !o.pubkey) return usage();
    uint64_t last = 0;
    int64_t expires = now + 86400;
    if (o.last && (parse_u64(o.last, &last) || last > LI_COUNTER_MAX))
      return cli_fail("li pair-sign: --last is 0..2^53");
    if (o.expires && parse_time(o.expires, now, &expires))
      return cli_fail("li pair-sign: --expires takes RFC 3339, epoch seconds or +SECONDS");
    if (expires <= now || expires - now > LI_CMD_LIFETIME_MAX)
      return cli_fail("li pair-sign: --expires must be in the next %d s", LI_CMD_LIFETIME_MAX);
    if (load_key(cli.key, true, &key, &err) || load_key(o.pubkey, false, &vm_key, &err) ||
        li_pair_sign(o.vm, vm_key, last, expires, key, &msg, &err))
      rc = cli_fail("li pair-sign: %s", err.msg);
    else
      rc = write_out(o.out, msg);
  } else if (strcmp(sub, "sign-disable") == 0 || strcmp(sub, "sign-retire") == 0) {
    bool retire = strcmp(sub, "sign-retire") == 0;
    li_command c = {0};
    if (o.file || !o.vm || !o.counter || !o.expires) return usage();
    if (strlen(o.vm) > LI_VM_ID_MAX) return cli_fail("li %s: --vm is too long", sub);
    memcpy(c.vm, o.vm, strlen(o.vm) + 1);
    if (parse_u64(o.counter, &c.counter) || c.counter == 0 || c.counter > LI_COUNTER_MAX)
      return cli_fail("li %s: --counter is 1..2^53", sub);
    if (parse_time(o.expires, now, &c.expires))
      return cli_fail("li %s: --expires takes RFC 3339, epoch seconds or +SECONDS", sub);
    if (c.expires <= now || c.expires - now > LI_CMD_LIFETIME_MAX)
      return cli_fail("li %s: --expires must be in the next %d s", sub, LI_CMD_LIFETIME_MAX);
    if (load_key(cli.key, true, &key, &err) ||
        (retire ? li_retire_sign(&c, key, &msg, &err) : li_command_sign(&c, key, &msg, &err)))
      rc = cli_fail("li %s: %s", sub, err.msg);
    else
      rc = write_out(o.out, msg);
  } else if (strcmp(sub, "verify-pair") == 0 || strcmp(sub, "verify-disable") == 0 ||
             strcmp(sub, "verify-retire") == 0) {
    bool retire = strcmp(sub, "verify-retire") == 0;
    bool pair = strcmp(sub, "verify-pair") == 0;
    if (!o.file || !o.vm || !o.pubkey || (pair && !o.vm_key)) return usage();
    uint64_t last = 0;
    if (o.last && parse_u64(o.last, &last)) return cli_fail("--last is a counter");
    if (o.at && parse_time(o.at, now, &now)) return cli_fail("--at takes a time");
    if (lisec_file_read(o.file, LI_MSG_MAX, &data, &len, &err) ||
        load_key(o.pubkey, false, &key, &err) ||
        (pair && load_key(o.vm_key, false, &vm_key, &err))) {
      rc = cli_fail("li %s: %s", sub, err.msg);
    } else {
      li_command c;
      int v = pair ? li_pair_verify(data, len, key, o.vm, vm_key, last, now, &err)
           : retire ? li_retire_verify(data, len, key, o.vm, last, now, &c, &err)
                    : li_command_verify(data, len, key, o.vm, last, now, &c, &err);
      if (v) {
        rc = refused(&err);
      } else if (cli.json) {
        json_t *j = pair ? json_pack("{s:s, s:s}", "verdict", "accepted", "vm", o.vm)
                         : json_pack("{s:s, s:s, s:I, s:I}", "verdict", "accepted", "vm", c.vm,
                                     "counter", (json_int_t)c.counter, "expires",
                                     (json_int_t)c.expires);
        cli_print_json(j);
        json_decref(j);
      } else if (pair) {
        printf("accepted: VM %s paired by the LI administration\n", o.vm);
      } else {
        printf("accepted: %s VM %s, counter %llu (store it as the last counter)\n",
               retire ? "retire" : "disable", c.vm, (unsigned long long)c.counter);
      }
    }
  } else {
    rc = usage();
  }
  free(msg);
  free(data);
  EVP_PKEY_free(key);
  EVP_PKEY_free(vm_key);
  return rc;
}
