"""Per-step schedules: cosine EMA momentum (eq. 4.2, A.5.1) and warm-up + cosine learning rate."""

from __future__ import annotations

import math


def ema_momentum(step: int, total_steps: int, initial: float) -> float:
    """m = 1 - (1 - m0) (cos(pi step / total) + 1) / 2: from m0 at step 0 to 1 at the end."""
    if total_steps <= 0:
        return initial
    return 1.0 - (1.0 - initial) * (math.cos(math.pi * step / total_steps) + 1.0) / 2.0


def warmup_cosine_lr(step: int, total_steps: int, warmup_steps: int, base_lr: float, min_lr: float = 0.0) -> float:
    """Linear warm-up from ~0 to ``base_lr`` over ``warmup_steps``, then cosine decay to ``min_lr``."""
    if warmup_steps > 0 and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if total_steps <= warmup_steps:
        return base_lr
    progress = (step - warmup_steps) / (total_steps - warmup_steps)
    return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def cosine_value(step: int, total_steps: int, start: float, end: float) -> float:
    """A value moving from ``start`` to ``end`` along a half cosine (for lambda / tau_m schedules)."""
    if total_steps <= 0:
        return start
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, step / total_steps)))
