#!/usr/bin/python3
"""hkref -- `make bench`: the PyTorch CPU counterpart of build/bench_fast.

The same model and step as experiments/bench/bench_fast.c: B=32, T=64, C=128, NH=4,
F=512, 2 post-LN blocks (erf GELU), LoRA r=8 alpha=16 on k and v (frozen base
weights), first-token pooling, linear head (K=2, trained), f32.  One step =
mask sampling (torch.rand) + forward pass(es) + loss + backward; no
optimizer.  Presets (ref/framework.c):
  hiddenkey-  column DropKey (p 0.1, -inf on dropped keys, no rescale) +
              element HiddenCut on the FFN output (p 0.1, 1/(1-p)), one pass, CE
  hiddenkey   the same, two passes, CE on pass 1 + bidirectional KL between
              the passes' logits with pass 2 detached (HK Fig. 3: pass 2 is
              run under torch.no_grad, so it builds no graph; its last block
              computes only the pooled first token, and block 0 reuses pass
              1's Q, K, V, as the fast path's pass 2 does)
Prints `torch_step_ms[PRESET] X` (wall) and `torch_step_cpu_ms[PRESET] X` (process CPU
time, all threads) lines: best of --steps, after 3 warm-up steps.
"""
import argparse
import math
import os
import sys
import time

import torch
import torch.nn.functional as Fn

B, T, C, NH, FF, L, R, ALPHA, K = 32, 64, 128, 4, 512, 2, 8, 16.0, 2
D = C // NH


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.q, self.k, self.v, self.o = (torch.nn.Linear(C, C) for _ in range(4))
        self.ln1, self.ln2 = torch.nn.LayerNorm(C, eps=1e-5), torch.nn.LayerNorm(C, eps=1e-5)
        self.w1, self.w2 = torch.nn.Linear(C, FF), torch.nn.Linear(FF, C)
        for p in self.parameters():
            p.requires_grad_(False)
        self.Ak = torch.nn.Parameter(torch.empty(R, C).uniform_(-C ** -0.5, C ** -0.5))
        self.Av = torch.nn.Parameter(torch.empty(R, C).uniform_(-C ** -0.5, C ** -0.5))
        self.Bk = torch.nn.Parameter(torch.empty(C, R).uniform_(-0.01, 0.01))
        self.Bv = torch.nn.Parameter(torch.empty(C, R).uniform_(-0.01, 0.01))

    def forward(self, x, dk_p, hc_p, pooled=False, qkv=None):
        """pooled: only the first token's output (the last block of a no-grad
        pass, as the fast path's hk_fast_enc_infer_pooled: K, V for every token,
        the rest for token 0).  qkv: this block's projections from an earlier
        pass on the same input (the fast path's pass-2 reuse in block 0);
        the ones computed are kept in self.qkv."""
        s = ALPHA / R
        if qkv is None:
            k = self.k(x) + s * (x @ self.Ak.t()) @ self.Bk.t()
            v = self.v(x) + s * (x @ self.Av.t()) @ self.Bv.t()
        else:
            k, v = qkv[1], qkv[2]
        if pooled:
            x = x[:, :1, :]
        TQ = x.shape[1]
        q = self.q(x) if qkv is None else qkv[0]
        self.qkv = (q, k, v)
        q = q.view(B, TQ, NH, D).transpose(1, 2)
        k, v = (t.view(B, T, NH, D).transpose(1, 2) for t in (k, v))
        g = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        if dk_p > 0:  # column DropKey: one mask per (b, h, key), -inf; rows never all dropped at p = 0.1 w.h.p.
            m = torch.rand(B, NH, 1, T) < dk_p
            g = g.masked_fill(m, float("-inf"))
        w = torch.softmax(g, dim=-1)
        a = self.o((w @ v).transpose(1, 2).reshape(B, TQ, C))
        x1 = self.ln1(x + a)
        h = self.w2(Fn.gelu(self.w1(x1)))
        if hc_p > 0:  # element HiddenCut, inverted
            h = h * (torch.rand(B, TQ, C) >= hc_p) / (1 - hc_p)
        return self.ln2(x1 + h)


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = torch.nn.ModuleList(Block() for _ in range(L))
        self.head = torch.nn.Linear(C, K)

    def forward(self, x, dk_p, hc_p, pooled=False, qkv0=None):
        for i, b in enumerate(self.blocks):
            x = b(x, dk_p, hc_p, pooled and i == L - 1, qkv0 if i == 0 else None)
        return self.head(x[:, 0, :])


def step(model, x, y, preset):
    model.zero_grad(set_to_none=True)
    z1 = model(x, 0.1, 0.1)
    loss = Fn.cross_entropy(z1, y)
    if preset == "hiddenkey":
        with torch.no_grad():  # block 0's Q, K, V are pass 1's (same input, same weights, no LoRA dropout)
            z2 = model(x, 0.1, 0.1, pooled=True, qkv0=tuple(t.detach() for t in model.blocks[0].qkv))
        l1, l2 = Fn.log_softmax(z1, -1), Fn.log_softmax(z2, -1)
        kl = 0.5 * (Fn.kl_div(l2, l1, log_target=True, reduction="batchmean")
                    + Fn.kl_div(l1, l2, log_target=True, reduction="batchmean"))
        loss = loss + kl
    loss.backward()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--preset", action="append")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = Model()
    x = torch.rand(B, T, C) * 2 - 1
    y = torch.arange(B) % 2
    print("torch_version %s" % torch.__version__)
    print("torch_threads %d" % torch.get_num_threads())
    for k in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "GLIBC_TUNABLES"):
        print("env_%s %s" % (k, os.environ.get(k, "(unset)")))
    for preset in a.preset or ["hiddenkey-", "hiddenkey"]:
        best = cbest = 1e30
        for it in range(-3, a.steps):
            t0, c0 = time.perf_counter(), time.process_time()
            step(model, x, y, preset)
            t, c = time.perf_counter() - t0, time.process_time() - c0
            if it >= 0:
                best, cbest = min(best, t), min(cbest, c)
        print("torch_step_cpu_ms[%s] %.3f" % (preset, cbest * 1e3))
        print("torch_step_ms[%s] %.3f" % (preset, best * 1e3))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
