/* hkref — the unified framework's configuration: every preset is valid and
 * has the fields its source says; every invalid combination is rejected with
 * a message naming the field and the reason; the space of combinations is
 * enumerated so the count of valid ones is a checked number. */
#include "hk_test.h"

#include "ref/framework.h"

START_TEST(every_preset_is_valid_and_has_its_source_fields)
{
    ck_assert_uint_eq(hk_preset_count(), 9);
    for (size_t i = 0; i < hk_preset_count(); i++) {
        hk_framework c;
        hk_assert_ok(hk_preset_get(&c, hk_preset_name(i)));
        hk_assert_ok(hk_framework_validate(&c));
        ck_assert(strlen(hk_preset_source(i)) > 10);
    }
    hk_framework c;
    hk_assert_ok(hk_preset_get(&c, "hiddenkey"));
    /* HK §3.3: logits column (DropKey), hidden element (HiddenCut), KL, two passes, one branch */
    ck_assert(c.site[HK_POS_LOGITS].p > 0 && c.site[HK_POS_LOGITS].pattern == HK_PAT_COLUMN);
    ck_assert(c.site[HK_POS_HIDDEN].p > 0 && c.site[HK_POS_HIDDEN].pattern == HK_PAT_ELEMENT);
    ck_assert(c.loss == HK_CONS_KL_BIDIR && c.passes == 2 && !c.task_both && c.detach_second);
    hk_framework m;
    hk_assert_ok(hk_preset_get(&m, "hiddenkey-"));
    ck_assert(m.loss == HK_LOSS_NONE && m.passes == 1);
    ck_assert(memcmp(m.site, c.site, sizeof m.site) == 0); /* HiddenKey = HiddenKey- + KL */
    hk_assert_ok(hk_preset_get(&c, "hiddencut-clean"));
    ck_assert(c.site[HK_POS_HIDDEN].rescale == HK_RESCALE_NONE && c.loss == HK_CONS_JS_MIXTURE && c.second_clean);
    ck_assert(c.site[HK_POS_HIDDEN].pattern == HK_PAT_SPAN_IMPORTANCE && !c.task_both && !c.second_sites);
    hk_assert_ok(hk_preset_get(&m, "hiddencut")); /* the legacy name: the same configuration */
    ck_assert(memcmp(&m, &c, sizeof m) == 0);
    /* SALT-NLP/HiddenCut trainer.py attn_span_cutoff + modeling_bert.py BertOutput +
     * run_glue_hidden_cutoff.sh: pass 1 nn.Dropout(0.1) on the FFN output, pass 2
     * the importance span (zero, no rescale) there instead; CE1 + 1.0 CE2 +
     * 1.0 js_div, nothing detached, pass 2 not clean. */
    hk_assert_ok(hk_preset_get(&c, "hiddencut-official"));
    ck_assert(c.site[HK_POS_HIDDEN].p == 0.1 && c.site[HK_POS_HIDDEN].pattern == HK_PAT_ELEMENT &&
              c.site[HK_POS_HIDDEN].rescale == HK_RESCALE_INVERTED);
    ck_assert(c.second_sites && c.site2[HK_POS_HIDDEN].p == 0.1 &&
              c.site2[HK_POS_HIDDEN].pattern == HK_PAT_SPAN_IMPORTANCE &&
              c.site2[HK_POS_HIDDEN].rescale == HK_RESCALE_NONE);
    for (int pos = 0; pos < HK_POS_COUNT; pos++)
        if (pos != HK_POS_HIDDEN) ck_assert(c.site[pos].p == 0.0 && c.site2[pos].p == 0.0);
    ck_assert(c.loss == HK_CONS_JS_MIXTURE && c.weight == 1.0 && c.passes == 2 && !c.second_clean &&
              c.task_both == HK_TASK_SUM && !c.detach_second);
    hk_assert_ok(hk_preset_get(&c, "dropattention"));
    ck_assert(c.site[HK_POS_WEIGHTS].rescale == HK_RESCALE_NORMALIZED);
    hk_assert_fails(hk_preset_get(&c, "hiddenkey+"), HK_ENOTFOUND, "'hiddenkey+'");
}
END_TEST

static hk_framework one_site(hk_position pos, hk_pattern_kind pat, hk_rescale rs)
{
    hk_framework c;
    hk_framework_init(&c);
    c.site[pos].p = 0.25;
    c.site[pos].pattern = pat;
    c.site[pos].rescale = rs;
    return c;
}

