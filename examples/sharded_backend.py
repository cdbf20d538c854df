#!/usr/bin/python3
"""hkref example: a sharded backend on torch.distributed (gloo, 2-4 processes on one machine).

Attention-level dropout split over ranks the way parallel training splits it:
  dropkey, dropattention  key-sharded (sequence / ring parallel): rank r holds keys [lo, hi) of
                          every row; the softmax combines the row max (all_reduce MAX) and the
                          sum of exponentials (all_reduce SUM) over ranks, normalized
                          DropAttention its denominator Z = sum of kept weights (with and without
                          NoGrad(Z)); all-masked rows are decided over all shards.
  attention               head-sharded (tensor parallel, Megatron): rank r holds heads [h0, h1),
                          i.e. rows of W_q, W_k, W_v, lora_B_{q,k,v} and columns of W_o,
                          lora_A_o; the output projection is summed over ranks, then b_o added.
Gradients: PyTorch autograd through collectives with the rule of their consumer: a replicated
tensor entering sharded work is all-reduced in the backward; a sum over shards feeding sharded
work is all-reduced in the backward; one feeding replicated work passes its gradient through.

The harness (examples/hkharness) reads the golden cases in every rank; rank 0 writes the outputs;
`hkref golden check` compares.  --bug NAME runs a deliberately wrong variant, which the golden set
must catch; --masks DIR samples masks inside the ranks (each rank its shard), gathers them,
checks them structurally (a column mask constant over queries across query shards, spans
contiguous across key shards, the drop count within binomial bounds) and replays the sharded
DropKey on them against the reference (--reference-cmd: a command that computes the golden case of
a file of inputs) or, without one, against the single-process example backend.

    /usr/bin/python3 examples/sharded_backend.py --world 2 --out build/sharded [--dtype f64,f32]
        [--bug NAME|all] [--masks [--reference-cmd CMD]] [--golden DIR] [--hkref PATH]
exit status 0: the correct backend passes, every --bug variant is caught, every mask check holds.
"""
import argparse
import datetime
import json
import math
import os
import subprocess
import sys
import tempfile
import traceback

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import hkharness as hk
import torch_backend as tb

OPS = ("dropkey", "dropattention", "attention")

KEY_OPS, HEAD_OPS = ("dropkey", "dropattention"), ("attention",)
BUGS = {  # name: (the ops whose code it changes, what it does)
    "z_per_shard": (("dropattention",), "normalized DropAttention: Z summed over the rank's own key shard only"),
    "mask_offset": (KEY_OPS, "key-sharded: the mask shard read at the shard-local offset (keys 0..n_r), not lo..hi"),
    "max_per_shard": (KEY_OPS, "softmax: each key shard shifted by its own max, the sums of exponentials added "
                               "unrescaled"),
    "sumexp_per_shard": (KEY_OPS, "softmax: the sum of exponentials not combined over shards (each shard "
                                  "normalized alone)"),
    "allmasked_per_shard": (KEY_OPS, "an all-masked row decided per shard (a row with no kept key in this shard)"),
    "head_mask_offset": (HEAD_OPS, "head-sharded attention: mask.att read for heads 0..nh_r instead of h0..h1"),
    "bias_before_reduce": (HEAD_OPS, "head-sharded attention: b_o added on every rank before the sum over ranks"),
}
SAMPLER_BUGS = {  # name: (the mask pattern it concerns, what it does)
    "column_rank_seed": ("column", "column mask drawn per query shard with a rank-dependent seed"),
    "span_per_shard": ("span", "span mask drawn per key shard (one span per shard instead of one per row)"),
    "rate_inverted": ("element", "element mask drawn with the keep probability 1 - p as the drop probability"),
}


def shard_range(n, rank, world):
    """[lo, hi) of rank's contiguous shard of n items (sizes differ by at most 1)."""
    return n * rank // world, n * (rank + 1) // world


# ---------------------------------------------------------------- collectives with autograd

