/* A `lisec` subcommand: cmd_<name>.c defines cli_cmd_<name>, which takes the
 * arguments after its name and returns CLI_OK, CLI_REFUSED or CLI_ERROR, and
 * cli_help_<name>, its one-line summary. The build generates the table of
 * them (commands.inc) from the file names. */
#ifndef LISEC_COMMANDS_H
#define LISEC_COMMANDS_H

typedef struct cli_command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *help;
} cli_command;

#endif
