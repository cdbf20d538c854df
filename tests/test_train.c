/* hkref — task losses, the framework loss head and the training step's
 * policies: closed forms, the gradient choices (task_both, detach_second),
 * errors.  (FD of the step per preset and per combination: tools/checks/chk_train.c.) */
#include "hk_test.h"

#include "ref/train.h"

#include <math.h>

START_TEST(cross_entropy_and_mse_closed_forms)
{
    /* logits (0, ln 3) label 1: p = 3/4, CE = ln(4/3); label 0: ln 4. Mean of both. */
    const double z[4] = {0.0, log(3.0), 0.0, log(3.0)};
    const long y[2] = {1, 0};
    double L, d[4] = {0};
    hk_assert_ok(hk_task_loss_forward(&L, HK_TASK_CLASSIFICATION, z, y, NULL, 2, 2));
    ck_assert(fabs(L - 0.5 * (log(4.0 / 3.0) + log(4.0))) <= 8 * DBL_EPSILON);
    hk_assert_ok(hk_task_loss_backward(d, 1.0, HK_TASK_CLASSIFICATION, z, y, NULL, 2, 2));
    /* (softmax - onehot)/N = ((1/4 - 0), (3/4 - 1), (1/4 - 1), 3/4)/2 */
    const double ref[4] = {0.125, -0.125, -0.375, 0.375};
    hk_assert_close(d, ref, 4, "dCE", 4 * DBL_EPSILON, 0.0);
    const double o[2] = {1.5, -0.25}, t[2] = {0.5, 0.75};
    hk_assert_ok(hk_task_loss_forward(&L, HK_TASK_REGRESSION, o, NULL, t, 2, 1));
    ck_assert(L == 1.0); /* (1 + 1)/2 exactly */
    /* stable at ±700: CE of the wrong class is 1400, not inf */
    const double big[2] = {700.0, -700.0};
    const long wrong[1] = {1};
    hk_assert_ok(hk_task_loss_forward(&L, HK_TASK_CLASSIFICATION, big, wrong, NULL, 1, 2));
    ck_assert(L == 1400.0);
}
END_TEST

START_TEST(loss_head_gradient_choices)
{
    /* Two passes, KL: with detach_second pass 2 gets only its task gradient
     * (task_both) or nothing; without, it also gets α·∂KL/∂z2. */
    hk_framework c;
    hk_framework_init(&c);
    c.site[HK_POS_HIDDEN].p = 0.1;
    c.loss = HK_CONS_KL_BIDIR, c.weight = 2.0, c.passes = 2;
    const double z1[3] = {0.5, -1.0, 2.0}, z2[3] = {1.0, 0.25, -0.5};
    const long y[1] = {2};
    double d1[3] = {0}, d2[3] = {0}, t2[3] = {0}, k2[3] = {0};
    c.detach_second = 1, c.task_both = 0;
    hk_assert_ok(hk_framework_loss_backward(d1, NULL, d2, NULL, &c, z1, NULL, z2, NULL, y, NULL, 1, 3, 1));
    ck_assert(d2[0] == 0.0 && d2[1] == 0.0 && d2[2] == 0.0);
    c.task_both = 1;
    hk_assert_ok(hk_framework_loss_backward(d1, NULL, d2, NULL, &c, z1, NULL, z2, NULL, y, NULL, 1, 3, 1));
    hk_assert_ok(hk_task_loss_backward(t2, 0.5, HK_TASK_CLASSIFICATION, z2, y, NULL, 1, 3));
    ck_assert(memcmp(d2, t2, sizeof d2) == 0);
    c.detach_second = 0, c.task_both = 0;
    memset(d2, 0, sizeof d2);
    hk_assert_ok(hk_framework_loss_backward(d1, NULL, d2, NULL, &c, z1, NULL, z2, NULL, y, NULL, 1, 3, 1));
    hk_assert_ok(hk_consistency_backward(NULL, k2, 2.0, HK_CONS_KL_BIDIR, z1, z2, 1, 3, HK_RED_MEAN));
    ck_assert(memcmp(d2, k2, sizeof d2) == 0);
    hk_step_result r;
    hk_assert_ok(hk_framework_loss_forward(&r, &c, z1, NULL, z2, NULL, y, NULL, 1, 3, 1));
    ck_assert(r.total == r.task + 2.0 * r.consistency && r.consistency > 0);
}
END_TEST