class CopyToShards(torch.autograd.Function):
    """A replicated tensor used by sharded work: identity forward, all-reduce (sum) backward."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        g = g.contiguous().clone()
        dist.all_reduce(g)
        return g


class SumForShards(torch.autograd.Function):
    """Sum over ranks feeding sharded work (the softmax denominator, Z): all-reduce forward and backward."""

    @staticmethod
    def forward(ctx, x):
        y = x.contiguous().clone()
        dist.all_reduce(y)
        return y

    @staticmethod
    def backward(ctx, g):
        g = g.contiguous().clone()
        dist.all_reduce(g)
        return g


class SumToReplicated(torch.autograd.Function):
    """Sum over ranks feeding replicated work (a row-parallel output projection): all-reduce forward,
    identity backward (every rank holds the same loss)."""

    @staticmethod
    def forward(ctx, x):
        y = x.contiguous().clone()
        dist.all_reduce(y)
        return y

    @staticmethod
    def backward(ctx, g):
        return g


class GatherLast(torch.autograd.Function):
    """Concatenates every rank's slice of the last axis (shards may differ by one in size);
    backward: the rank's own slice of the (replicated) gradient."""

    @staticmethod
    def forward(ctx, x, n):
        world, rank = dist.get_world_size(), dist.get_rank()
        lo, hi = shard_range(n, rank, world)
        m = -(-n // world)
        pad = torch.zeros(*x.shape[:-1], m, dtype=x.dtype)
        pad[..., :hi - lo] = x
        parts = [torch.empty_like(pad) for _ in range(world)]
        dist.all_gather(parts, pad.contiguous())
        ctx.lo, ctx.hi = lo, hi
        return torch.cat([parts[r][..., :shard_range(n, r, world)[1] - shard_range(n, r, world)[0]]
                          for r in range(world)], -1)

    @staticmethod
    def backward(ctx, g):
        return g[..., ctx.lo:ctx.hi], None


def all_max(x):
    """Element-wise max over ranks (no gradient)."""
    y = x.detach().contiguous().clone()
    dist.all_reduce(y, op=dist.ReduceOp.MAX)
    return y


def local_max(x, use):
    """Row max of x over the last axis where `use` (-inf where none; an empty shard gives -inf)."""
    if x.shape[-1] == 0:
        return torch.full((*x.shape[:-1], 1), -math.inf, dtype=x.dtype)
    return torch.where(use, x, torch.full_like(x, -math.inf)).amax(-1, keepdim=True).detach()


# ---------------------------------------------------------------- the sharded ops

class Sharded:
    def __init__(self, rank, world, bug=None):
        self.rank, self.world, self.bug = rank, world, bug

    def backend(self, writer):
        be = hk.Backend(f"sharded_backend.py (world {self.world})" + (f" --bug {self.bug}" if self.bug else ""),
                        writer=writer)
        for op in OPS:
            be.register(op, getattr(self, op))
        return be

    # -- key-sharded softmax, masks
    def keys(self, t):
        """(lo, hi, local logits, local dropped, local padded) of a (B,NH,T,T) block."""
        T = t["g"].shape[-1]
        lo, hi = shard_range(T, self.rank, self.world)
        g = CopyToShards.apply(t["g"])[..., lo:hi]
        att = t["mask.att"]
        drop = att[..., 0:hi - lo] if self.bug == "mask_offset" else att[..., lo:hi]
        pad = t["mask.pad"][:, None, None, lo:hi].expand_as(drop)
        return lo, hi, g, drop, pad

    def all_masked(self, kept):
        """Rows without a kept key over all shards (the bug: over this shard only)."""
        any_kept = kept.any(-1, keepdim=True) if kept.shape[-1] else torch.zeros(*kept.shape[:-1], 1, dtype=torch.bool)
        if self.bug != "allmasked_per_shard":
            any_kept = all_max(any_kept.to(torch.float64)) > 0
        return ~any_kept

    def softmax(self, g, use):
        """Softmax over the keys where `use`, the row spread over the key shards."""
        m = local_max(g, use)
        if self.bug != "max_per_shard":
            m = all_max(m)
        m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
        e = torch.where(use, torch.exp(torch.where(use, g, torch.zeros_like(g)) - m), torch.zeros_like(g))
        s = e.sum(-1, keepdim=True)
        if self.bug != "sumexp_per_shard":
            s = SumForShards.apply(s)
        return e / torch.where(s > 0, s, torch.ones_like(s))

    def dropkey(self, t, cfg):
        lo, hi, g, drop, pad = self.keys(t)
        kept = ~drop & ~pad
        allm = self.all_masked(kept)
        use = torch.where(allm, ~pad, kept) if cfg["allmasked_policy"] == "keep" else kept
        w = self.softmax(g, use)
        if cfg["allmasked_policy"] != "keep":
            w = w.masked_fill(allm, 0.0)
        return {"w": GatherLast.apply(w, t["g"].shape[-1])}

    def dropattention(self, t, cfg):
        lo, hi, g, drop, pad = self.keys(t)
        w = self.softmax(g, ~pad)
        kept = ~drop & ~pad
        allm = self.all_masked(kept)
        keep = kept.to(w.dtype)
        if cfg["variant"] == "classic":
            out = w * keep / (1.0 - cfg["p"])
        else:
            z = (w * keep).sum(-1, keepdim=True)
            if self.bug != "z_per_shard":
                z = SumForShards.apply(z)
            if cfg["variant"] == "norm_nograd":
                z = z.detach()  # NoGrad(Z): a constant in the backward, after the sum over shards
            out = w * keep / torch.where(allm, torch.ones_like(z), z)
        out = torch.where(allm, w, out) if cfg["allmasked_policy"] == "keep" else out.masked_fill(allm, 0.0)
        return {"w": GatherLast.apply(out, t["g"].shape[-1])}

    # -- head-sharded attention
    def attention(self, t, cfg):
        x, pad = t["x"], t["mask.pad"]
        B, T, C = x.shape
        NH = cfg["NH"]
        D = C // NH
        h0, h1 = shard_range(NH, self.rank, self.world)
        c0, c1, nh = h0 * D, h1 * D, h1 - h0
        s, lp, on = cfg["alpha"] / cfg["r"], cfg["lora_p"], cfg["lora"]
        X = CopyToShards.apply(x)

        def rep(name):  # a replicated parameter used by this rank's shard
            return CopyToShards.apply(t[name])

        def qkv(p):
            y = X @ rep("W_" + p)[c0:c1].T + rep("b_" + p)[c0:c1]
            if p in on:
                u = tb.dropout_with(X, t.get("mask.lora_" + p), lp)
                y = y + s * (u @ rep("lora_A_" + p).T) @ rep("lora_B_" + p)[c0:c1].T
            return y.reshape(B, T, nh, D).transpose(1, 2)

        q, k, v = qkv("q"), qkv("k"), qkv("v")
        g = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(D))
        g = g.masked_fill(pad[:, None, None, :], -math.inf)
        if cfg["method"] == "none":
            w = torch.softmax(g, -1)
        else:
            att = t["mask.att"]
            att = att[:, 0:nh] if self.bug == "head_mask_offset" else att[:, h0:h1]
            m = {"g": g, "mask.pad": pad, "mask.att": att}
            if cfg["method"] == "dropkey":
                w = tb.op_dropkey(m, {"allmasked_policy": cfg["allmasked_policy"]}, None)["w"]
            else:
                w = tb.dropattention_apply(torch.softmax(g, -1), m, {"variant": cfg["variant"], "p": cfg["attn_p"],
                                           "allmasked_policy": cfg["allmasked_policy"]}, None)
        ctx = (w @ v).transpose(1, 2).reshape(B, T, nh * D)
        y = ctx @ rep("W_o")[:, c0:c1].T
        if "o" in on:
            mo = t.get("mask.lora_o")
            u = tb.dropout_with(ctx, None if mo is None else mo[..., c0:c1], lp)
            y = y + s * (u @ rep("lora_A_o")[:, c0:c1].T) @ rep("lora_B_o").T
        if self.bug == "bias_before_reduce":
            return {"y": SumToReplicated.apply(y + t["b_o"])}
        return {"y": SumToReplicated.apply(y) + t["b_o"]}