START_TEST(invalid_combinations_say_why)
{
    hk_framework c = one_site(HK_POS_LOGITS, HK_PAT_ELEMENT, HK_RESCALE_INVERTED);
    hk_assert_fails(hk_framework_validate(&c), HK_EDOM, "softmax renormalizes");
    c = one_site(HK_POS_HIDDEN, HK_PAT_ELEMENT, HK_RESCALE_NORMALIZED);
    hk_assert_fails(hk_framework_validate(&c), HK_EDOM, "only the attention weights");
    c = one_site(HK_POS_WEIGHTS, HK_PAT_SPAN, HK_RESCALE_INVERTED);
    hk_assert_fails(hk_framework_validate(&c), HK_EDOM, "site[weights].pattern span");
    c = one_site(HK_POS_WEIGHTS, HK_PAT_COLUMN, HK_RESCALE_NONE);
    hk_assert_fails(hk_framework_validate(&c), HK_EDOM, "no longer sum to 1");
    c = one_site(HK_POS_INPUT, HK_PAT_SPAN_IMPORTANCE, HK_RESCALE_NONE);
    hk_assert_fails(hk_framework_validate(&c), HK_EDOM, "hidden position only");
    c = one_site(HK_POS_LORA, HK_PAT_COLUMN, HK_RESCALE_INVERTED);
    hk_assert_fails(hk_framework_validate(&c), HK_EDOM, "site[lora]");
    c = one_site(HK_POS_HIDDEN, HK_PAT_ELEMENT, HK_RESCALE_NONE);
    c.site[HK_POS_HIDDEN].p = 1.0;
    hk_assert_fails(hk_framework_validate(&c), HK_EDOM, "site[hidden].p");
    c = one_site(HK_POS_HIDDEN, HK_PAT_ELEMENT, HK_RESCALE_NONE);
    c.loss = HK_CONS_KL_BIDIR;
    c.weight = 1.0;
    hk_assert_fails(hk_framework_validate(&c), HK_EDOM, "needs passes 2");
    c.passes = 2;
    hk_assert_ok(hk_framework_validate(&c));
    c.weight = 0.0;
    hk_assert_fails(hk_framework_validate(&c), HK_EDOM, "weight 0");
    c.weight = 1.0;
    c.task = HK_TASK_REGRESSION;
    hk_assert_fails(hk_framework_validate(&c), HK_EDOM, "regression");
    c.task = HK_TASK_CLASSIFICATION;
    c.loss = HK_CONS_MSE;
    hk_assert_fails(hk_framework_validate(&c), HK_EDOM, "classification");
    c.loss = HK_CONS_JS_EQ12;
    hk_assert_fails(hk_framework_validate(&c), HK_EDOM, "inference");
    c.second_clean = 1;
    hk_assert_ok(hk_framework_validate(&c));
    c.site[HK_POS_HIDDEN].p = 0.0;
    hk_assert_fails(hk_framework_validate(&c), HK_EDOM, "identical");
    c = one_site(HK_POS_WEIGHTS, HK_PAT_COLUMN, HK_RESCALE_NORMALIZED);
    c.site[HK_POS_LOGITS] = (hk_fw_site){0.25, HK_PAT_ELEMENT, HK_RESCALE_NONE};
    hk_assert_fails(hk_framework_validate(&c), HK_EDOM, "row sum (Eq. 2) can be 0");
    c.site[HK_POS_WEIGHTS].rescale = HK_RESCALE_INVERTED; /* classic DropAttention divides by nothing */
    hk_assert_ok(hk_framework_validate(&c));
    hk_framework_init(&c);
    c.passes = 2;
    hk_assert_fails(hk_framework_validate(&c), HK_EDOM, "passes 2 without a loss");
    hk_framework_init(&c);
    c.weight = 0.5;
    hk_assert_fails(hk_framework_validate(&c), HK_EDOM, "without a loss");
    c.weight = NAN;
    hk_assert_fails(hk_framework_validate(&c), HK_EDOM, "weight");
    hk_assert_fails(hk_framework_validate(NULL), HK_EINVAL, "cfg");
}
END_TEST

