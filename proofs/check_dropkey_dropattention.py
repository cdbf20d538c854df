#!/usr/bin/env python3
"""Symbolic check of proofs/dropkey_dropattention.md, step by step (same order,
same step numbers).

Exponentials e_i = exp(g_i) are positive symbols, and d/dg_j acts as
e_j * d/de_j (since de_i/dg_j = delta_ij e_i), so every expression is a
rational function and `cancel` decides each identity exactly (and fast).
Sections 1-4 and 6 work with the sums over a GENERAL masked set M (S_K over
kept keys, S_M over masked keys); section 2 differentiates explicit rows of
n = 6 keys with |M| = 1, 2, 3 and the corner |K| = 1; section 9 evaluates the
notes' printed forms and asserts they are NOT the correct ones once |M| >= 2
(errata).  Exit status 1 if any step fails."""
import sys

import sympy as sp

fails = 0
count = 0


def step(name, lhs, rhs, equal=True):
    """lhs - rhs cancels to 0 (equal=True) or does not (equal=False: erratum)."""
    global fails, count
    count += 1
    d = sp.cancel(sp.together(lhs - rhs))
    ok = (d == 0) if equal else (d != 0)
    print(("ok   " if ok else "FAIL ") + name + ("" if equal else "   [printed form differs, as it should]"))
    if not ok:
        fails += 1


# ---- notation (md §0) -------------------------------------------------------
# e_u: kept key u; R: sum of the other kept keys; S_M: sum over the masked set M;
# e_m: one masked key (part of S_M); e_v: one other kept key (part of R).
eu, R, SM, em, ev = sp.symbols("e_u R S_M e_m e_v", positive=True)
SK = eu + R          # S_K = sum over kept keys
S = SK + SM          # S = sum over all (non-padded) keys
w_u, w_v, w_m, wM = eu / S, ev / S, em / S, SM / S
wp_u, wp_v = eu / SK, ev / SK   # DropKey's w'
Z = SK / S           # sum of the kept weights

# ---- 1. Theorem 1: Eq. 5 = Eq. 6 (proof Eq. 13) for a set M ----------------
step("1.1 Z = sum_K w_i = S_K/S = 1 - w_M", Z, 1 - wM)
step("1.2 w_u / Z = e_u / (S - S_M)", w_u / Z, eu / (S - SM))
step("1.3 e_u / (S - S_M) = e_u / S_K = DropKey w'_u (Eq. 5)", eu / (S - SM), wp_u)

# ---- 2. Jacobians, differentiated from explicit rows -----------------------
n = 6
e = sp.symbols("e0:6", positive=True)
c = sp.Symbol("c", positive=True)   # the NoGrad denominator, held constant


def D(f, j):
    """d f / d g_j for f a function of e = exp(g)."""
    return e[j] * sp.diff(f, e[j])


for M in ([5], [4, 5], [3, 4, 5], [1, 2, 3, 4, 5]):
    K = [i for i in range(n) if i not in M]
    Sx = sum(e)
    SKx = sum(e[i] for i in K)
    SMx = sum(e[i] for i in M)
    u = K[0]
    dk = e[u] / SKx                           # DropKey w'_u (Eq. 5)
    ng = (e[u] / Sx) / c                      # NoGrad w'_u, denominator frozen (Eq. 2)
    ngd = lambda j: D(ng, j).subs(c, SKx / Sx)  # noqa: E731  evaluated at c = Z
    tag = f"|M|={len(M)},|K|={len(K)}:"
    step(f"2.1 {tag} dw'_u/dg_u DropKey = w'_u (1 - w'_u)  [Eq. 7 general]", D(dk, u), dk * (1 - dk))
    for m in M:
        step(f"2.2 {tag} dw'_u/dg_{m} DropKey = 0 (m in M)", D(dk, m), 0)
    step(f"2.3 {tag} dw'_u/dg_u NoGrad = w'_u (1 - w_u) = e_u (S - e_u)/(S S_K)  [Eq. 9 general]",
         ngd(u), e[u] * (Sx - e[u]) / (Sx * SKx))
    for m in M:
        step(f"2.4 {tag} dw'_u/dg_{m} NoGrad = -w'_u w_m = -e_u e_m/(S S_K) (m in M)  [Eq. 8 general]",
             ngd(m), -e[u] * e[m] / (Sx * SKx))
    if len(K) > 1:
        v = K[1]
        step(f"2.5 {tag} dw'_u/dg_v DropKey = -w'_u w'_v (kept v != u)", D(dk, v), -e[u] * e[v] / SKx ** 2)
        step(f"2.6 {tag} dw'_u/dg_v NoGrad = -w'_u w_v (kept v != u)", ngd(v), -e[u] * e[v] / (SKx * Sx))

# ---- 3. Theorem 2: the ratio k for a set M (Eq. 10, 14, 15) -----------------
J_dk_uu = wp_u * (1 - wp_u)
J_ng_uu = wp_u * (1 - w_u)
k = (1 - eu / SK) / (1 - eu / S)          # Eq. 10 with S_K in place of sum_{i != m}
step("3.1 J^DK_uu / J^NG_uu = (S_K - e_u)/S_K * S/(S - e_u)  [Eq. 14 line 2 general]",
     J_dk_uu / J_ng_uu, (SK - eu) / SK * S / (S - eu))