START_TEST(errors_name_the_argument)
{
    const double z[2] = {0.1, 0.2};
    const long bad[1] = {2};
    double L, d[2] = {0};
    hk_assert_fails(hk_task_loss_forward(&L, HK_TASK_CLASSIFICATION, z, bad, NULL, 1, 2), HK_EDOM, "labels[0]");
    hk_assert_fails(hk_task_loss_forward(&L, HK_TASK_REGRESSION, z, NULL, z, 1, 2), HK_ESHAPE, "K = 1");
    hk_assert_fails(hk_task_loss_forward(&L, HK_TASK_REGRESSION, z, NULL, NULL, 2, 1), HK_EINVAL, "targets");
    hk_assert_fails(hk_task_loss_backward(d, INFINITY, HK_TASK_REGRESSION, z, NULL, z, 2, 1), HK_ENAN, "dloss");
    hk_framework c;
    hk_preset_get(&c, "rdrop");
    hk_step_result r;
    const long y[1] = {0};
    hk_assert_fails(hk_framework_loss_forward(&r, &c, z, NULL, NULL, NULL, y, NULL, 1, 2, 1), HK_EINVAL, "out2");
    c.passes = 1; /* invalid with a loss: the head validates the config */
    hk_assert_fails(hk_framework_loss_forward(&r, &c, z, NULL, z, NULL, y, NULL, 1, 2, 1), HK_EDOM, "passes 2");
    double work[64];
    hk_model m = {NULL, 1, 2, 1, NULL, NULL};
    hk_preset_get(&c, "lora");
    hk_assert_fails(hk_train_step(&r, &c, &m, y, NULL, work), HK_EINVAL, "NULL forward");
}
END_TEST

/* HiddenCut's official objective (SALT-NLP/HiddenCut trainer.py: CE(ori) +
 * CE(cut) + js_div(p, q), js_div = ½[KL(m‖p) + KL(m‖q)] batchmean) on one
 * row, K = 2, written out by hand: out1 = (0, ln 3) gives p = (1/4, 3/4),
 * out2 = (0, 0) gives q = (1/2, 1/2), label 0: CE1 = ln 4, CE2 = ln 2,
 * m = (3/8, 5/8).  The mean choice (R-Drop) halves the CE sum. */
START_TEST(hiddencut_official_sum_closed_form)
{
    const double o1[2] = {0.0, log(3.0)}, o2[2] = {0.0, 0.0};
    const long y[1] = {0};
    const double js = 0.5 * (0.375 * log(0.375 / 0.25) + 0.625 * log(0.625 / 0.75) + 0.375 * log(0.375 / 0.5) +
                             0.625 * log(0.625 / 0.5));
    hk_framework c;
    hk_assert_ok(hk_preset_get(&c, "hiddencut-official"));
    c.weight = 0.5;
    hk_step_result r;
    hk_assert_ok(hk_framework_loss_forward(&r, &c, o1, NULL, o2, NULL, y, NULL, 1, 2, 1));
    ck_assert_double_eq_tol(r.task, log(4.0) + log(2.0), 1e-15);
    ck_assert_double_eq_tol(r.consistency, js, 1e-15);
    ck_assert_double_eq_tol(r.total, log(8.0) + 0.5 * js, 1e-15);
    /* gradient: d/dz of CE is softmax - onehot on each pass, weight 1 each
     * (the sum), plus the JS part; without the JS (its own closed form is
     * tests/test_consistency.c) the task part alone is checked here */
    double d1[2] = {0}, d2[2] = {0};
    c.weight = 1e-300; /* the JS contributes nothing representable at this weight */
    hk_assert_ok(hk_framework_loss_backward(d1, NULL, d2, NULL, &c, o1, NULL, o2, NULL, y, NULL, 1, 2, 1));
    ck_assert_double_eq_tol(d1[0], 0.25 - 1.0, 1e-15);
    ck_assert_double_eq_tol(d1[1], 0.75, 1e-15);
    ck_assert_double_eq_tol(d2[0], 0.5 - 1.0, 1e-15);
    ck_assert_double_eq_tol(d2[1], 0.5, 1e-15);
    c.task_both = HK_TASK_MEAN;
    c.weight = 0.5;
    hk_assert_ok(hk_framework_loss_forward(&r, &c, o1, NULL, o2, NULL, y, NULL, 1, 2, 1));
    ck_assert_double_eq_tol(r.task, 0.5 * log(8.0), 1e-15);
}
END_TEST

Suite *suite_train(void)
{
    Suite *s = suite_create("train");
    TCase *core = tcase_create("Core");
    tcase_add_test(core, cross_entropy_and_mse_closed_forms);
    tcase_add_test(core, loss_head_gradient_choices);
    tcase_add_test(core, hiddencut_official_sum_closed_form);
    suite_add_tcase(s, core);
    TCase *lim = tcase_create("Limits");
    tcase_add_test(lim, errors_name_the_argument);
    suite_add_tcase(s, lim);
    return s;
}