START_TEST(count_of_valid_single_position_combinations)
{
    /* Derived from the rules, not from the code: per active position,
     *   lora:    element × inverted                      = 1
     *   input:   {element,column,span} × {none,inverted}  = 6
     *   logits:  {element,column} × {none}                = 2
     *   weights: {element,column} × {inverted,normalized}  = 4
     *   hidden:  {element,column,span,span_imp} × {none,inverted} = 8
     *   output:  {element,column,span} × {none,inverted}  = 6
     * total 27 single-position mask configurations. */
    long valid = 0;
    for (int pos = 0; pos < HK_POS_COUNT; pos++)
        for (int pat = 0; pat < HK_PAT_COUNT; pat++)
            for (int rs = 0; rs < HK_RESCALE_COUNT; rs++) {
                hk_framework c = one_site((hk_position)pos, (hk_pattern_kind)pat, (hk_rescale)rs);
                hk_error_clear();
                if (hk_framework_validate(&c) == HK_OK) valid++;
                else ck_assert(strlen(hk_error_message()) > 0);
            }
    ck_assert_int_eq(valid, 27);
}
END_TEST

START_TEST(count_of_valid_two_position_combinations)
{
    /* Two active positions: Σ_{i<j} n_i n_j over n = (1,6,2,4,8,6), i.e.
     * ((Σn)² − Σn²)/2 = (27² − 157)/2 = 286, minus the logits × normalized
     * weights pairs (2 DropKey sites × 2 normalized DropAttention sites = 4):
     * 282 (tools/checks/chk_stack.c runs each of them for both tasks: 564). */
    long valid = 0;
    for (int p1 = 0; p1 < HK_POS_COUNT; p1++)
        for (int p2 = p1 + 1; p2 < HK_POS_COUNT; p2++)
            for (int a = 0; a < HK_PAT_COUNT * HK_RESCALE_COUNT; a++)
                for (int b = 0; b < HK_PAT_COUNT * HK_RESCALE_COUNT; b++) {
                    hk_framework c = one_site((hk_position)p1, (hk_pattern_kind)(a / HK_RESCALE_COUNT),
                                              (hk_rescale)(a % HK_RESCALE_COUNT));
                    c.site[p2] = (hk_fw_site){0.25, (hk_pattern_kind)(b / HK_RESCALE_COUNT),
                                              (hk_rescale)(b % HK_RESCALE_COUNT)};
                    hk_error_clear();
                    valid += hk_framework_validate(&c) == HK_OK;
                }
    ck_assert_int_eq(valid, 282);
}
END_TEST

START_TEST(scale_and_describe)
{
    hk_framework c = one_site(HK_POS_OUTPUT, HK_PAT_ELEMENT, HK_RESCALE_INVERTED);
    ck_assert(hk_framework_scale(&c, HK_POS_OUTPUT) == 1.0 / 0.75);
    ck_assert(hk_framework_scale(&c, HK_POS_HIDDEN) == 1.0);
    char buf[1024], tiny[16];
    hk_assert_ok(hk_framework_describe(&c, buf, sizeof buf));
    ck_assert(strstr(buf, "output   p=0.25 pattern=element rescale=inverted") != NULL);
    hk_assert_fails(hk_framework_describe(&c, tiny, sizeof tiny), HK_ENOMEM, "too small");
}
END_TEST

/* hk_framework_set: every field by name.  The expected structs are written
 * from the field list in framework.h, not from the setter's output. */
