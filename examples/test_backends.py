"""The example backends as pytest gates: one test item per golden case and dtype.

    /usr/bin/python3 -m pytest examples/ [-k dropkey] [-x] [--hk-golden DIR] [--hk-dtype f32]

test_torch: every op (examples/torch_backend.py, autograd); test_mini: two numpy ops, the
rest skipped (examples/mini_backend.py); test_lora_only: the torch ops of layers with LoRA
factors, checked on out.* and the LoRA gradients only (a backend that trains LoRA alone).
"""
import functools

import hkharness as hk
import mini_backend
import torch_backend

TORCH = torch_backend.backend()
LORA_ONLY = hk.Backend("torch_backend.py, LoRA factors only")
for _op in ("lora", "attention", "encoder", "dylora", "train_step"):
    LORA_ONLY.register(_op, functools.partial(torch_backend.OPS[_op], bug=None), grads="lora")


def test_torch(hk_case):
    hk_case.check(TORCH)


def test_mini(hk_case):
    hk_case.check(mini_backend.backend)


def test_lora_only(hk_case):
    hk_case.check(LORA_ONLY)
