/* The bulk side of `lisec model` (model_bulk.c): import a topology file into
 * lisecd's model entity by entity, and export the model as one. Each takes
 * the arguments after "import" / "export" (argv[0] is that word) and returns
 * CLI_OK, CLI_REFUSED or CLI_ERROR. */
#ifndef LISEC_CLI_MODEL_BULK_H
#define LISEC_CLI_MODEL_BULK_H

int cli_model_import(int argc, char **argv);
int cli_model_export(int argc, char **argv);

#endif