START_TEST(set_by_name)
{
    hk_framework c, want;
    hk_framework_init(&c);
    const char *kv[][2] = {{"logits.p", "0.3"},      {"logits.pattern", "column"}, {"hidden.p", "0.25"},
                           {"hidden.rescale", "inverted"}, {"loss", "js_eq12"},    {"weight", "0.5"},
                           {"passes", "2"},          {"second_clean", "1"},        {"task_both", "1"},
                           {"detach_second", "1"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) hk_assert_ok(hk_framework_set(&c, kv[i][0], kv[i][1]));
    hk_framework_init(&want);
    want.site[HK_POS_LOGITS] = (hk_fw_site){0.3, HK_PAT_COLUMN, HK_RESCALE_NONE};
    want.site[HK_POS_HIDDEN] = (hk_fw_site){0.25, HK_PAT_ELEMENT, HK_RESCALE_INVERTED};
    want.loss = HK_CONS_JS_EQ12, want.weight = 0.5, want.passes = 2;
    want.second_clean = want.task_both = want.detach_second = 1;
    ck_assert(memcmp(&c, &want, sizeof c) == 0);
    hk_assert_ok(hk_framework_validate(&c));
    /* hiddenkey-'s sites + the four loss fields = the hiddenkey preset (HK §3.3) */
    hk_assert_ok(hk_preset_get(&c, "hiddenkey-"));
    hk_assert_ok(hk_framework_set(&c, "loss", "kl_bidir"));
    hk_assert_ok(hk_framework_set(&c, "weight", "1"));
    hk_assert_ok(hk_framework_set(&c, "passes", "2"));
    hk_assert_ok(hk_framework_set(&c, "detach_second", "1"));
    hk_assert_ok(hk_preset_get(&want, "hiddenkey"));
    ck_assert(memcmp(&c, &want, sizeof c) == 0);
    hk_assert_ok(hk_framework_set(&c, "loss", "none"));
    ck_assert_int_eq(c.loss, HK_LOSS_NONE);
    hk_assert_ok(hk_framework_set(&c, "task", "regression"));
    ck_assert_int_eq(c.task, HK_TASK_REGRESSION);
}
END_TEST

START_TEST(set_rejects_bad_keys_and_values_unchanged)
{
    hk_framework c, before;
    hk_assert_ok(hk_preset_get(&c, "hiddenkey"));
    before = c;
    hk_assert_fails(hk_framework_set(&c, "logit.p", "0.1"), HK_ENOTFOUND, "unknown position");
    hk_assert_fails(hk_framework_set(&c, "logits.rate", "0.1"), HK_ENOTFOUND, "unknown field 'rate'");
    hk_assert_fails(hk_framework_set(&c, "lossx", "kl_bidir"), HK_ENOTFOUND, "unknown key 'lossx'");
    hk_assert_fails(hk_framework_set(&c, "logits.p", "1"), HK_EDOM, "logits.p");
    hk_assert_fails(hk_framework_set(&c, "logits.p", "-0.1"), HK_EDOM, "outside");
    hk_assert_fails(hk_framework_set(&c, "logits.p", "0.1x"), HK_EDOM, "not a finite number");
    hk_assert_fails(hk_framework_set(&c, "logits.p", "nan"), HK_EDOM, "not a finite number");
    hk_assert_fails(hk_framework_set(&c, "logits.p", ""), HK_EDOM, "not a finite number");
    hk_assert_fails(hk_framework_set(&c, "hidden.pattern", "row"), HK_EDOM, "one of: element, column, span");
    hk_assert_fails(hk_framework_set(&c, "weights.rescale", "half"), HK_EDOM, "none, inverted, normalized");
    hk_assert_fails(hk_framework_set(&c, "loss", "kl"), HK_ENOTFOUND, "'kl'");
    hk_assert_fails(hk_framework_set(&c, "passes", "3"), HK_EDOM, "not 1 or 2");
    hk_assert_fails(hk_framework_set(&c, "task_both", "yes"), HK_EDOM, "not 0 (pass 1), 1 (mean of both) or 2");
    hk_assert_fails(hk_framework_set(&c, "task_both", "3"), HK_EDOM, "not 0 (pass 1), 1 (mean of both) or 2");
    hk_assert_fails(hk_framework_set(&c, "second_sites", "2"), HK_EDOM, "not 0 or 1");
    hk_assert_fails(hk_framework_set(&c, "pass2.hiden.p", "0.1"), HK_ENOTFOUND, "unknown position");
    hk_assert_fails(hk_framework_set(&c, "pass2.loss", "none"), HK_ENOTFOUND, "expected pass2.SITE.FIELD");
    hk_assert_fails(hk_framework_set(&c, "pass2.hidden.q", "0.1"), HK_ENOTFOUND, "unknown field");
    hk_assert_fails(hk_framework_set(&c, "weight", "inf"), HK_EDOM, "not a finite number");
    hk_assert_fails(hk_framework_set(&c, "task", "ranking"), HK_EDOM, "classification, regression");
    hk_assert_fails(hk_framework_set(NULL, "loss", "none"), HK_EINVAL, "");
    ck_assert(memcmp(&c, &before, sizeof c) == 0);
}
END_TEST

/* Pass 2's own sites (second_sites): validated like pass 1's, never ignored,
 * exclusive with a clean pass 2, set by "pass2.SITE.FIELD". */
START_TEST(per_pass_sites_rules_and_setter)
{
    hk_framework c;
    hk_assert_ok(hk_preset_get(&c, "hiddencut-official"));
    hk_assert_ok(hk_framework_validate(&c));
    ck_assert(hk_framework_pass_site(&c, 0, HK_POS_HIDDEN) == &c.site[HK_POS_HIDDEN]);
    ck_assert(hk_framework_pass_site(&c, 1, HK_POS_HIDDEN) == &c.site2[HK_POS_HIDDEN]);
    hk_framework v;
    hk_framework_pass_view(&c, 1, &v);
    ck_assert(v.site[HK_POS_HIDDEN].pattern == HK_PAT_SPAN_IMPORTANCE && v.site[HK_POS_HIDDEN].p == 0.1);
    hk_framework_pass_view(&c, 0, &v);
    ck_assert(v.site[HK_POS_HIDDEN].pattern == HK_PAT_ELEMENT);
    c.second_clean = 1;
    hk_assert_fails(hk_framework_validate(&c), HK_EDOM, "pick one");
    c.second_clean = 0;
    c.site2[HK_POS_LOGITS] = (hk_fw_site){0.2, HK_PAT_ELEMENT, HK_RESCALE_INVERTED};
    hk_assert_fails(hk_framework_validate(&c), HK_EDOM, "site2[logits].rescale inverted");
    c.site2[HK_POS_LOGITS].rescale = HK_RESCALE_NONE;
    c.site2[HK_POS_WEIGHTS] = (hk_fw_site){0.2, HK_PAT_ELEMENT, HK_RESCALE_NORMALIZED};
    hk_assert_fails(hk_framework_validate(&c), HK_EDOM, "site2[weights].rescale normalized with site2[logits]");
    c.site2[HK_POS_WEIGHTS].p = 0.0;
    hk_assert_ok(hk_framework_validate(&c));
    c.second_sites = 0; /* site2 would be silently ignored */
    hk_assert_fails(hk_framework_validate(&c), HK_EDOM, "second_sites 0");
    c.task_both = 3, c.second_sites = 1;
    hk_assert_fails(hk_framework_validate(&c), HK_EINVAL, "task_both");
    /* pass 1 with nothing, pass 2 with its own site: two different passes */
    hk_framework_init(&c);
    c.loss = HK_CONS_KL_BIDIR, c.weight = 1.0, c.passes = 2, c.second_sites = 1;
    hk_assert_fails(hk_framework_validate(&c), HK_EDOM, "identical");
    c.site2[HK_POS_OUTPUT] = (hk_fw_site){0.3, HK_PAT_ELEMENT, HK_RESCALE_INVERTED};
    hk_assert_ok(hk_framework_validate(&c));
    c.loss = HK_LOSS_NONE, c.weight = 0.0, c.passes = 1, c.site2[HK_POS_OUTPUT].p = 0.0;
    hk_assert_fails(hk_framework_validate(&c), HK_EDOM, "without a loss");
    /* the setter: the official objective from hiddenkey-'s empty start */
    hk_framework want;
    hk_assert_ok(hk_preset_get(&want, "hiddencut-official"));
    hk_framework_init(&c);
    const char *kv[][2] = {{"hidden.p", "0.1"},          {"hidden.rescale", "inverted"}, {"pass2.hidden.p", "0.1"},
                           {"pass2.hidden.pattern", "span_importance"}, {"second_sites", "1"},
                           {"loss", "js_mixture"},      {"weight", "1"},               {"passes", "2"},
                           {"task_both", "2"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) hk_assert_ok(hk_framework_set(&c, kv[i][0], kv[i][1]));
    ck_assert(memcmp(&c, &want, sizeof c) == 0);
    char buf[2048];
    hk_assert_ok(hk_framework_describe(&c, buf, sizeof buf));
    ck_assert(strstr(buf, "pass2.hidden   p=0.10 pattern=span_importance rescale=none") != NULL);
    ck_assert(strstr(buf, "task_both=2 detach_second=0 task=classification second_sites=1") != NULL);
}
END_TEST

Suite *suite_framework(void)
{
    Suite *s = suite_create("framework");
    TCase *core = tcase_create("Core");
    tcase_add_test(core, every_preset_is_valid_and_has_its_source_fields);
    tcase_add_test(core, count_of_valid_single_position_combinations);
    tcase_add_test(core, count_of_valid_two_position_combinations);
    tcase_add_test(core, scale_and_describe);
    tcase_add_test(core, set_by_name);
    tcase_add_test(core, per_pass_sites_rules_and_setter);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_test(lim, invalid_combinations_say_why);
    tcase_add_test(lim, set_rejects_bad_keys_and_values_unchanged);
    suite_add_tcase(s, lim);
    return s;
}
