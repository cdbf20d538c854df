#!/usr/bin/python3
"""hkref example backend: every golden op in idiomatic PyTorch autograd.

Written from golden/README.md (not from the C reference).  Each op is a
function f(t, cfg, bug) registered on a hkharness.Backend (examples/hkharness/):
the harness reads every golden case golden/<op>/<case>.safetensors, hands the
inputs, parameters and masks to the op (masks are read, never sampled), runs
L = sum over outputs of <out.y, in.d_y> backward, and writes
OUT/<case>.safetensors holding out.* and grad.* (same names as the golden
file).  Then `hkref golden check --outputs OUT --dtype f64|f32` compares
(--check runs it).

    /usr/bin/python3 examples/torch_backend.py --golden golden --out build/torch --dtype f64,f32
        -> build/torch/f64/*.safetensors, build/torch/f32/*.safetensors
    ... --check      then run the checker on each dtype (exit status: the checker's)
    ... --bug NAME   a deliberately wrong variant (to show the checker catches it),
                     written to OUT/bug-NAME/ in F64 (--bug-dtype f32: F32); --bug all runs every one.
    ... --impl sequential  every matmul and softmax sum by recursive summation (no FMA), the
                     worst summation order a library uses; OUT/sequential-<dtype>/.
    ... --impl tiled the way fused kernels compute attention, on the same math: a
                     flash-style online softmax over key tiles of --tile keys (64) for
                     DropKey and plain attention, a key-sharded softmax and DropAttention
                     (each shard of --tile keys holds its keys; max, sum and Z are
                     combined across shards); written to OUT/tiled-<dtype>/.  Its wrong
                     variants (tiled_*, sharded_*) differ from it only at tile edges.

Only numpy and torch (Debian python3-numpy, python3-torch).  As a pytest gate:
examples/test_backends.py (`pytest examples/`).
"""
import argparse
import contextlib
import functools
import math
import os
import shutil
import sys

import torch
import torch.nn.functional as F

import hkharness as hk

# ---------------------------------------------------------------- ops
# Each op: f(t, cfg, bug) -> dict of outputs "out.<name>" -> tensor.
# t maps every tensor of the case (without the role prefix for in./param.,
# with it for mask.*) to a torch tensor; float inputs require grad.

OPS = {}


def op(name):
    def reg(f):
        OPS[name] = f
        return f
    return reg


# ---------------------------------------------------------------- summation orders
# IMPL["name"]: "reference" (PyTorch's own kernels: blocked BLAS matmuls, vectorised softmax sums), "tiled"
# (below: flash-style / key-sharded attention) or "sequential": every matmul and softmax sum by recursive
# summation in index order, one rounding per multiply and per add (no FMA), forward and backward -- the
# worst-case order a real library uses, for measuring the tolerance model (not fast).
IMPL = {"name": "reference", "tile": 64, "dtype": None}  # set by main(): --impl, --tile; a tiled_* / sharded_* bug implies tiled


def _seq_mm(a, b):
    """a (..., n, k) @ b (..., k, m) by recursive summation over k."""
    acc = a[..., :, 0:1] * b[..., 0:1, :]
    for j in range(1, a.shape[-1]):
        acc = acc + a[..., :, j:j + 1] * b[..., j:j + 1, :]
    return acc


class SeqMatmul(torch.autograd.Function):
    """a @ b with sequential sums; the backward's products (g b^T, a^T g) sequential too."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _seq_mm(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return _seq_mm(g, b.transpose(-1, -2)), _seq_mm(a.transpose(-1, -2), g)


def _seq_sum(x):
    """sum over the last axis by recursive summation, keepdim."""
    s = x[..., 0:1]
    for j in range(1, x.shape[-1]):
        s = s + x[..., j:j + 1]
    return s


class SeqSoftmax(torch.autograd.Function):
    """softmax over the last axis from the true row max, the row sum sequential; backward
    dx = y (dy - sum dy y) with that sum sequential."""

    @staticmethod
    def forward(ctx, x):
        m = x.amax(-1, keepdim=True)
        e = torch.exp(x - torch.where(m == -math.inf, torch.zeros_like(m), m))
        y = e / _seq_sum(e)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved_tensors
        return y * (dy - _seq_sum(dy * y))


def seq():
    return IMPL["name"] == "sequential"


# ---------------------------------------------------------------- low-precision storage (bf16, f16)
# --dtype bf16: the op functions run on bfloat16 tensors (CPU torch 1.13 has bf16 kernels for every op used
# here, accumulating in f32); each torch op rounds its output to bf16 once.  One exception, by the tiers'
# model (golden/README.md, "Low-precision tiers": LayerNorm statistics in f32): CPU torch's native bf16
# layer_norm loses ~3 % on rows with a large mean (layernorm_offset6: the centred value is formed in bf16),
# so layer_norm runs in f32 and rounds its output once; the native kernel is the --bug bf16_native_layernorm.

# --dtype f16: CPU torch 1.13 has no Half kernels for matmul (addmm), softmax, log_softmax, layer_norm, gelu,
# erf, exp, tanh, logaddexp (measured: "not implemented for 'Half'"), so f16 storage is emulated: the op
# functions get float16 tensors, and every torch function called on them (forward, and through the recorded
# casts the backward too) computes in f32 on the f16 values and rounds its result to f16 once -- the tiers'
# model of an fp16 kernel (f16 storage, f32 accumulation).

def _up(x):
    if isinstance(x, torch.Tensor) and x.dtype == torch.float16:
        return x.float()
    if isinstance(x, (list, tuple)):
        return type(x)(_up(v) for v in x)
    return x


def _down(y):
    if isinstance(y, torch.Tensor) and y.dtype == torch.float32:
        return y.half()
    if isinstance(y, tuple):
        return tuple(_down(v) for v in y)
    return y


class F16Storage(torch.overrides.TorchFunctionMode):
    """Every torch function: f16 arguments widened to f32, f32 results rounded to f16 (see above).  Attribute
    reads (.grad, .dtype, .shape) pass through unchanged: a widened copy has no .grad."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") == "__get__":
            return func(*args, **(kwargs or {}))
        return _down(func(*_up(args), **{k: _up(v) for k, v in (kwargs or {}).items()}))


def storage_context(dtype):
    return F16Storage() if dtype == "f16" else contextlib.nullcontext()


def layer_norm(x, shape, w, b, eps, bug=None):
    low = x.dtype in (torch.bfloat16, torch.float16)
    if not low or bug == "bf16_native_layernorm":
        return F.layer_norm(x, shape, w, b, eps)
    return F.layer_norm(x.float(), shape, w.float(), b.float(), eps).to(x.dtype)


