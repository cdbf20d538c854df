/* hkref presets — the named framework presets with their full configs and sources. */
#include "cli.h"

#include "ref/error.h"
#include "ref/framework.h"

#include <stdio.h>
#include <string.h>

const char hk_cmd_presets_summary[] = "list the dropout presets (lora ... hiddenkey) with full configs and sources";

static int show(size_t i)
{
    hk_framework cfg;
    char buf[1024];
    if (hk_preset_get(&cfg, hk_preset_name(i)) || hk_framework_validate(&cfg) ||
        hk_framework_describe(&cfg, buf, sizeof buf))
        return hk_cli_fail("presets");
    printf("%s\n  source: %s\n%s\n", hk_preset_name(i), hk_preset_source(i), buf);
    return 0;
}

int hk_cmd_presets(int argc, char **argv)
{
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (hk_cli_is_help(argv[i])) {
            printf("usage: hkref presets [NAME]\n\n"
                   "Lists the unified-framework presets of 2403.00812 with every field of their\n"
                   "configuration (positions lora/input/logits/weights/hidden/output: rate, pattern,\n"
                   "rescale; consistency loss, weight, passes, gradient choices) and the source.\n"
                   "Rates p = 0.1 and weight 1 are placeholders: the paper sweeps them.\n"
                   "  NAME   show only this preset\n"
                   "exit status: 0 ok, 2 unknown preset.\n");
            return 0;
        } else if (argv[i][0] == '-' || only) {
            return hk_cli_usage_error("presets", "unexpected argument '%s'", argv[i]);
        } else {
            only = argv[i];
        }
    }
    int found = 0;
    for (size_t i = 0; i < hk_preset_count(); i++) {
        if (only && strcmp(only, hk_preset_name(i)) != 0) continue;
        found = 1;
        if (show(i)) return 2;
    }
    if (only && !found) {
        hk_framework cfg;
        hk_preset_get(&cfg, only); /* records the message naming the valid presets */
        return hk_cli_fail("presets");
    }
    return 0;
}
