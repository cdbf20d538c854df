#!/usr/bin/env python3
"""Symbolic check of proofs/consistency.md, step by step (same order)."""
import sys
import sympy as sp

fails = 0


def step(name, lhs, rhs):
    global fails
    d = sp.simplify(sp.expand(lhs - rhs))
    ok = d == 0
    print(("ok   " if ok else "FAIL ") + name)
    if not ok:
        fails += 1


a, b = sp.symbols("a b", real=True)
p, q = sp.exp(a), sp.exp(b)
m = (p + q) / 2
ell = sp.log(m)

# 1. bidirectional KL term
klb = sp.Rational(1, 2) * (p * (a - b) + q * (b - a))
step("1 1/2[p(a-b)+q(b-a)] == 1/2 (p-q)(a-b)", klb, sp.Rational(1, 2) * (p - q) * (a - b))
step("1 swapping the passes leaves the term unchanged", klb.subs({a: b, b: a}, simultaneous=True), klb)

# 2. gradients w.r.t. the log-probs
step("2 kl_bidir d/da", sp.diff(klb, a), sp.Rational(1, 2) * (p * (a - b) + p - q))
eq12 = p * (a - b)
step("2 eq12 d/da", sp.diff(eq12, a), p * (a - b) + p)
step("2 eq12 d/db", sp.diff(eq12, b), -p)
jst = sp.Rational(1, 2) * (p * (a - ell) + q * (b - ell))
step("2 textbook JS d/da == 1/2 p (a - l)", sp.diff(jst, a), sp.Rational(1, 2) * p * (a - ell))
jsm = sp.Rational(1, 2) * m * (2 * ell - a - b)
step("2 mixture JS d/da", sp.diff(jsm, a),
     sp.Rational(1, 2) * (sp.Rational(1, 2) * p * (2 * ell - a - b) + p - m))
step("2 mixture JS == 1/2[KL(M||P1) + KL(M||P2)] per term", jsm,
     sp.Rational(1, 2) * (m * (ell - a) + m * (ell - b)))

# 3. log-softmax pull-back on three classes
z = sp.symbols("z0:3", real=True)
g = sp.symbols("g0:3", real=True)
lse = sp.log(sum(sp.exp(zi) for zi in z))
A = [zi - lse for zi in z]
P = [sp.exp(zi) / sum(sp.exp(zj) for zj in z) for zi in z]
for c in range(3):
    chain = sum(g[k] * sp.diff(A[k], z[c]) for k in range(3))
    step(f"3 dL/dz{c} == g{c} - p{c} sum g", chain, g[c] - P[c] * sum(g))

# 4. stable log-mixture (a >= b: a = b + d, d >= 0)
d = sp.symbols("d", nonnegative=True)
step("4 log(1/2(e^a+e^b)) == a + log1p(e^-(a-b)) - ln 2",
     sp.expand_log(sp.log((sp.exp(b + d) + sp.exp(b)) / 2), force=True),
     sp.expand_log((b + d) + sp.log(1 + sp.exp(-d)) - sp.log(2), force=True))

# 5. JS <= ln 2, per class
P_, Q_ = sp.symbols("P Q", positive=True)
step("5 p ln2 - p log(2p/(p+q)) == p log((p+q)/p)",
     sp.expand_log(P_ * sp.log(2) - P_ * sp.log(2 * P_ / (P_ + Q_)), force=True),
     sp.expand_log(P_ * sp.log((P_ + Q_) / P_), force=True))

# 6. two classes at gap G
G = sp.symbols("G", positive=True)
z1 = (G / 2, -G / 2)
z2 = (-G / 2, G / 2)
l1 = sp.log(sp.exp(z1[0]) + sp.exp(z1[1]))
l2 = sp.log(sp.exp(z2[0]) + sp.exp(z2[1]))
a1 = [zi - l1 for zi in z1]
b1 = [zi - l2 for zi in z2]
kl12 = sum(sp.exp(a1[k]) * (a1[k] - b1[k]) for k in range(2))
step("6 KL(P1||P2) == G tanh(G/2)", sp.simplify(kl12.rewrite(sp.exp)), sp.simplify((G * sp.tanh(G / 2)).rewrite(sp.exp)))

print(f"{'FAILED' if fails else 'all'}: consistency proof steps ({fails} failing)")
sys.exit(1 if fails else 0)