# ---------------------------------------------------------------- TF32-like matmuls
# IMPL["dtype"] == "tf32": f32 tensors, but every matmul (forward and backward) rounds both operands to TF32
# (10 stored mantissa bits, round to nearest even) and accumulates in f32, as an Ampere tensor core with
# allow_tf32 does.  CPU torch has no TF32: emulated by rounding the f32 operands' bits.

def tf32():
    return IMPL.get("dtype") == "tf32"


def tf32_round(x):
    """x (float32) rounded to the nearest TF32 value (ties to even): the low 13 mantissa bits cleared."""
    i = x.detach().contiguous().view(torch.int32)
    lsb = (i >> 13) & 1
    r = ((i + 0xFFF + lsb) & ~0x1FFF).view(torch.float32)
    return torch.where(torch.isfinite(x.detach()), r, x.detach())


class TF32Matmul(torch.autograd.Function):
    """a @ b with TF32 operands; the backward's products (g b^T, a^T g) likewise."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return tf32_round(a) @ tf32_round(b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        g = tf32_round(g)
        return g @ tf32_round(b).transpose(-1, -2), tf32_round(a).transpose(-1, -2) @ g


def lin(x, w, b=None):
    """x @ w.T + b; sequential: over the flattened rows (so dW sums the tokens in order)."""
    if tf32() and not seq():
        y = TF32Matmul.apply(x, w.t())
        return y if b is None else y + b
    if not seq():
        return F.linear(x, w, b)
    y = SeqMatmul.apply(x.reshape(-1, x.shape[-1]), w.t()).reshape(x.shape[:-1] + (w.shape[0],))
    return y if b is None else y + b


def mm(a, b):
    if tf32() and not seq():
        return TF32Matmul.apply(a, b)
    return SeqMatmul.apply(a, b) if seq() else a @ b


def smax(x):
    return SeqSoftmax.apply(x) if seq() else torch.softmax(x, -1)


@op("softmax")
def op_softmax(t, cfg, bug):
    x = t["x"]
    if bug == "softmax_no_max_shift":  # naive exp overflows for large logits
        e = torch.exp(x)
        return {"y": e / e.sum(-1, keepdim=True)}
    return {"y": smax(x)}


@op("logsoftmax")
def op_logsoftmax(t, cfg, bug):
    return {"y": torch.log_softmax(t["x"], dim=-1)}


@op("linear")
def op_linear(t, cfg, bug):
    return {"y": lin(t["x"], t["weight"], t.get("bias"))}


def dropout_with(x, mask, p):
    """Inverted dropout with a given mask (1 = dropped): x * (1 - mask) / (1 - p)."""
    if p == 0:
        return x
    return x.masked_fill(mask, 0.0) * (1.0 / (1.0 - p))


@op("lora")
def op_lora(t, cfg, bug):
    x, p = t["x"], cfg["p"]
    rslora = cfg.get("scaling", "standard") == "rslora"  # peft use_rslora: alpha / sqrt(r)
    if bug == "lora_rslora_ignored":
        rslora = False
    if bug == "lora_rslora_always":
        rslora = True
    scale = cfg["alpha"] / (math.sqrt(cfg["r"]) if rslora else cfg["r"])
    if bug == "lora_scale_alpha":
        scale = cfg["alpha"]
    xd = dropout_with(x, t["mask.x"], p)
    if tiled() and p == 0:  # merged inference weights (loralib eval(), peft merge()): W0 + scale B A, one matmul
        return {"y": lin(x, t["weight"] + scale * (t["lora_B"] @ t["lora_A"]), t.get("bias"))}
    base = lin(xd if bug == "lora_dropout_on_base" else x, t["weight"], t.get("bias"))
    return {"y": base + scale * lin(lin(xd, t["lora_A"]), t["lora_B"])}


def consistency_rows(z1, z2, kind, bug):
    """Per-row consistency loss between two passes (golden/README.md, consistency)."""
    if kind == "mse":
        return ((z1 - z2) ** 2).sum(-1)
    a, b = torch.log_softmax(z1, -1), torch.log_softmax(z2, -1)

    def kl(la, lb):  # KL(P_a || P_b) per row, from log-probabilities
        return (la.exp() * (la - lb)).sum(-1)

    lm = torch.logaddexp(a, b) - math.log(2.0)  # log of the mixture M = (P1 + P2) / 2
    if kind == "kl_bidir":
        return 0.5 * (kl(a, b) + kl(b, a))
    if kind == "js_eq12":
        return kl(b, a) if bug == "kl_direction_swapped" else kl(a, b)
    if kind == "js_mixture" and bug == "js_naive_mixture":  # log of M itself: log 0 = -inf where P1, P2 underflow
        lm = torch.log((a.exp() + b.exp()) / 2)
    if kind == "js_mixture":
        if bug == "js_div_official":  # HiddenCut's js_div: from probabilities, F.kl_div(p.log(), m): 0 log 0 = NaN
            p, q = a.exp(), b.exp()
            m = 0.5 * (p + q)
            return 0.5 * ((m * (m.log() - p.log())).sum(-1) + (m * (m.log() - q.log())).sum(-1))
        return 0.5 * (kl(lm, a) + kl(lm, b))
    if kind == "js_textbook":
        return 0.5 * (kl(a, lm) + kl(b, lm))
    raise KeyError(f"consistency kind '{kind}' unknown")


@op("consistency")
def op_consistency(t, cfg, bug):
    CLASSES[0] = t["z1"].shape[-1]
    rows = consistency_rows(t["z1"], t["z2"], cfg["kind"], bug)
    return {"loss": reduce_rows(rows, cfg["reduction"], bug)}


def reduce_rows(rows, reduction, bug):
    """mean = sum / N (PyTorch's batchmean).  Wrong variants: R-Drop's compute_kl_loss sums; kl_div's
    reduction='mean' divides by N * C (the per-row losses spread over C classes)."""
    if reduction == "sum" or bug == "rdrop_sum_reduction":
        return rows.sum()
    if bug == "kl_div_mean_over_nc":
        return rows.sum() / (rows.shape[0] * CLASSES[0])
    return rows.mean()


CLASSES = [1]  # the class count of the rows being reduced (set by the callers for kl_div_mean_over_nc)


@op("framework_loss")
def op_framework_loss(t, cfg, bug):
    reg = cfg["task"] == "regression"

    def task(o):
        return ((o[:, 0] - t["targets"]) ** 2).mean() if reg else F.cross_entropy(o, t["labels"])

    res = {"task": task(t["out1"])}
    a, b = (t["rep1"], t["rep2"]) if reg else (t["out1"], t.get("out2"))
    return two_pass_loss(res, task, t.get("out2"), a, b, cfg, bug)


def two_pass_loss(res, task, out2, a, b, cfg, bug):
    """total = task + weight * consistency(a, b) (golden/README.md, framework_loss): task_both 0 pass 1 only,
    1 the mean of both passes' task losses, 2 their sum (HiddenCut's official CE1 + CE2)."""
    total = res["task"]
    if cfg["passes"] == 2:
        tb = cfg["task_both"]
        if bug == "task_both_sum_as_mean" and tb == 2:
            tb = 1
        if bug == "train_task_on_both_passes" and tb == 0:
            tb = 1
        if tb == 1:
            res["task"] = total = 0.5 * (total + task(out2))
        elif tb == 2:
            res["task"] = total = total + task(out2)
        if cfg["detach_second"] and bug != "framework_detach_missing":
            b = b.detach()  # pass 2 is a constant in the consistency loss
        CLASSES[0] = a.shape[-1]
        res["consistency"] = reduce_rows(consistency_rows(a, b, cfg["loss"], bug), "mean", bug)
        if bug != "consistency_term_dropped":
            total = total + cfg["weight"] * res["consistency"]
    res["total"] = total
    return res


@op("hiddencut")
def op_hiddencut(t, cfg, bug):
    keep = ~t["mask.h"]
    if bug == "mask_sign_flipped":  # keeps the dropped elements instead
        keep = t["mask.h"]
    return {"y": t["h"] * keep * cfg["scale"]}


@op("layernorm")
def op_layernorm(t, cfg, bug):
    x = t["x"]
    if bug == "layernorm_unbiased_var":  # torch.var's default (N - 1) denominator
        y = (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + cfg["eps"])
        return {"y": y * t["weight"] + t["bias"]}
    return {"y": layer_norm(x, x.shape[-1:], t["weight"], t["bias"], cfg["eps"], bug)}


@op("gelu")
def op_gelu(t, cfg, bug):
    kind = cfg["kind"]
    if bug == "gelu_tanh_for_erf":
        kind = "tanh"
    return {"y": F.gelu(t["x"], approximate="tanh" if kind == "tanh" else "none")}


@op("crossentropy")
def op_crossentropy(t, cfg, bug):
    red = "sum" if bug == "crossentropy_sum_not_mean" else cfg["reduction"]
    return {"loss": F.cross_entropy(t["logits"], t["labels"], reduction=red)}


def attn_masks(t, bug):
    """(dropped, padded, all-masked rows) for (B,NH,T,T) attention masks."""
    drop = t["mask.att"]
    if bug == "dropkey_mask_sign_flipped":
        drop = ~drop
    pad = t["mask.pad"][:, None, None, :].expand_as(drop)
    kept = ~drop & ~pad
    allm = ~kept.any(-1, keepdim=True)  # rows where every real key is dropped
    return drop & ~pad, pad, allm


def tiled():
    return IMPL["name"] == "tiled"


def tile_mask(mask, lo, hi, bug):
    """Columns lo..hi-1 of a (..., T) dropout mask: key tile [lo, hi).  The tile-offset bug reads the
    columns at the tile-local offset, 0..hi-lo-1, for every tile (right for tile 0 only)."""
    if bug == "tiled_mask_tile_offset":
        return mask[..., 0:hi - lo]
    return mask[..., lo:hi]


def guard(m, bug):
    """The running max as the exponent's shift: -inf (no finite logit seen yet in this row) becomes 0, so
    exp(-inf - shift) = 0 instead of exp(-inf - -inf) = NaN.  The no-guard bug uses m as is."""
    if bug == "tiled_no_neginf_guard":
        return m
    return torch.where(m == -math.inf, torch.zeros_like(m), m)


def tiled_masked_softmax(g, drop, bug):
    """softmax(g with dropped keys at -inf) over the last axis in key tiles of IMPL["tile"]: one online pass
    (running max m, running sum l, rescaled by exp(m_old - m_new) per tile), then w = exp(g - m) / l per tile.
    drop: bool, same shape, True = -inf (padded keys are already -inf in g)."""
    T, b = g.shape[-1], IMPL["tile"]
    m = torch.full(g.shape[:-1] + (1,), -math.inf, dtype=g.dtype)
    l = torch.zeros(g.shape[:-1] + (1,), dtype=g.dtype)
    tiles = []
    for lo in range(0, T, b):
        hi = min(lo + b, T)
        s = g[..., lo:hi].masked_fill(tile_mask(drop, lo, hi, bug), -math.inf)
        m_new = torch.maximum(m, s.amax(-1, keepdim=True))
        sh = guard(m_new, bug)
        l = l * torch.exp(m - sh) + torch.exp(s - sh).sum(-1, keepdim=True)
        m = m_new
        tiles.append(s)
    sh = guard(m, bug)
    return torch.cat([torch.exp(s - sh) / l for s in tiles], -1)


def flash_context(q, k, v, scale, pad, drop, bug):
    """Flash-style attention context sum_s w[t,s] v[s] without materialising w: for each key tile, scores,
    padding and the DropKey mask, then the online softmax update (m, l, acc rescaled by exp(m_old - m_new)).
    q, k, v (B,NH,T,D); pad (B,T) bool; drop (B,NH,T,T) bool or None (True = -inf)."""
    T, b = k.shape[-2], IMPL["tile"]
    shape = q.shape[:-1] + (1,)
    m = torch.full(shape, -math.inf, dtype=q.dtype)
    l = torch.zeros(shape, dtype=q.dtype)
    acc = torch.zeros_like(q)
    for lo in range(0, T, b):
        hi = min(lo + b, T)
        s = (q @ k[:, :, lo:hi].transpose(-1, -2)) * scale
        s = s.masked_fill(pad[:, None, None, lo:hi], -math.inf)
        if drop is not None:
            s = s.masked_fill(tile_mask(drop, lo, hi, bug), -math.inf)
        m_new = torch.maximum(m, s.amax(-1, keepdim=True))
        sh = guard(m_new, bug)
        alpha, p = torch.exp(m - sh), torch.exp(s - sh)
        l = alpha * l + p.sum(-1, keepdim=True)
        acc = alpha * acc + p @ v[:, :, lo:hi]
        m = m_new
    return acc / l


def sharded_softmax(g):
    """softmax over the last axis with the keys split into shards of IMPL["tile"] (as on ranks of a
    sequence-parallel group): per-shard max and sum of exponentials, combined (all-reduce) into the row's;
    returns the list of per-shard weights."""
    T, b = g.shape[-1], IMPL["tile"]
    shards = [g[..., lo:min(lo + b, T)] for lo in range(0, T, b)]
    m = torch.stack([x.amax(-1, keepdim=True) for x in shards]).amax(0)  # all-reduce max
    e = [torch.exp(x - m) for x in shards]
    l = sum(x.sum(-1, keepdim=True) for x in e)  # all-reduce sum
    return [x / l for x in e]


def sharded_dropattention(w_shards, t, cfg, bug):
    """DropAttention on key-sharded weights: each shard rescales its own keys; the normalized variants'
    Z = sum of kept weights is the sum over shards of each shard's partial Z (all-reduce).  The sharded_local_z
    bug divides each shard by its own partial Z."""
    drop, pad, allm = attn_masks(t, None)
    keep = (~drop & ~pad).to(w_shards[0].dtype)
    T, b = keep.shape[-1], IMPL["tile"]
    ks = [keep[..., lo:min(lo + b, T)] for lo in range(0, T, b)]
    if cfg["variant"] == "classic":
        out = [w * k / (1.0 - cfg["p"]) for w, k in zip(w_shards, ks)]
    else:
        zl = [(w * k).sum(-1, keepdim=True) for w, k in zip(w_shards, ks)]
        z_all = sum(zl)  # all-reduce sum
        out = []
        for w, k, z in zip(w_shards, ks, zl):
            zz = z if bug == "sharded_local_z" else z_all
            if cfg["variant"] == "norm_nograd":
                zz = zz.detach()  # NoGrad(Z)
            out.append(w * k / torch.where(allm, torch.ones_like(zz), zz))
    w, o = torch.cat(w_shards, -1), torch.cat(out, -1)
    if cfg["allmasked_policy"] == "keep":
        return torch.where(allm, w, o)
    return o.masked_fill(allm, 0.0)


@op("dropkey")
def op_dropkey(t, cfg, bug):
    g = t["g"]  # padded keys already -inf
    drop, pad, allm = attn_masks(t, bug)
    if tiled():
        if cfg["allmasked_policy"] == "keep":  # an all-masked row is left undropped
            return {"w": tiled_masked_softmax(g, drop & ~allm, bug)}
        g2 = torch.where(allm, torch.zeros_like(g), g)
        return {"w": tiled_masked_softmax(g2, drop & ~allm, bug).masked_fill(allm, 0.0)}
    if bug in ("dropkey_finite_1e12", "dropkey_finite_minus_1e-12"):
        # the DropKey paper's snippet: attn + mask * -1e12 before the softmax, every dropped key, no all-masked
        # policy (such a row keeps softmax(g) up to the rounding of g - 1e12); its copies with -1e-12: no dropout
        big = -1e12 if bug == "dropkey_finite_1e12" else -1e-12
        return {"w": smax(g + torch.where(drop, torch.full_like(g, big), torch.zeros_like(g)))}
    if bug == "dropkey_finite_1e12_f16":  # the snippet's g + mask * (-1e12), the constant in the working dtype
        c = torch.tensor(-1e12, dtype=g.dtype)  # fp16: overflows to -inf, and 0 * -inf = NaN at every kept key
        w = smax(g + drop.to(g.dtype) * c)  # f32 / bf16: an all-masked row comes out uniform
        return {"w": w if cfg["allmasked_policy"] == "keep" else w.masked_fill(allm, 0.0)}
    if bug == "dropkey_finite_leak":  # the finite form with -6.9: a dropped key keeps e^-6.9 = 1e-3 of its weight
        g2 = g + torch.where(drop & ~allm, torch.full_like(g, math.log(1e-3)), torch.zeros_like(g))
        return {"w": smax(g2) if cfg["allmasked_policy"] == "keep" else smax(g2).masked_fill(allm, 0.0)}
    if cfg["allmasked_policy"] == "keep":
        g2 = g.masked_fill(drop & ~allm, -math.inf)  # an all-masked row is left undropped
        return {"w": smax(g2)}
    # policy zero: such a row's weights are 0 (softmax on a finite stand-in, then zeroed)
    g2 = torch.where(allm, torch.zeros_like(g), g.masked_fill(drop, -math.inf))
    return {"w": smax(g2).masked_fill(allm, 0.0)}


def dropattention_apply(w, t, cfg, bug):
    """DropAttention on softmax weights w (B,NH,T,T) with t["mask.att"], t["mask.pad"]."""
    drop, pad, allm = attn_masks(t, bug)
    keep = (~drop & ~pad).to(w.dtype)
    if cfg["variant"] == "classic":
        out = w * keep / (1.0 - cfg["p"])
        if bug == "dropattention_head0_no_rescale":  # head 0 misses the 1/(1-p)
            out = torch.cat([out[:, :1] * (1.0 - cfg["p"]), out[:, 1:]], 1)
    else:
        z = _seq_sum(w * keep) if seq() else (w * keep).sum(-1, keepdim=True)
        if cfg["variant"] == "norm_nograd" and bug != "dropattention_nograd_missing":
            z = z.detach()  # NoGrad(Z): a constant in the backward (Eq. 2)
        out = w * keep / torch.where(allm, torch.ones_like(z), z)
    if cfg["allmasked_policy"] == "keep":
        return torch.where(allm, w, out)
    return out.masked_fill(allm, 0.0)


@op("dropattention")
def op_dropattention(t, cfg, bug):
    if tiled():
        return {"w": sharded_dropattention(sharded_softmax(t["g"]), t, cfg, bug)}
    return {"w": dropattention_apply(smax(t["g"]), t, cfg, bug)}


def attn_projection(P, name, u, lora, bug):
    """u @ W.T + b, plus the LoRA term (alpha/r) dropout(u) A.T B.T if projection `name` is adapted.
    lora: {"on": "kv", "alpha", "r", "p", "masks": {name: mask (B,T,C)}}."""
    W = P["W_" + name]
    if bug == "fan_in_fan_out_untransposed":  # a Conv1D-layout (in, out) weight read as nn.Linear's (out, in)
        W = W.t()
    y = lin(u, W, P.get("b_" + name))
    src = name
    if bug == "attention_lora_on_q_not_k" and name in "qk":  # k's adapter applied to q, q left plain
        src = "k" if name == "q" else None
    if src is not None and src in lora["on"]:
        p = 0 if (bug == "lora_o_input_not_dropped" and src == "o") else lora["p"]
        ud = dropout_with(u, lora["masks"].get(src), p)
        y = y + lora["alpha"] / lora["r"] * lin(lin(ud, P["lora_A_" + src]), P["lora_B_" + src])
    return y


def attention(P, x, pad, NH, lora, dk, da, bug):
    """Multi-head self-attention (golden/README.md, attention).  pad (B,T) bool, 1 = padded key;
    dk: DropKey {"mask", "allmasked_policy"} or None; da: DropAttention {"mask", "variant", "p",
    "allmasked_policy"} or None (both may be active: DropKey on the logits, then DropAttention)."""
    B, T, C = x.shape
    D = C // NH

    def heads(u):  # (B,T,C) -> (B,NH,T,D)
        return u.reshape(B, T, NH, D).transpose(1, 2)

    q, k, v = (heads(attn_projection(P, n, x, lora, bug)) for n in "qkv")
    scale = 1.0 / D if bug == "attention_scale_1_over_D" else 1.0 / math.sqrt(D)
    if tiled() and da is None:  # flash-style: the weights are never materialised
        drop = None
        if dk is not None:
            drop, _, allm = attn_masks({"mask.pad": pad, "mask.att": dk["mask"]}, bug)
            drop = drop & ~allm  # an all-masked row: undropped (keep), or zeroed below (zero)
        ctx = flash_context(q, k, v, scale, pad, drop, bug)
        if dk is not None and dk["allmasked_policy"] == "zero":
            ctx = ctx.masked_fill(allm, 0.0)
        return attn_projection(P, "o", ctx.transpose(1, 2).reshape(B, T, C), lora, bug)
    g = mm(q, k.transpose(-1, -2)) * scale
    g = g.masked_fill(pad[:, None, None, :], -math.inf)
    if dk is not None:
        w = op_dropkey({"g": g, "mask.pad": pad, "mask.att": dk["mask"]}, dk, bug)["w"]
    else:
        w = smax(g)
    if da is not None and tiled():  # key-sharded: softmax and DropAttention's Z combined across shards
        g2, allm_dk = g, None
        if dk is not None:  # DropKey on the logits first, as op_dropkey
            drop, _, allm_dk = attn_masks({"mask.pad": pad, "mask.att": dk["mask"]}, bug)
            if dk["allmasked_policy"] == "keep":
                g2 = g.masked_fill(drop & ~allm_dk, -math.inf)
            else:
                g2 = torch.where(allm_dk, torch.zeros_like(g), g.masked_fill(drop, -math.inf))
        w_sh = sharded_softmax(g2)
        if dk is not None and dk["allmasked_policy"] == "zero":
            w_sh = [x.masked_fill(allm_dk, 0.0) for x in w_sh]
        w = sharded_dropattention(w_sh, {"mask.pad": pad, "mask.att": da["mask"]}, da, bug)
    elif da is not None:
        w = dropattention_apply(w, {"mask.pad": pad, "mask.att": da["mask"]}, da, bug)
    ctx = mm(w, v).transpose(1, 2).reshape(B, T, C)
    return attn_projection(P, "o", ctx, lora, bug)


def attn_case_args(t, cfg):
    """(lora, dk, da) of an attention / encoder golden case."""
    lora = {"on": cfg["lora"], "alpha": cfg["alpha"], "r": cfg["r"], "p": cfg["lora_p"],
            "masks": {n: t.get("mask.lora_" + n) for n in "qkvo"}}
    m = {"mask": t.get("mask.att"), "p": cfg.get("attn_p"), "variant": cfg.get("variant"),
         "allmasked_policy": cfg.get("allmasked_policy")}
    return lora, (m if cfg["method"] == "dropkey" else None), (m if cfg["method"] == "dropattention" else None)


@op("attention")
def op_attention(t, cfg, bug):
    lora, dk, da = attn_case_args(t, cfg)
    return {"y": attention(t, t["x"], t["mask.pad"], cfg["NH"], lora, dk, da, bug)}


def encoder_block(P, x, pad, NH, lora, dk, da, hidden, eps, gelu, bug):
    """Post-LN block: x1 = LN1(x + Attn(x)); y = LN2(x1 + HiddenCut(FFN(x1))).
    hidden: {"mask" (B,T,C) bool, "scale"} or None."""
    C = x.shape[-1]
    x1 = layer_norm(x + attention(P, x, pad, NH, lora, dk, da, bug), (C,), P["ln1_weight"], P["ln1_bias"], eps, bug)
    h = lin(F.gelu(lin(x1, P["W1"], P["b1"]), approximate=gelu), P["W2"], P["b2"])
    r2 = x1 + h
    if hidden is not None:
        if bug == "hiddencut_after_residual":  # cuts the residual stream too
            r2 = r2 * ~hidden["mask"] * hidden["scale"]
        else:  # HiddenCut on the FFN output, before residual + LN2
            r2 = x1 + h * ~hidden["mask"] * hidden["scale"]
    return layer_norm(r2, (C,), P["ln2_weight"], P["ln2_bias"], eps, bug)


@op("encoder")
def op_encoder(t, cfg, bug):
    lora, dk, da = attn_case_args(t, cfg)
    hidden = {"mask": t["mask.hidden"], "scale": cfg["hidden_scale"]}
    gelu = "tanh" if cfg["gelu"] == "tanh" else "none"
    return {"y": encoder_block(t, t["x"], t["mask.pad"], cfg["NH"], lora, dk, da, hidden, cfg["ln_eps"], gelu, bug)}


def stack_pass(t, cfg, pas, bug):
    """One forward pass of the train_step stack (golden/README.md, train_step).  pas = 1 or 2;
    a site is active when its rate is > 0 and the pass is not the clean pass 2."""
    clean = pas == 2 and cfg["second_clean"]
    # pass 2 with its own sites (second_sites 1: HiddenCut's official objective): config pass2_<site>_*
    own = pas == 2 and cfg.get("second_sites", 0) and bug != "pass2_sites_ignored"
    pre2 = "pass2_" if own else ""

    def site(pos):
        return cfg[pre2 + pos + "_p"] > 0 and not clean

    def scale(pos):
        if pos == "input" and bug == "cutoff_rescale_ignored":
            return 1.0
        inv = cfg[pre2 + pos + "_rescale"] == "inverted"
        return 1.0 / (1.0 - cfg[pre2 + pos + "_p"]) if inv else 1.0

    def mask(name):
        return t[f"mask.pass{pas}.{name}"]

    x = t["x"]
    B, T, C = x.shape
    if site("input"):  # Cutoff on the embeddings
        x = x * ~mask("input") * scale("input")
    pad = torch.zeros(B, T, dtype=torch.bool)  # no padding in the stack
    gelu = "tanh" if cfg["gelu"] == "tanh" else "none"
    for l in range(cfg["L"]):
        pre = f"l{l}."
        P = {k[len(pre):]: v for k, v in t.items() if k.startswith(pre)}
        lm = mask(pre + "lora") if site("lora") else None  # one mask for every adapted projection
        lora = {"on": cfg["lora"], "alpha": cfg["alpha"], "r": cfg["r"],
                "p": cfg[pre2 + "lora_p"] if site("lora") else 0, "masks": {n: lm for n in "qkvo"}}
        dk = {"mask": mask(pre + "logits"), "allmasked_policy": "keep"} if site("logits") else None
        da = None
        if site("weights"):
            norm = cfg[pre2 + "weights_rescale"] == "normalized" or bug == "train_dropattention_always_normalized"
            da = {"mask": mask(pre + "weights"), "p": cfg[pre2 + "weights_p"], "allmasked_policy": "keep",
                  "variant": "norm_nograd" if norm else "classic"}
        hidden = {"mask": mask(pre + "hidden"), "scale": scale("hidden")} if site("hidden") else None
        x = encoder_block(P, x, pad, cfg["NH"], lora, dk, da, hidden, cfg["ln_eps"], gelu, bug)
    rep = x[:, 0, :]  # first token
    if site("output"):
        rep = rep * ~mask("output") * scale("output")
    # (site() / scale() of "output", "hidden", "input" read this pass's sites above)
    return lin(rep, t["Wc"], t["bc"]), rep


@op("train_step")
def op_train_step(t, cfg, bug):
    reg = cfg["task"] == "regression"

    def task(o):
        return ((o[:, 0] - t["targets"]) ** 2).mean() if reg else F.cross_entropy(o, t["labels"])

    out1, rep1 = stack_pass(t, cfg, 1, bug)
    res = {"task": task(out1)}
    out2, rep2 = stack_pass(t, cfg, 2, bug) if cfg["passes"] == 2 else (None, None)
    a, b = (rep1, rep2) if reg else (out1, out2)
    return two_pass_loss(res, task, out2, a, b, cfg, bug)


def dylora_forward(t, cfg, b, xd, bug, frozen=False):
    """Truncated LoRA at rank b: scale alpha/b, A[:b, :], B[:, :b]."""
    A, B = t["lora_A"], t["lora_B"]
    if bug == "dylora_set_rank_b_not_b_minus_1":  # the official set_rank(rank) keeps rank + 1: called with b
        scale = cfg["alpha"] / (b + 1)  # (r/b') from sqrt on both factors times alpha / r, clamped at r ranks
        b = min(b + 1, cfg["r_max"])
        return F.linear(t["x"], t["weight"], t["bias"]) + scale * F.linear(F.linear(xd, A[:b]), B[:, :b])
    if bug == "dylora_sqrt_one_factor":  # sqrt(r/b) on one factor only: alpha / sqrt(r b)
        scale = cfg["alpha"] / math.sqrt(cfg["r_max"] * b)
        return F.linear(t["x"], t["weight"], t["bias"]) + scale * F.linear(F.linear(xd, A[:b]), B[:, :b])
    Ab, Bb = A[:b], B[:, :b]
    if frozen and bug != "dylora_frozen_nograd_missing":  # only row / column b-1 is trained
        Ab = torch.cat([A[:b - 1].detach(), A[b - 1:b]], 0)
        Bb = torch.cat([B[:, :b - 1].detach(), B[:, b - 1:b]], 1)
    scale = cfg["alpha"] / (cfg["r_max"] if bug == "dylora_scale_alpha_over_r" else b)
    if tf32():
        return lin(t["x"], t["weight"], t["bias"]) + scale * lin(lin(xd, Ab), Bb)
    return F.linear(t["x"], t["weight"], t["bias"]) + scale * F.linear(F.linear(xd, Ab), Bb)


@op("dylora")
def op_dylora(t, cfg, bug):
    b = int(t["b"])
    xd = dropout_with(t["x"], t["mask.x"], cfg["p"])
    return {"y": dylora_forward(t, cfg, b, xd, bug, frozen=bool(cfg["frozen"]))}


@op("dylora_loss")
def op_dylora_loss(t, cfg, bug):
    def loss_b(b):
        y = dylora_forward(t, cfg, b, t["x"], bug)
        return ((y - t["target"]) ** 2).sum() / y.shape[0]

    if cfg["loss"] == "individual":
        return {"loss": loss_b(int(t["b"]))}
    ranks = range(cfg["r_min"], cfg["r_max"] + 1)
    return {"loss": sum(t["pmf"][i].detach() * loss_b(b) for i, b in enumerate(ranks))}


BUGS = {
    "softmax_no_max_shift": "softmax as exp(x)/sum exp(x) without subtracting the row max (overflow)",
    "lora_scale_alpha": "LoRA scaled by alpha instead of alpha/r",
    "lora_dropout_on_base": "LoRA input dropout applied to the frozen W0 path too",
    "kl_direction_swapped": "js_eq12 consistency as KL(P2||P1) instead of KL(P1||P2)",
    "dropkey_mask_sign_flipped": "DropKey (and DropAttention) mask read with the wrong sign: kept keys dropped",
    "dropattention_nograd_missing": "normalized DropAttention differentiates through Z instead of NoGrad(Z)",
    "dylora_scale_alpha_over_r": "DyLoRA truncated scale alpha/r_max instead of alpha/b",
    "dylora_frozen_nograd_missing": "DyLoRA frozen mode without the detach: rows < b-1 still get gradients",
    "framework_detach_missing": "HiddenKey's detached second pass differentiated anyway",
    "gelu_tanh_for_erf": "GELU's tanh approximation where the exact erf form is specified",
    "mask_sign_flipped": "HiddenCut keeps the dropped elements (mask read with the wrong sign)",
    "layernorm_unbiased_var": "LayerNorm with the unbiased (N - 1) variance instead of the biased one",
    "crossentropy_sum_not_mean": "cross-entropy summed over the rows instead of averaged",
    "attention_scale_1_over_D": "attention logits scaled by 1/D instead of 1/sqrt(D)",
    "attention_lora_on_q_not_k": "the k adapter (lora_A_k, lora_B_k) applied to the q projection, k left plain",
    "train_task_on_both_passes": "training step: task loss averaged over both passes where task_both = 0 "
                                 "(HiddenKey / HiddenCut: pass 1 only)",
    "hiddencut_after_residual": "HiddenCut applied to x1 + FFN(x1) (after the residual) instead of FFN(x1)",
    "dropkey_finite_leak": "DropKey's finite form with -6.9 instead of -inf: a dropped key keeps 1e-3 of its weight",
    "dropattention_head0_no_rescale": "classic DropAttention without the 1/(1-p) in head 0 only",
    # config paths of the training step (issue 18)
    "lora_o_input_not_dropped": "LoRA dropout on the q/k/v inputs but not on the o projection's (the attention "
                                "context)",
    "train_dropattention_always_normalized": "training step: DropAttention always the normalized NoGrad form, "
                                             "weights.rescale = inverted (classic 1/(1-p)) ignored",
    "cutoff_rescale_ignored": "training step: the input Cutoff never rescaled (input.rescale = inverted ignored)",
    "pass2_sites_ignored": "training step: pass 2 uses pass 1's sites (second_sites ignored: HiddenCut's official "
                           "cut pass gets standard dropout's 1/(1-p))",
    "task_both_sum_as_mean": "task_both = 2 (HiddenCut's CE1 + CE2) computed as the mean of the two",
    "consistency_term_dropped": "two-pass objectives: the consistency term computed but left out of the total",
    # conventions of public implementations (golden/README.md, "Conventions of public implementations")
    "js_div_official": "HiddenCut's official js_div: from probabilities (kl_div(p.log(), m)), NaN when a class "
                       "underflows in both passes",
    "rdrop_sum_reduction": "R-Drop's compute_kl_loss reduction (sum over the rows) where the case says mean",
    "kl_div_mean_over_nc": "kl_div(reduction='mean'): the consistency divided by N*C instead of N (batchmean)",
    "lora_rslora_ignored": "peft without use_rslora on an rsLoRA case: alpha/r instead of alpha/sqrt(r)",
    "lora_rslora_always": "peft's use_rslora on a standard case: alpha/sqrt(r) instead of alpha/r",
    "fan_in_fan_out_untransposed": "a Conv1D-layout (fan_in_fan_out) projection weight used without the transpose",
    "dropkey_finite_1e12": "the DropKey snippet's finite form, attn + mask * -1e12, with no all-masked policy",
    "dropkey_finite_minus_1e-12": "the snippet's copies with -1e-12: dropped keys shifted by ~0 (no dropout)",
    "dylora_set_rank_b_not_b_minus_1": "the official DyLoRA set_rank called with the 1-based b (keeps b + 1 ranks)",
    "dylora_sqrt_one_factor": "DyLoRA's sqrt(r/b) on one factor only: scale alpha/sqrt(r b) instead of alpha/b",
    # low-precision hazards (run in the low dtype: --bug-dtype bf16 / f16)
    "dropkey_finite_1e12_f16": "DropKey as the snippet's g + mask * (-1e12) in the working dtype (fp16: -1e12 -> -inf, "
                           "0 * -inf = NaN; f32 / bf16: all-masked rows uniform instead of the keep policy)",
    "js_naive_mixture": "HiddenCut's mixture JS with log M = log((P1 + P2) / 2): NaN where both probabilities "
                        "underflow (a within-row logit gap > ~100 in f32, > ~745 in f64)",
    "bf16_native_layernorm": "LayerNorm by CPU torch's native bf16 kernel (the centred value in bf16) instead of "
                             "f32 statistics",
    # tile-boundary bugs of fused / sharded kernels (run on --impl tiled; invisible while T <= 64)
    "tiled_mask_tile_offset": "tiled DropKey reads the mask of key tile j > 0 at the tile-local offset (the "
                              "columns of tile 0)",
    "tiled_no_neginf_guard": "online softmax without the guard on a -inf running max: exp(-inf - -inf) = NaN "
                             "when a row's first tile has no kept key",
    "sharded_local_z": "key-sharded normalized DropAttention divides each shard by its own partial Z (the "
                       "all-reduce over shards forgotten)",
}
TILED_BUGS = ("tiled_mask_tile_offset", "tiled_no_neginf_guard", "sharded_local_z")
# Wrong variants of the low-precision tiers: each runs in its own dtype (--bug all included), into
# OUT/bug-NAME/ with OUT/bug-NAME.tier naming the tier to check it at (make validate-torch).
LOW_BUGS = {"bf16_native_layernorm": "bf16", "dropkey_finite_1e12_f16": "f16"}
# The ops each wrong variant reaches (the code paths its `bug ==` tests are on); its other cases are the
# correct F64 outputs, reused rather than recomputed (run_bug's `reuse`).
_ATT = ("attention", "encoder", "train_step")
BUG_OPS = {
    "softmax_no_max_shift": ("softmax",), "lora_scale_alpha": ("lora",), "lora_dropout_on_base": ("lora",),
    "kl_direction_swapped": ("consistency", "framework_loss", "train_step"),
    "dropkey_mask_sign_flipped": ("dropkey", "dropattention") + _ATT,
    "dropattention_nograd_missing": ("dropattention",) + _ATT,
    "dylora_scale_alpha_over_r": ("dylora", "dylora_loss"), "dylora_frozen_nograd_missing": ("dylora", "dylora_loss"),
    "framework_detach_missing": ("framework_loss", "train_step"), "gelu_tanh_for_erf": ("gelu",),
    "mask_sign_flipped": ("hiddencut",), "layernorm_unbiased_var": ("layernorm",),
    "crossentropy_sum_not_mean": ("crossentropy",), "attention_scale_1_over_D": _ATT,
    "dropkey_finite_leak": ("dropkey",) + _ATT, "dropattention_head0_no_rescale": ("dropattention",) + _ATT,
    "attention_lora_on_q_not_k": _ATT, "train_task_on_both_passes": ("train_step",),
    "hiddencut_after_residual": ("encoder", "train_step"),
    "lora_o_input_not_dropped": _ATT, "train_dropattention_always_normalized": ("train_step",),
    "cutoff_rescale_ignored": ("train_step",), "pass2_sites_ignored": ("train_step",),
    "task_both_sum_as_mean": ("framework_loss", "train_step"),
    "consistency_term_dropped": ("framework_loss", "train_step"),
    "js_div_official": ("consistency", "framework_loss", "train_step"),
    "rdrop_sum_reduction": ("consistency", "framework_loss", "train_step"),
    "kl_div_mean_over_nc": ("consistency", "framework_loss", "train_step"),
    "lora_rslora_ignored": ("lora",), "lora_rslora_always": ("lora",), "fan_in_fan_out_untransposed": _ATT,
    "dropkey_finite_1e12": ("dropkey",) + _ATT, "dropkey_finite_minus_1e-12": ("dropkey",) + _ATT,
    "dylora_set_rank_b_not_b_minus_1": ("dylora", "dylora_loss"), "dylora_sqrt_one_factor": ("dylora", "dylora_loss"),
    "bf16_native_layernorm": ("layernorm", "encoder", "train_step"),
    "dropkey_finite_1e12_f16": ("dropkey",), "js_naive_mixture": ("consistency",),
    "tiled_mask_tile_offset": ("dropkey",) + _ATT, "tiled_no_neginf_guard": ("dropkey",) + _ATT,
    "sharded_local_z": ("dropattention",) + _ATT,
}


# ---------------------------------------------------------------- driver

def backend(bug=None):
    """The example as a hkharness.Backend; bug: one of BUGS (a deliberately wrong variant) or None."""
    be = hk.Backend("torch_backend.py" + (f" --bug {bug}" if bug else ""), framework="torch")
    be.context = storage_context
    for name, f in OPS.items():
        be.register(name, functools.partial(f, bug=bug))
    return be


def run_bug(golden, outdir, dtype, bug, reuse=None):
    """Wrong variant `bug` into outdir.  reuse: a directory of this backend's correct outputs in the same dtype,
    linked for the cases of ops the variant does not reach (BUG_OPS): they are unchanged by it."""
    be = backend(bug)
    ops = BUG_OPS[bug] if reuse else None
    n = len(be.run(golden, outdir, dtype, ops=ops))
    for c in (be.select(golden)[0] if reuse else []):
        if c.op in ops:
            continue
        src, dst = os.path.join(reuse, c.name + ".safetensors"), os.path.join(outdir, c.name + ".safetensors")
        if os.path.lexists(dst):
            os.unlink(dst)
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)
        n += 1
    return n


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--golden", default="golden", help="golden directory (default: golden)")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--dtype", default="f64", help="f64, f32 or f64,f32 (one subdirectory each)")
    ap.add_argument("--bug", action="append", default=[],
                    help="a deliberately wrong variant (or 'all'); written to OUT/bug-NAME in F64")
    ap.add_argument("--list-bugs", action="store_true", help="list the wrong variants and exit")
    ap.add_argument("--check", action="store_true", help="run hkref golden check on each dtype's outputs")
    ap.add_argument("--hkref", default=None, help="the hkref binary for --check (default $HKREF or build/hkref)")
    ap.add_argument("--bug-dtype", default="f64", choices=["f64", "f32", "bf16", "f16", "tf32"],
                    help="dtype of the --bug runs (f64)")
    ap.add_argument("--impl", default="reference",
                    help="reference: PyTorch's kernels; tiled: flash-style online softmax / key-sharded DropAttention; "
                         "sequential: recursive summation in every matmul and softmax (outputs in OUT/<impl>-<dtype>); "
                         "or a list: reference,tiled")
    ap.add_argument("--tiers", default="",
                    help="low-precision dtypes run by the reference impl only (bf16,f16,tf32): OUT/<dtype>/")
    ap.add_argument("--tile", type=int, default=64, help="keys per tile / shard for --impl tiled (default 64)")
    a = ap.parse_args(argv)
    if a.list_bugs:
        for k, v in BUGS.items():
            print(f"{k:32s} {v}")
        return 0
    if not os.path.isdir(a.golden):
        print(f"torch_backend.py: golden directory '{a.golden}' not found", file=sys.stderr)
        return 2
    torch.use_deterministic_algorithms(True)
    bugs = list(BUGS) if "all" in a.bug else a.bug
    for b in bugs:
        if b not in BUGS:
            print(f"torch_backend.py: unknown --bug '{b}' (see --list-bugs)", file=sys.stderr)
            return 2
    if a.tile < 1:
        print("torch_backend.py: --tile must be >= 1", file=sys.stderr)
        return 2
    IMPL["tile"] = a.tile
    impls = a.impl.split(",")
    if any(i not in ("reference", "tiled", "sequential") for i in impls):
        print(f"torch_backend.py: --impl must be reference, tiled and/or sequential (got '{a.impl}')", file=sys.stderr)
        return 2
    dtypes = a.dtype.split(",")
    for name in dtypes:
        if name not in hk.Backend.DTYPES:
            print(f"torch_backend.py: --dtype must be f64, f32, bf16, f16 and/or tf32 (got '{name}')", file=sys.stderr)
            return 2
    tiers = [x for x in a.tiers.split(",") if x]
    for name in tiers:
        if name not in ("bf16", "f16", "tf32"):
            print(f"torch_backend.py: --tiers must be bf16, f16 and/or tf32 (got '{name}')", file=sys.stderr)
            return 2
    rc = 0
    try:
        done = {}  # impl -> its F64 output directory, reused by the wrong variants
        for impl in impls:
            IMPL["name"] = impl
            be = backend()
            if a.check and impl == "reference" and "tf32" not in dtypes and not tiers:  # gate(): no TF32 rounding
                rc = be.gate(a.golden, a.out, dtypes, a.hkref) or rc
                for name in dtypes:
                    done[(impl, name)] = os.path.join(a.out, name)
                continue
            for name in dtypes + (tiers if impl == "reference" else []):
                sub = name if impl == "reference" else f"{impl}-{name}"
                IMPL["dtype"] = name
                n = len(be.run(a.golden, os.path.join(a.out, sub), name))
                done[(impl, name)] = os.path.join(a.out, sub)
                print(f"torch_backend.py: {n} cases -> {os.path.join(a.out, sub)} ({impl}, {name})")
        for b in bugs:
            IMPL["name"] = "tiled" if b in TILED_BUGS else "reference"
            bdt = LOW_BUGS.get(b, a.bug_dtype)
            IMPL["dtype"] = bdt
            n = run_bug(a.golden, os.path.join(a.out, "bug-" + b), bdt, b, done.get((IMPL["name"], bdt)))
            if b in LOW_BUGS:
                with open(os.path.join(a.out, "bug-" + b + ".tier"), "w") as f:
                    f.write(bdt + "\n")
            print(f"torch_backend.py: {n} cases -> {os.path.join(a.out, 'bug-' + b)} (bug {b}, {IMPL['name']})")
    except (KeyError, ValueError, OSError) as e:
        print(f"torch_backend.py: {e}", file=sys.stderr)
        return 2
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