# ---------------------------------------------------------------- masks sampled by the ranks

MASK_SHAPE = (2, 2, 64)  # B, NH, T: large enough for binomial bounds, two key shards of 32
MASK_SETS = {"column": 0.25, "span": 0.375, "element": 0.25}


def sample_shard(pattern, p, rank, world, seed, bug):
    """This rank's shard of a (B,NH,T,T) mask, 1 = dropped.  column: the ranks split the queries
    (one key decision per (b, h, key) shared by every query); span and element: the ranks split the
    keys.  Decisions shared across shards come from a generator seeded alike on every rank."""
    B, NH, T = MASK_SHAPE
    lo, hi = shard_range(T, rank, world)
    if pattern == "column":
        gen = torch.Generator().manual_seed(seed + (rank if bug == "column_rank_seed" else 0))
        keys = torch.rand(B, NH, 1, T, generator=gen, dtype=torch.float64) < p
        return keys.expand(B, NH, hi - lo, T).clone()
    if pattern == "span":
        mask = torch.zeros(B, NH, T, hi - lo, dtype=torch.bool)
        per_shard = bug == "span_per_shard"
        gen = torch.Generator().manual_seed(seed + (rank if per_shard else 0))
        n = hi - lo if per_shard else T
        for b in range(B):
            for h in range(NH):
                L = int(math.floor(p * n)) + int(torch.rand(1, generator=gen, dtype=torch.float64) < p * n % 1)
                st = int(torch.randint(0, n - L + 1, (1,), generator=gen))
                a, e = (st + lo, st + lo + L) if per_shard else (st, st + L)
                a, e = max(a, lo), min(e, hi)
                if e > a:
                    mask[b, h, :, a - lo:e - lo] = True
        return mask
    gen = torch.Generator().manual_seed(seed * 1000 + rank)  # element: independent draws per shard
    return torch.rand(B, NH, T, hi - lo, generator=gen, dtype=torch.float64) < (1 - p if bug == "rate_inverted" else p)


