/* Typed roles: the controller decides on a ctl_role, never on a role
 * string, so a misspelt comparison cannot admit or refuse anyone. The API
 * sets the type from its principal (api/roles.c); an actor built without
 * one (lisecd's own timers, tests) has its role string read once here. */
#include <string.h>

#include "ctl/ctl.h"

static const struct {
  const char *name;
  ctl_role role;
} ROLE_NAMES[] = {
    {"operator", CTL_ROLE_OPERATOR}, {"li-admin", CTL_ROLE_LI_ADMIN},
    {"hypervisor-admin", CTL_ROLE_HV_ADMIN}, {"host", CTL_ROLE_HOST},
    {"mano", CTL_ROLE_MANO}, {"auditor", CTL_ROLE_AUDITOR},
    {"controller", CTL_ROLE_CONTROLLER}, {"vm", CTL_ROLE_VM}, {"rd-admin", CTL_ROLE_RD_ADMIN},
};

#define TENANT_PREFIX "tenant:"

ctl_role ctl_role_parse(const char *role) {
  if (!role) return CTL_ROLE_NONE;
  for (size_t i = 0; i < LISEC_ARRAY_LEN(ROLE_NAMES); i++)
    if (strcmp(role, ROLE_NAMES[i].name) == 0) return ROLE_NAMES[i].role;
  if (strncmp(role, TENANT_PREFIX, strlen(TENANT_PREFIX)) == 0 && role[strlen(TENANT_PREFIX)])
    return CTL_ROLE_TENANT;
  return CTL_ROLE_NONE;
}

ctl_role ctl_actor_role(const ctl_actor *actor) {
  if (!actor) return CTL_ROLE_NONE;
  return actor->kind != CTL_ROLE_UNSET ? actor->kind : ctl_role_parse(actor->role);
}
