/* hkref — finite-difference check of a training step (see stepcheck.h). */
#include "stepcheck.h"

#include "ref/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const hk_stepcheck *sc;
    double *o1, *o2, *r1, *r2, *fo2, *fr2; /* outputs (N,K), reps (N,D); f* frozen pass 2 */
} fd_ctx;

static double step_loss(void *p)
{
    fd_ctx *c = p;
    const hk_stepcheck *sc = c->sc;
    const hk_model *m = &sc->m;
    int two = sc->cfg->passes == 2;
    if (m->forward(m->ctx, 0, 0, c->o1, c->r1)) return NAN;
    if (two && m->forward(m->ctx, 1, sc->cfg->second_clean, c->o2, c->r2)) return NAN;
    hk_step_result a, b;
    if (hk_framework_loss_forward(&a, sc->cfg, c->o1, c->r1, two ? c->o2 : NULL, two ? c->r2 : NULL, sc->labels,
                                  sc->targets, m->N, m->K, m->D))
        return NAN;
    if (!two || !sc->cfg->detach_second) return a.total;
    if (hk_framework_loss_forward(&b, sc->cfg, c->o1, c->r1, c->fo2, c->fr2, sc->labels, sc->targets, m->N, m->K, m->D))
        return NAN;
    return a.task + sc->cfg->weight * b.consistency;
}

int hk_stepcheck_run(const hk_stepcheck *sc, const hk_gc_var *vars, int nvars, hk_gc_report *rep,
                     int *backward_passes)
{
    HK_REQUIRE_PTR(sc);
    HK_REQUIRE_PTR(vars);
    HK_REQUIRE(nvars > 0, HK_EINVAL, "nvars must be > 0");
    const hk_model *m = &sc->m;
    long NK = m->N * m->K, ND = m->N * m->D, ngrad = 0;
    for (int v = 0; v < nvars; v++) ngrad += vars[v].n;
    double *buf = calloc((size_t)(4 * NK + 4 * ND + hk_train_step_work_size(m) + 2 * ngrad), sizeof(double));
    if (!buf) HK_ERROR(HK_ENOMEM, "stepcheck scratch allocation failed");
    fd_ctx c = {sc, buf, buf + NK, buf + 2 * NK, buf + 2 * NK + ND, buf + 2 * NK + 2 * ND, buf + 3 * NK + 2 * ND};
    double *work = buf + 4 * NK + 4 * ND, *g1 = work + hk_train_step_work_size(m), *g2 = g1 + ngrad;
    hk_step_result res;
    int st = HK_OK;
    for (int run = 0; run < 2 && !st; run++) {
        sc->zero_grads(sc->zero_ctx);
        st = hk_train_step(&res, sc->cfg, m, sc->labels, sc->targets, work);
        double *g = run ? g2 : g1;
        for (int v = 0; v < nvars && !st; v++) {
            memcpy(g, vars[v].grad, sizeof(double) * (size_t)vars[v].n);
            g += vars[v].n;
        }
    }
    if (!st && memcmp(g1, g2, sizeof(double) * (size_t)ngrad) != 0)
        st = hk_error_set(HK_EFAIL, __FILE__, __LINE__, "training step not deterministic: two backward runs differ");
    if (!st && backward_passes) *backward_passes = res.backward_passes;
    if (!st && sc->cfg->passes == 2) {
        st = m->forward(m->ctx, 0, 0, c.o1, c.r1);
        if (!st) st = m->forward(m->ctx, 1, sc->cfg->second_clean, c.fo2, c.fr2);
    }
    if (!st && sc->before_fd) st = sc->before_fd(sc->before_fd_ctx);
    if (!st) st = hk_gradcheck(step_loss, &c, vars, nvars, NULL, rep);
    free(buf);
    return st;
}
