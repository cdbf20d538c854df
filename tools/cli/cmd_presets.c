/* hkref presets — the named framework presets with their full configs and sources. */
#include "args.h"
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

static void usage(FILE *f)
{
    fprintf(f, "usage: hkref presets [NAME]\n\n"
               "Lists the unified-framework presets of 2403.00812 with every field of their\n"
               "configuration (positions lora/input/logits/weights/hidden/output: rate, pattern,\n"
               "rescale; consistency loss, weight, passes, gradient choices) and the source.\n"
               "Rates p = 0.1 and weight 1 are placeholders: the paper sweeps them.\n"
               "  NAME   show only this preset (");
    for (size_t i = 0; i < hk_preset_count(); i++) fprintf(f, "%s%s", i ? ", " : "", hk_preset_name(i));
    fprintf(f, ")\nexit status: 0 ok, 2 unknown preset (with the closest name).\n");
}

static const char *preset_name(size_t i, void *ctx)
{
    (void)ctx;
    return hk_preset_name(i);
}

int hk_cmd_presets(int argc, char **argv)
{
    const char *only = NULL;
    const hk_opt opts[] = {{0}};
    const hk_args spec = {.cmd = "presets", .opts = opts, .pos = &only, .maxpos = 1, .posname = "NAME"};
    int rc = hk_args_parse(&spec, argc, argv, NULL);
    if (rc == HK_ARGS_HELP) {
        usage(stdout);
        return 0;
    }
    if (rc) return rc;
    int found = 0;
    for (size_t i = 0; i < hk_preset_count(); i++) {
        if (only && strcmp(only, hk_preset_name(i)) != 0) continue;
        found = 1;
        if (show(i)) return 2;
    }
    if (only && !found) {
        char list[256] = "";
        for (size_t i = 0; i < hk_preset_count(); i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", hk_preset_name(i));
        const char *s = hk_args_suggest_fn(only, preset_name, hk_preset_count(), NULL);
        if (s) return hk_args_error(&spec, "unknown preset '%s' (did you mean '%s'? presets: %s)", only, s, list);
        return hk_args_error(&spec, "unknown preset '%s' (presets: %s)", only, list);
    }
    return 0;
}
