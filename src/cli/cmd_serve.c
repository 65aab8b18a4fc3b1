/* cmd_serve.c - `kiln serve`: the model server (src/serve/). */
#include "cli.h"

int serve_main(int argc, char **argv);

int cmd_serve(int argc, char **argv) { return serve_main(argc, argv); }
