"""EMA momentum (thesis eq. 4.2, cosine to 1 as in A.5.1) and learning-rate schedules (A.5.1: warm-up,
cosine decay, linear scaling rule) follow the thesis."""

import math

import pytest

from sslbench.engine.schedules import cosine_value, ema_momentum, warmup_cosine_lr


@pytest.mark.parametrize("m0", [0.99, 0.996])
def test_momentum_schedule_matches_spec_formula(m0):
    total = 1000
    for step in (0, 1, 250, 500, 999, 1000):
        expected = 1 - (1 - m0) * (math.cos(math.pi * step / total) + 1) / 2
        assert ema_momentum(step, total, m0) == pytest.approx(expected, abs=1e-15)
    assert ema_momentum(0, total, m0) == pytest.approx(m0)
    assert ema_momentum(total, total, m0) == pytest.approx(1.0)


def test_momentum_increases_monotonically():
    values = [ema_momentum(s, 100, 0.99) for s in range(101)]
    assert all(b >= a for a, b in zip(values, values[1:]))


def test_lr_warms_up_linearly_then_decays_by_cosine():
    base, total, warm = 0.5, 100, 10
    assert warmup_cosine_lr(0, total, warm, base) == pytest.approx(base / warm)
    assert warmup_cosine_lr(9, total, warm, base) == pytest.approx(base)
    assert warmup_cosine_lr(10, total, warm, base) == pytest.approx(base)
    mid = 10 + 45
    assert warmup_cosine_lr(mid, total, warm, base) == pytest.approx(base / 2)
    assert warmup_cosine_lr(total, total, warm, base, min_lr=0.01) == pytest.approx(0.01)


def test_cosine_value_goes_from_start_to_end():
    assert cosine_value(0, 10, 0.2, 0.8) == pytest.approx(0.2)
    assert cosine_value(10, 10, 0.2, 0.8) == pytest.approx(0.8)
    assert cosine_value(5, 10, 0.2, 0.8) == pytest.approx(0.5)
