/* Every `lisec` subcommand: a function taking the arguments after its name,
 * returning an exit code (CLI_OK, CLI_REFUSED, CLI_ERROR). */
#ifndef LISEC_COMMANDS_H
#define LISEC_COMMANDS_H

int cli_cmd_pki(int argc, char **argv);
int cli_cmd_status(int argc, char **argv);

#endif
