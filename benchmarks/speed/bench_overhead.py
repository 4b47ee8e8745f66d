"""P1: framework overhead — sslbench's MoCo training vs a bare hand-written PyTorch loop.

Both do the same work on the same data: digits at 16x16, batch 128, convnet-small, the same
batched augmentation, a 2-layer projector, a 256-entry queue, InfoNCE at tau 0.2, SGD with
warm-up + cosine LR and the cosine EMA schedule. The sslbench side is the real ``pretrain``
call (config resolution, checkpoint at the end included). Runs alternate; the median counts.
Goal: ratio <= 1.05.

    python benchmarks/speed/bench_overhead.py [--steps 60] [--rounds 3]
"""

from __future__ import annotations

import argparse
import copy
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import torch
import torch.nn.functional as F
from torch import nn

from _machine import describe
from sslbench.contract.augmentations import get_augmentation
from sslbench.image.backbones import build_convnet_small
from sslbench.image.readers import load_digits
from sslbench.image.augment import augment_batch
from sslbench.engine.trainer import pretrain
from sslbench.contract.loading import registries
from sslbench.runner import resolve_config

BATCH, SIZE, QUEUE, TAU, M0, LR = 128, 16, 256, 0.2, 0.99, 0.12


def bare_loop(steps: int) -> float:
    """What a researcher would write by hand for the same training."""
    torch.manual_seed(0)
    data = load_digits(None, "train")
    images, n = data.images, len(data.images)
    mean, std = 0.3053, 0.3760
    online = build_convnet_small("", 1)
    proj = nn.Sequential(nn.Linear(128, 256, bias=False), nn.BatchNorm1d(256), nn.ReLU(inplace=True), nn.Linear(256, 64))
    t_online, t_proj = copy.deepcopy(online), copy.deepcopy(proj)
    for p in list(t_online.parameters()) + list(t_proj.parameters()):
        p.requires_grad_(False)
    queue = F.normalize(torch.randn(QUEUE, 64), dim=1)
    ptr = 0
    params = list(online.parameters()) + list(proj.parameters())
    opt = torch.optim.SGD(params, lr=LR * BATCH / 256, momentum=0.9, weight_decay=5e-4)
    spec = get_augmentation("digits")
    gen = torch.Generator().manual_seed(1)
    online = online.to(memory_format=torch.channels_last)
    t_online = t_online.to(memory_format=torch.channels_last)
    start = time.perf_counter()
    step = 0
    warm = 2 * (n // BATCH)
    while step < steps:
        order = torch.randperm(n)
        for s in range(0, n - BATCH + 1, BATCH):
            if step >= steps:
                break
            lr = LR * BATCH / 256 * ((step + 1) / warm if step < warm else
                                     0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, steps - warm))))
            for g in opt.param_groups:
                g["lr"] = lr
            x = images[order[s:s + BATCH]].float().div_(255)
            x1 = ((augment_batch(x, spec, SIZE, gen) - mean) / std).contiguous(memory_format=torch.channels_last)
            x2 = ((augment_batch(x, spec, SIZE, gen) - mean) / std).contiguous(memory_format=torch.channels_last)
            q = F.normalize(proj(online(x1)), dim=1)
            with torch.no_grad():
                k = F.normalize(t_proj(t_online(x2)), dim=1)
            logits = torch.cat([(q * k).sum(1, keepdim=True), q @ queue.T], 1) / TAU
            loss = F.cross_entropy(logits, torch.zeros(BATCH, dtype=torch.long))
            opt.zero_grad()
            loss.backward()
            opt.step()
            m = 1 - (1 - M0) * (math.cos(math.pi * step / steps) + 1) / 2
            with torch.no_grad():
                for pt, ps in zip(list(t_online.parameters()) + list(t_proj.parameters()), params):
                    pt.mul_(m).add_(ps, alpha=1 - m)
                idx = (ptr + torch.arange(BATCH)) % QUEUE
                queue[idx] = k
                ptr = (ptr + BATCH) % QUEUE
            if not math.isfinite(loss.item()):
                raise RuntimeError("diverged")
            step += 1
    return time.perf_counter() - start


def sslbench_loop(steps: int) -> float:
    start = time.perf_counter()
    config = resolve_config("moco", "digits", ["knn"], sets={"train": {"max_steps": steps, "epochs": 1000,
                                                                        "warmup_epochs": 2}})
    regs = registries()
    method = regs.methods.get("moco")(config.method_params, config)
    with tempfile.TemporaryDirectory() as tmp:
        pretrain(config, method, regs.datasets.get("digits"), regs, Path(tmp), progress=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sslbench_loop(3), bare_loop(3)  # warm-up: imports, allocator, thread pools
    ours, bare = [], []
    for _ in range(args.rounds):
        ours.append(sslbench_loop(args.steps))
        bare.append(bare_loop(args.steps))
    o, b = statistics.median(ours), statistics.median(bare)
    print(f"machine: {describe()}")
    print(f"P1 framework overhead, MoCo on digits, {args.steps} steps x {args.rounds} rounds (median):")
    print(f"  bare PyTorch loop {b:.2f} s | sslbench pretrain {o:.2f} s | ratio sslbench/bare = {o / b:.3f} "
          f"(goal <= 1.05)")


if __name__ == "__main__":
    main()
