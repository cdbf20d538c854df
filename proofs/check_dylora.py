#!/usr/bin/env python3
"""Symbolic check of proofs/dylora.md, step by step (same order)."""
import sys
import sympy as sp

fails = 0


def step(name, lhs, rhs):
    global fails
    d = sp.simplify(sp.expand(lhs - rhs)) if not isinstance(lhs, sp.MatrixBase) else sp.simplify(lhs - rhs)
    ok = d == 0 if not isinstance(d, sp.MatrixBase) else d.is_zero_matrix
    print(("ok   " if ok else "FAIL ") + name)
    if not ok:
        fails += 1


alpha, r, b = sp.symbols("alpha r b", positive=True)
m, d_, R, bb, N = 3, 4, 3, 2, 2  # small concrete shapes for the matrix identities
A = sp.Matrix(R, d_, lambda i, j: sp.Symbol(f"a{i}{j}"))
B = sp.Matrix(m, R, lambda i, j: sp.Symbol(f"B{i}{j}"))
X = sp.Matrix(N, d_, lambda i, j: sp.Symbol(f"x{i}{j}"))
Ab, Bb = A[:bb, :], B[:, :bb]

# 1. scale
step("1 official sqrt(r/b) on both factors == alpha/b",
     alpha / r * sp.sqrt(r / b) * sp.sqrt(r / b), alpha / b)
step("1 at b = r: alpha/b == alpha/r", (alpha / b).subs(b, r), alpha / r)

# 2. truncated gradients, via the differential of L = sum(G o Y) with G constant
G = sp.Matrix(N, m, lambda i, j: sp.Symbol(f"g{i}{j}"))
s = alpha / bb
Y = s * X * Ab.T * Bb.T
L = sum(G[i, j] * Y[i, j] for i in range(N) for j in range(m))
dB = sp.Matrix(m, R, lambda i, k: sp.diff(L, B[i, k]))
dA = sp.Matrix(R, d_, lambda k, j: sp.diff(L, A[k, j]))
step("2 dL/dB_b == (alpha/b) G^T (X A_b^T)", dB[:, :bb], s * G.T * (X * Ab.T))
step("2 dL/dA_b == (alpha/b) B_b^T G^T X", dA[:bb, :], s * Bb.T * G.T * X)
step("2 dL/dB[:, b:] == 0", dB[:, bb:], sp.zeros(m, R - bb))
step("2 dL/dA[b:, :] == 0", dA[bb:, :], sp.zeros(R - bb, d_))

# 3. MSE gradient
y, t = sp.symbols("y t")
step("3 d/dy (y - t)^2 / N == 2 (y - t) / N", sp.diff((y - t) ** 2 / N, y), 2 * (y - t) / N)

# 4. nested loss linearity
p1, p2, l1, l2, w = sp.symbols("p1 p2 l1 l2 w")
L1, L2 = sp.Function("L1")(w), sp.Function("L2")(w)
step("4 grad sum_b p_b L_b == sum_b p_b grad L_b",
     sp.diff(p1 * L1 + p2 * L2, w), p1 * sp.diff(L1, w) + p2 * sp.diff(L2, w))

# 5. rank-1 updates
S = sp.zeros(N, m)
for k in range(bb):
    S = S + (X * A[k, :].T) * B[:, k].T
step("5 sum_{k<=b} (X a_k^T) beta_k^T == X A_b^T B_b^T", S, X * Ab.T * Bb.T)

# 6. truncated geometric
q = sp.symbols("q", positive=True)
n, k = sp.symbols("n k", integer=True, positive=True)
step("6 sum_{k<n} q (1-q)^k == 1 - (1-q)^n",
     sp.summation(q * (1 - q) ** k, (k, 0, n - 1)).simplify(), 1 - (1 - q) ** n)
u, Z = sp.symbols("u Z", positive=True)
# u Z < 1 - (1-q)^(k+1)  <=>  (k+1) log(1-q) < log(1 - uZ): take logs of (1-q)^(k+1) < 1 - uZ
step("6 log((1-q)^(k+1)) == (k+1) log(1-q)",
     sp.expand_log(sp.log((1 - q) ** (k + 1)), force=True), (k + 1) * sp.log(1 - q))

# 7. ordered adapter: coefficient of the kept components and the squared Frobenius norm
rr, bq = 4, 2
c = sp.symbols("c1:5", positive=True)
coef_kept = alpha / bq - alpha / rr
step("7 alpha/b - alpha/r == (r/b - 1) alpha/r", coef_kept, (sp.Rational(rr, bq) - 1) * alpha / rr)
# orthonormal u_k, v_k: take the standard basis (the norm is invariant under Q's)
D = sp.zeros(rr, rr)
for kk in range(rr):
    D[kk, kk] = (alpha / bq if kk < bq else 0) * c[kk] - alpha / rr * c[kk]
fro2 = sum(D[i, j] ** 2 for i in range(rr) for j in range(rr))
want = sum(((sp.Rational(rr, bq) - 1) * alpha / rr * c[kk]) ** 2 for kk in range(bq)) + \
    sum((alpha / rr * c[kk]) ** 2 for kk in range(bq, rr))
step("7 ||dW_b - dW||_F^2 == kept (r/b-1)^2 terms + dropped terms", fro2, want)

if fails:
    print(f"check_dylora: {fails} step(s) FAILED")
    sys.exit(1)
print("check_dylora: all steps hold")
