/* Drives lisec-agent's restart path (cmd/lisec-agent/restart.c) with a
 * "restart" list as a challenge reply carries it, against a libvirt URI
 * (the test driver over a node XML in tests): agent_restart_driver URI
 * VM... prints how many domains the agent started or resumed; the agent's
 * own lines go to stderr. It lets agent_input.sh give the agent a list
 * that a compromised or mistaken lisecd could send, without a lisecd. */
#include <jansson.h>
#include <stdio.h>

#include "restart.h"

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: agent_restart_driver URI [VM...]\n");
    return 2;
  }
  json_t *vms = json_array();
  for (int i = 2; i < argc; i++) json_array_append_new(vms, json_string(argv[i]));
  printf("%d\n", agent_restart_vms(argv[1], vms));
  json_decref(vms);
  return 0;
}
