/* The agent's side of the LI lock (restart.c, issue 15 item 3). */
#ifndef LISEC_AGENT_RESTART_H
#define LISEC_AGENT_RESTART_H

#include <jansson.h>

/* Starts (virDomainCreate) or resumes (virDomainResume) each domain whose
 * lisec VM id is in vms (a JSON array of strings, from lisecd's challenge
 * reply "restart"), through a read-write connection to uri opened for the
 * call. Returns how many it started or resumed; each outcome is printed. */
int agent_restart_vms(const char *uri, const json_t *vms);

#endif