def gather_mask(local, pattern, world):
    """The full mask on every rank (column: shards of queries, axis 2; others: of keys, axis 3)."""
    B, NH, T = MASK_SHAPE
    axis = 2 if pattern == "column" else 3
    m = -(-T // world)
    buf = torch.zeros(B, NH, m, T, dtype=torch.uint8) if axis == 2 else torch.zeros(B, NH, T, m, dtype=torch.uint8)
    n = local.shape[axis]
    (buf[:, :, :n] if axis == 2 else buf[..., :n]).copy_(local)
    parts = [torch.empty_like(buf) for _ in range(world)]
    dist.all_gather(parts, buf)
    sizes = [shard_range(T, r, world)[1] - shard_range(T, r, world)[0] for r in range(world)]
    return torch.cat([(pt[:, :, :k] if axis == 2 else pt[..., :k]) for pt, k in zip(parts, sizes)], axis).bool()


def mask_checks(mask, pattern, p):
    """Structural checks of a gathered (B,NH,T,T) mask: {check: (ok, detail)}."""
    B, NH, T = MASK_SHAPE
    mk = mask.numpy().astype(bool)
    res = {}
    if pattern in ("column", "span"):
        same = bool((mk == mk[:, :, :1, :]).all())
        bad = int((mk != mk[:, :, :1, :]).any(-1).sum())
        res["constant over queries"] = (same, f"{bad} query rows differ from query 0 of their (b, h)")
    if pattern == "span":
        lens, holes = [], 0
        for b in range(B):
            for h in range(NH):
                idx = np.flatnonzero(mk[b, h, 0])
                lens.append(len(idx))
                holes += len(idx) > 0 and idx[-1] - idx[0] + 1 != len(idx)
        lmin = math.floor(p * T)
        res["one contiguous span"] = (holes == 0, f"{holes} of {B * NH} (b, h) rows with a gap in their span")
        res["span length"] = (all(lmin <= L <= lmin + 1 for L in lens), f"lengths {lens}, expected {lmin}..{lmin + 1}")
    if pattern in ("column", "element"):
        units = mk[:, :, 0, :] if pattern == "column" else mk
        n, k = units.size, int(units.sum())
        z = 5.0  # two-sided: P(|k - np| > 5 sd) < 6e-7 for a correct sampler (normal approximation)
        sd = math.sqrt(n * p * (1 - p))
        res["rate within binomial bounds"] = (abs(k - n * p) <= z * sd,
                                              f"{k} of {n} dropped, expected {n * p:.0f} +- {z * sd:.1f} (5 sd)")
    return res


def replay_inputs(mask, pattern, p, path):
    """A file of dropkey inputs on the sampled mask (the same on every rank: seeded)."""
    B, NH, T = MASK_SHAPE
    gen = np.random.default_rng(20260 + len(pattern))
    g = gen.uniform(-3, 3, (B, NH, T, T)).astype(np.float32).astype(np.float64)
    dw = gen.uniform(-1, 1, (B, NH, T, T)).astype(np.float32).astype(np.float64)
    cfg = {"B": B, "NH": NH, "T": T, "allmasked_policy": "keep", "form": "neginf", "method": "dropkey",
           "p": p, "pattern": pattern}
    hk.st_write(path, {"in.g": g, "in.d_w": dw, "mask.att": mask.numpy().astype(np.uint8),
                       "mask.pad": np.zeros((B, T), np.uint8)},
                {"op": "dropkey", "case": os.path.basename(path)[:-len(".safetensors")],
                 "config": json.dumps(cfg, sort_keys=True)})


# ---------------------------------------------------------------- the ranks

def worker(rank, world, initfile, jobs, logdir):
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        dist.init_process_group("gloo", init_method="file://" + initfile, rank=rank, world_size=world,
                                timeout=datetime.timedelta(seconds=60))
        for job in jobs:
            if job["kind"] == "golden":
                Sharded(rank, world, job["bug"]).backend(rank == 0).run(job["golden"], job["out"], job["dtype"],
                                                                         ops=job["ops"])
            else:
                run_masks(rank, world, job)
        dist.barrier()
        dist.destroy_process_group()
    except BaseException:
        with open(os.path.join(logdir, f"rank{rank}.err"), "w") as f:
            f.write(traceback.format_exc())
        raise


def run_masks(rank, world, job):
    """Samples one mask set in the ranks, gathers it; rank 0 writes it with replay inputs; every
    rank then runs the sharded DropKey on those inputs (rank 0 writes the outputs)."""
    pattern, bug, d = job["pattern"], job["bug"], job["out"]
    p = MASK_SETS[pattern]
    local = sample_shard(pattern, p, rank, world, seed=4242, bug=bug)
    mask = gather_mask(local, pattern, world)
    name = f"masks_{pattern}" + (f"_bug-{bug}" if bug else "")
    path = os.path.join(d, "dropkey", name + ".safetensors")
    if rank == 0:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        replay_inputs(mask, pattern, p, path)
    dist.barrier()
    if bug is None:  # the apply step on the ranks' own masks
        case = hk.Case(d, "dropkey", name)
        res = Sharded(rank, world).backend(rank == 0).compute(case, "f64", want=["grad.g"])
        if rank == 0:
            os.makedirs(os.path.join(d, "sharded"), exist_ok=True)
            hk.st_write(os.path.join(d, "sharded", name + ".safetensors"), res)


def launch(world, jobs, logdir):
    """Runs jobs in `world` forked processes; returns "" or the first rank's error."""
    ctx = mp.get_context("fork")
    with tempfile.TemporaryDirectory(prefix="hkshard-") as tmp:
        initfile = os.path.join(tmp, "init")
        procs = [ctx.Process(target=worker, args=(r, world, initfile, jobs, logdir)) for r in range(world)]
        for pr in procs:
            pr.start()
        for pr in procs:
            pr.join(timeout=600)
        for pr in procs:
            if pr.is_alive():
                pr.kill()
                pr.join()
    errs = [os.path.join(logdir, f"rank{r}.err") for r in range(world)]
    for e in errs:
        if os.path.exists(e):
            with open(e) as f:
                return f"{os.path.basename(e)}: {f.read()}"
    bad = [r for r, pr in enumerate(procs) if pr.exitcode != 0]
    return f"ranks {bad} exited with {[procs[r].exitcode for r in bad]}" if bad else ""


# ---------------------------------------------------------------- checks after the run

def replay_check(d, name, hkref, reference_cmd=None):
    """The sharded outputs on the sampled masks against a second computation of the same inputs.

    reference_cmd (a template with {hkref}, {inputs}, {out}): a command that writes the reference's
    golden case for a file of inputs (the "reference on your inputs" command of hkref golden);
    the sharded outputs are then checked with `hkref golden check` against that case.  Without it:
    against the single-process example backend (itself gated on the golden set), within twice the
    golden F64 bound of the dropkey op, since each of the two is within that bound of the exact
    value: |a - b| <= 2 K n eps (S + |b|), K = 2, n = 3T + R + 8 (R the logit range),
    S = max|b| for out.w, 2 max|d_w| for grad.g (golden/README.md, tools/golden/cases_attndrop.c)."""
    case = hk.Case(d, "dropkey", name)
    if reference_cmd:
        ref_dir = os.path.join(d, "reference")
        out = os.path.join(ref_dir, "dropkey", name + ".safetensors")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        cmd = reference_cmd.format(hkref=hk.hkref_path(hkref), inputs=case.path, out=out)
        made = subprocess.run(cmd, shell=True, capture_output=True, text=True)
        if made.returncode != 0:
            return False, f"reference command failed (exit {made.returncode}): {cmd}: {made.stderr.strip()}"
        chk = subprocess.run([hk.hkref_path(hkref), "golden", "check", "--golden", ref_dir, "--outputs",
                              os.path.join(d, "sharded"), "--op", "dropkey", "--case", name, "-q"],
                             capture_output=True, text=True)
        return chk.returncode == 0, "against the reference: " + chk.stdout.strip().splitlines()[-1]
    got, _ = hk.st_read(os.path.join(d, "sharded", name + ".safetensors"))
    ref = tb.backend().compute(case, "f64", want=["grad.g"])
    arrays, _, _ = case.load()
    T = MASK_SHAPE[2]
    R = float(np.ptp(arrays["in.g"], axis=-1).max())
    n = 3 * T + R + 8
    worst, lines = 0.0, []
    for k, S in (("out.w", np.abs(ref["out.w"]).max()), ("grad.g", 2 * np.abs(arrays["in.d_w"]).max())):
        thr = 2 * 2 * n * np.finfo(np.float64).eps * (S + np.abs(ref[k]))
        ratio = float((np.abs(got[k] - ref[k]) / thr).max())
        worst = max(worst, ratio)
        lines.append(f"{k}: worst {100 * ratio:.3g}% of the bound")
    return worst <= 1.0, ", ".join(lines) + " (vs the single-process example backend)"


def check_dir(be, golden, out, dtype, hkref, ops=OPS):
    """(returncode, failing case names, the CheckRun) of `hkref golden check` on those ops."""
    r = be.check(golden, out, dtype, hkref, ops=list(ops), args=("-q",), json_report=True)[0]
    return r.returncode, [c for c, rec in r.cases().items() if rec["status"] == "fail"], r


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--world", type=int, default=2, help="processes (2-4; default 2)")
    ap.add_argument("--golden", default="golden")
    ap.add_argument("--out", help="output directory (required unless --list-bugs)")
    ap.add_argument("--dtype", default="f64", help="f64, f32 or f64,f32 for the correct backend")
    ap.add_argument("--bug", action="append", default=[], help="a wrong variant, or 'all' (also the sampler's)")
    ap.add_argument("--masks", action="store_true", help="sample, check and replay masks drawn by the ranks")
    ap.add_argument("--hkref", default=None)
    ap.add_argument("--reference-cmd", default=None,
                    help="with --masks: a command writing the reference case for a file of inputs, with "
                         "{hkref}, {inputs}, {out} (default: compare with the single-process example)")
    ap.add_argument("--list-bugs", action="store_true")
    a = ap.parse_args(argv)
    if a.list_bugs:
        for k, (ops, v) in BUGS.items():
            print(f"{k:22s} {v} ({', '.join(ops)})")
        for k, (pt, v) in SAMPLER_BUGS.items():
            print(f"{k:22s} {v} (--masks)")
        return 0
    if not a.out:
        ap.error("--out DIR is required")
    if not 2 <= a.world <= 4:
        print("sharded_backend.py: --world must be 2, 3 or 4", file=sys.stderr)
        return 2
    bugs = list(BUGS) if "all" in a.bug else [b for b in a.bug if b in BUGS]
    sbugs = list(SAMPLER_BUGS) if "all" in a.bug else [b for b in a.bug if b in SAMPLER_BUGS]
    unknown = [b for b in a.bug if b != "all" and b not in BUGS and b not in SAMPLER_BUGS]
    if unknown:
        print(f"sharded_backend.py: unknown --bug {unknown} (see --list-bugs)", file=sys.stderr)
        return 2
    dtypes = a.dtype.split(",")
    os.makedirs(a.out, exist_ok=True)
    jobs = [{"kind": "golden", "bug": None, "golden": a.golden, "out": os.path.join(a.out, dt), "dtype": dt,
             "ops": OPS} for dt in dtypes]
    jobs += [{"kind": "golden", "bug": b, "golden": a.golden, "out": os.path.join(a.out, "bug-" + b), "dtype": "f64",
              "ops": BUGS[b][0]} for b in bugs]  # a wrong variant on the ops whose code it changes
    mdir = os.path.join(a.out, "masks")
    if a.masks:
        jobs += [{"kind": "masks", "pattern": pt, "bug": None, "out": mdir} for pt in MASK_SETS]
        jobs += [{"kind": "masks", "pattern": SAMPLER_BUGS[b][0], "bug": b, "out": mdir} for b in sbugs]
    for e in os.listdir(a.out):
        if e.startswith("rank") and e.endswith(".err"):
            os.unlink(os.path.join(a.out, e))
    err = launch(a.world, jobs, a.out)
    if err:
        print(f"sharded_backend.py: the ranks failed: {err}", file=sys.stderr)
        return 2
    be, ok = Sharded(0, 1).backend(True), True
    for dt in dtypes:
        rc, fails, r = check_dir(be, a.golden, os.path.join(a.out, dt), dt, a.hkref)
        n = len(r.cases())
        print(f"sharded ({a.world} ranks, {dt}): {n} cases of {', '.join(OPS)}: "
              + ("pass" if rc == 0 else f"FAILED ({', '.join(fails) or r.stderr.strip()})"))
        ok &= rc == 0
    for b in bugs:
        rc, fails, r = check_dir(be, a.golden, os.path.join(a.out, "bug-" + b), "f64", a.hkref, BUGS[b][0])
        caught = rc == 1
        print(f"bug {b}: {'caught' if caught else 'NOT CAUGHT (exit %d)' % rc} by {len(fails)} of {len(r.cases())}"
              f" cases: {' '.join(sorted(fails))}")
        ok &= caught
    if a.masks:
        for job in [j for j in jobs if j["kind"] == "masks"]:
            pt, b = job["pattern"], job["bug"]
            name = f"masks_{pt}" + (f"_bug-{b}" if b else "")
            arrays, _ = hk.st_read(os.path.join(mdir, "dropkey", name + ".safetensors"))
            res = mask_checks(torch.tensor(arrays["mask.att"]), pt, MASK_SETS[pt])
            failed = [k for k, (good, _) in res.items() if not good]
            detail = "; ".join(f"{k}: {'ok' if good else 'FAILS'} ({why})" for k, (good, why) in res.items())
            if b is None:
                good, why = replay_check(mdir, name, a.hkref, a.reference_cmd)
                print(f"masks {pt} (sampled by {a.world} ranks): {'pass' if not failed and good else 'FAILED'}: "
                      f"{detail}; replay: {why}")
                ok &= not failed and good
            else:
                print(f"sampler bug {b} ({pt}): {'caught' if failed else 'NOT CAUGHT'}: {detail}")
                ok &= bool(failed)
    print("sharded_backend.py: " + ("pass" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