step("3.2 = (1 - e_u/S_K)/(1 - e_u/S) = k  [Eq. 14 line 3 general]", (SK - eu) / SK * S / (S - eu), k)
step("3.3 k = (1 - w'_u)/(1 - w_u)", k, (1 - wp_u) / (1 - w_u))
step("3.4 product form: J^DK_uu (1 - w_u) = (1 - w'_u) J^NG_uu", J_dk_uu * (1 - w_u), (1 - wp_u) * J_ng_uu)
step("3.5 1 - k = e_u S_M / (S_K (S - e_u))  (positive terms)", 1 - k, eu * SM / (SK * (S - eu)))
step("3.6 1 - k = w'_u w_M / (1 - w_u)", 1 - k, wp_u * wM / (1 - w_u))
step("3.7 J^NG_uu - J^DK_uu = w_M w'_u^2", J_ng_uu - J_dk_uu, wM * wp_u ** 2)
step("3.8 Eq. 15 general: (1 - e_u/S) - (1 - e_u/S_K) = e_u S_M/(S S_K)", (1 - eu / S) - (1 - eu / SK),
     eu * SM / (S * SK))
step("3.9 Eq. 15 general: (1 - e_u/(S_K + S_M)) / (1 - e_u/S) = 1", (1 - eu / (SK + SM)) / (1 - eu / S), 1)
step("3.10 d(1 - k)/dS_M = e_u R / (S_K (R + S_M)^2)", sp.diff(1 - k, SM), eu * R / (SK * (R + SM) ** 2))
step("3.11 dS_M/dg_m = e_m (S_M = e_m + rest)", em * sp.diff(em + sp.Symbol("rest", positive=True), em), em)
step("3.12 nothing masked (S_M = 0): k = 1", k.subs(SM, 0), 1)
step("3.13 u the only kept key (R = 0): k = 0", k.subs(R, 0), 0)

# ---- 4. kept pairs u != v: what the claim amounts to -------------------------
J_dk_uv = -wp_u * wp_v
J_ng_uv = -wp_u * ev / S
step("4.1 J^NG_uv = -(1 - w_M) w'_u w'_v", J_ng_uv, -(1 - wM) * wp_u * wp_v)
step("4.2 J^DK_uv / J^NG_uv = 1/(1 - w_M) (>= 1: opposite direction to k)", J_dk_uv / J_ng_uv, 1 / (1 - wM))
step("4.3 J^NG_uv - J^DK_uv = w_M w'_u w'_v (with 3.7: J^NG_KK = J^DK_KK + w_M w' w'^T)",
     J_ng_uv - J_dk_uv, wM * wp_u * wp_v)
# row sums over the kept block and over M, for a row with kept {u, v, x} and masked {m, y}
ex, ey = sp.symbols("e_x e_y", positive=True)
SK3, SM2 = eu + ev + ex, em + ey
S5 = SK3 + SM2
dk_row = [eu * (SK3 - eu) / SK3 ** 2, -eu * ev / SK3 ** 2, -eu * ex / SK3 ** 2]
ng_row = [eu * (S5 - eu) / (S5 * SK3), -eu * ev / (S5 * SK3), -eu * ex / (S5 * SK3)]
ng_leak = [-eu * em / (S5 * SK3), -eu * ey / (S5 * SK3)]
step("4.4 DropKey: sum_{v in K} J^DK_uv = 0 (shift invariance)", sum(dk_row), 0)
step("4.5 NoGrad: sum_{v in K} J^NG_uv = w'_u w_M", sum(ng_row), (eu / SK3) * (SM2 / S5))
step("4.6 NoGrad: sum_{m in M} J^NG_um = -w'_u w_M (the leak balances 4.5)", sum(ng_leak), -(eu / SK3) * (SM2 / S5))

# ---- 5. Theorem 3: normalized DropAttention (gradient through Z) ------------
# (a) as functions of g: w_u / sum_K w = DropKey's w'_u for every g -> equal derivatives
for M in ([5], [3, 4, 5]):
    K = [i for i in range(n) if i not in M]
    Sx = sum(e)
    wx = [x / Sx for x in e]
    norm_u = wx[K[0]] / sum(wx[i] for i in K)
    dk_u = e[K[0]] / sum(e[i] for i in K)
    step(f"5.1 |M|={len(M)}: w_u / sum_K w_i = e_u/S_K identically in g", norm_u, dk_u)
    for j in range(n):
        step(f"5.2 |M|={len(M)}: d/dg_{j} of both agree (Thm 3)", D(norm_u, j), D(dk_u, j))
