"""P2: ResNet-18 (small-image stem) MoCo pretraining throughput against the float32 matmul peak.

Achieved GFLOP/s = FLOPs of one training step (counted by torch's FlopCounterMode: online
forward + backward, target forward) x steps / time; peak = GFLOP/s of a large float32 matmul
measured in the same run. Prints achieved / peak (goal >= 0.90 on a GPU).

    python benchmarks/speed/bench_throughput.py [--batch 64] [--steps 5] [--size 32]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import torch
from torch.utils.flop_counter import FlopCounterMode

from _machine import describe
from sslbench.engine.trainer import build_backbone, pick_device
from sslbench.contract.loading import registries
from sslbench.runner import resolve_config


def matmul_peak(device: torch.device, n: int = 2048, reps: int = 10) -> float:
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    for _ in range(2):
        a @ b
    _sync(device)
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    _sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - start) / 1e9


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--profile", action="store_true", help="print where one step's time goes, by operator")
    args = parser.parse_args()
    config = resolve_config("moco", "cifar10", ["knn"], sets={"data": {"root": "/unused", "input_size": args.size},
                                                              "train": {"precision": args.precision}})
    device = pick_device("auto")
    regs = registries()
    backbone = build_backbone(regs, "resnet18", 3, {"small_stem": True})
    learner = regs.methods.get("moco")(config.method_params, config).build(backbone, 10).to(device)
    learner = learner.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD([p for p in learner.parameters() if p.requires_grad], lr=0.01, momentum=0.9)
    views = [torch.randn(args.batch, 3, args.size, args.size, device=device).contiguous(
        memory_format=torch.channels_last) for _ in range(2)]
    labels = torch.zeros(args.batch, dtype=torch.long, device=device)
    autocast = (torch.autocast(device.type, dtype=torch.bfloat16 if args.precision == "bf16" else torch.float16)
                if args.precision != "fp32" else torch.autocast(device.type, enabled=False))

    def step(i: int) -> None:
        with autocast:
            loss = learner.training_step(views, labels)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        learner.after_step(i, 1000)

    counter = FlopCounterMode(display=False)
    with counter:
        step(0)
    flops = counter.get_total_flops()
    step(1)
    _sync(device)
    start = time.perf_counter()
    for i in range(args.steps):
        step(i + 2)
    _sync(device)
    achieved = flops * args.steps / (time.perf_counter() - start) / 1e9
    peak = matmul_peak(device)
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            step(args.steps + 2)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
    print(f"machine: {describe()}")
    print(f"P2 ResNet-18 small-stem MoCo step, batch {args.batch} at {args.size}x{args.size}, {args.precision}: "
          f"{flops / 1e9:.1f} GFLOP/step")
    print(f"  achieved {achieved:.1f} GFLOP/s | float32 matmul peak {peak:.1f} GFLOP/s | "
          f"ratio achieved/peak = {achieved / peak:.3f} (goal >= 0.90)")


if __name__ == "__main__":
    main()