# (b) the code's backward of w -> w' (weights, not logits, as inputs), K = {0,1,2}, M = {3}
W = sp.symbols("W0:4", positive=True)
dl = sp.symbols("d0:4", real=True)     # upstream dL/dw'
Kw, Zw = [0, 1, 2], W[0] + W[1] + W[2]
Nw = [W[i] / Zw if i in Kw else sp.Integer(0) for i in range(4)]
cw = sp.Symbol("cw", positive=True)
NGw = [W[i] / cw if i in Kw else sp.Integer(0) for i in range(4)]
dot = sum(dl[i] * Nw[i] for i in range(4))
for j in range(4):
    vjp = sum(dl[i] * sp.diff(Nw[i], W[j]) for i in range(4))
    want = (dl[j] - dot) / Zw if j in Kw else 0
    step(f"5.3 NORM backward: dL/dw_{j} = [j in K](d_j - sum_u d_u w'_u)/Z", vjp, want)
for j in range(4):
    vjp = sum(dl[i] * sp.diff(NGw[i], W[j]) for i in range(4)).subs(cw, Zw)
    want = dl[j] / Zw if j in Kw else 0
    step(f"5.4 NoGrad backward = derivative with Z frozen: dL/dw_{j} = [j in K] d_j / Z", vjp, want)

# ---- 6. Theorem 4 (Eq. 8) ---------------------------------------------------
step("6.1 J^NG_um = -e_u e_m/(S S_K) = -w'_u w_m (< 0: positive factors)", -eu * em / (S * SK), -wp_u * w_m)
o = sp.Symbol("o", positive=True)      # the rest of S_M besides e_m
J_ng_uu_m = eu * (SK + em + o - eu) / ((SK + em + o) * SK)
step("6.2 J^NG_uu depends on g_m: dJ^NG_uu/dg_m = e_m e_u^2/(S^2 S_K) (> 0)",
     em * sp.diff(J_ng_uu_m, em), em * eu ** 2 / ((SK + em + o) ** 2 * SK))

# ---- 7. NoGrad's backward is not the derivative of its forward -------------
step("7.1 J^NG - J^(true, = J^DK) on kept u: w_M w'_u^2 (zero iff M empty)", J_ng_uu - J_dk_uu, wM * wp_u ** 2)

# ---- 8. the -1e12 form and the all-masked row ------------------------------
t = sp.Symbol("t", positive=True)      # t = exp(-1e12), a common factor on every entry
step("8.1 all-masked row, finite form: softmax(g - C) = softmax(g) (common factor t = e^-C)",
     e[0] * t / sum(x * t for x in e), e[0] / sum(e))
step("8.2 one masked key, finite form: w'_u = e_u/(S_K + t e_m) -> e_u/S_K as t -> 0",
     sp.limit(eu / (SK + t * em), t, 0), wp_u)

# ---- 9. the printed forms (errata) ------------------------------------------
# Eq. 6 / Eq. 13 line 1 divide by sum_{i=0}^{l-1} w_i, which is 1.
step("9.1 Eq. 6 printed: sum over ALL i of w_i = 1", (eu + R + SM) / S, 1)
step("9.2 Eq. 6 printed: w_u / sum_all w_i is w_u, not DropKey's w'_u", w_u / ((eu + R + SM) / S), wp_u,
     equal=False)
step("9.3 Eq. 13 line 1->2 printed: sum_all w_i = 1 - w_m", (eu + R + SM) / S, 1 - wM, equal=False)
# Two masked keys m1, m2: sum_{i != m} (m = m1) still contains e_m2.
em1, em2 = sp.symbols("e_m1 e_m2", positive=True)
SK2, S2 = eu + R, eu + R + em1 + em2
Sne = S2 - em1
step("9.4 Eq. 13 line 4 printed (|M|=2): e_u/(S - e_m) vs e_u/S_K", eu / Sne, eu / SK2, equal=False)
step("9.5 Eq. 7 printed (|M|=2)", eu * (Sne - eu) / Sne ** 2, eu * (SK2 - eu) / SK2 ** 2, equal=False)
step("9.6 Eq. 8 printed (|M|=2)", -eu * em1 / (S2 * Sne), -eu * em1 / (S2 * SK2), equal=False)
step("9.7 Eq. 9 printed (|M|=2)", eu * (S2 - eu) / (S2 * Sne), eu * (S2 - eu) / (S2 * SK2), equal=False)
step("9.8 Eq. 10 printed k (|M|=2)", (1 - eu / Sne) / (1 - eu / S2), (1 - eu / SK2) / (1 - eu / S2), equal=False)
step("9.9 Eq. 7-10 printed = general at |M| = 1 (em2 = 0)", ((1 - eu / Sne) / (1 - eu / S2)).subs(em2, 0),
     ((1 - eu / SK2) / (1 - eu / S2)).subs(em2, 0))
p = sp.Symbol("p", positive=True)
step("9.10 Eq. 1 printed: m ~ Bernoulli(p) multiplies w: P(kept) = p, not 1 - p", p, 1 - p, equal=False)

print(f"check_dropkey_dropattention: {count} steps, {fails} failed")
if fails:
    print(f"check_dropkey_dropattention: {fails} step(s) FAILED")
    sys.exit(1)
print("check_dropkey_dropattention: all steps hold")
