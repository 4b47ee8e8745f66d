"""Spotting inference: sliding windows, the edge rule, hard and soft NMS against plain loops."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from helpers import run_cli

from sslbench.spotting import inference
from sslbench.spotting.tamap import CLASSES, evaluate_spotting


def loop_hard_nms(times, scores, window):
    out = np.full_like(scores, -np.inf)
    for c in range(scores.shape[1]):
        alive = list(range(len(times)))
        while alive:
            k = max(alive, key=lambda i: (scores[i, c], -i))
            out[k, c] = scores[k, c]
            alive = [i for i in alive if abs(times[i] - times[k]) > window / 2]
    return out


def loop_soft_nms(times, scores, window, decay, sigma=0.5):
    out = np.full_like(scores, -np.inf)
    for c in range(scores.shape[1]):
        current = {i: float(scores[i, c]) for i in range(len(times))}
        while current:
            k = max(current, key=lambda i: (current[i], -i))
            out[k, c] = current.pop(k)
            for i in current:
                d = abs(times[i] - times[k])
                if d <= window / 2:
                    o = 1 - d / (window / 2)
                    current[i] *= (1 - o) if decay == "linear" else math.exp(-o * o / sigma)
    return out


@pytest.mark.parametrize("window", [1.0, 5.0, 3.0, 10.0])
def test_hard_nms_equals_loop(window):
    rng = np.random.default_rng(0)
    times = inference.token_times(80)
    scores = rng.random((80, 5))
    scores[10, 0] = scores[12, 0] = 2.0  # a tie: the earlier one wins
    np.testing.assert_array_equal(inference.hard_nms(times, scores, window), loop_hard_nms(times, scores, window))


@pytest.mark.parametrize("decay", ["gaussian", "linear"])
@pytest.mark.parametrize("window", [4.0, 10.0])
def test_soft_nms_equals_loop(decay, window):
    rng = np.random.default_rng(1)
    times = inference.token_times(60)
    scores = rng.random((60, 4))
    np.testing.assert_allclose(inference.soft_nms(times, scores, window, decay),
                               loop_soft_nms(times, scores, window, decay), rtol=1e-12)


def test_nms_windows_are_in_seconds_not_half_second_steps():
    times = inference.token_times(20)  # one token per second
    scores = np.zeros((20, 1))
    scores[10, 0], scores[12, 0], scores[13, 0] = 1.0, 0.9, 0.8  # 2 s and 3 s away
    kept = inference.hard_nms(times, scores, window=5.0)  # suppresses within 2.5 s
    assert kept[10, 0] == 1.0 and np.isinf(kept[12, 0]) and kept[13, 0] == 0.8


def test_window_starts_half_overlap_and_end_aligned():
    assert inference.window_starts(100, 32) == [0, 16, 32, 48, 64, 68]
    assert inference.window_starts(64, 32) == [0, 16, 32]
    assert inference.window_starts(20, 32) == [0]


def loop_merge(starts, scores, n, ignore):
    out = np.full((n, scores.shape[2]), -np.inf)
    window = scores.shape[1]
    for start, s in zip(starts, scores):
        for j in range(window):
            t = start + j
            if t >= n:
                continue
            at_start, at_end = start == 0, start + window >= n
            if (j < ignore and not at_start) or (j >= window - ignore and not at_end):
                continue
            out[t] = np.maximum(out[t], s[j])
    return out


def test_merge_max_over_windows_ignores_edges_except_half_ends():
    rng = np.random.default_rng(2)
    n, window, ignore = 100, 32, 6
    starts = inference.window_starts(n, window)
    scores = rng.random((len(starts), window, 3))
    merged = inference.merge_windows(starts, scores, n, ignore)
    np.testing.assert_array_equal(merged, loop_merge(starts, scores, n, ignore))
    # The first 6 tokens of the half come from the first window, the last 6 from the last one.
    np.testing.assert_array_equal(merged[:6], scores[0, :6])
    np.testing.assert_array_equal(merged[-6:], scores[-1, -6:])
    # A huge score in the ignored margin of an inner window is not kept.
    scores2 = scores.copy()
    scores2[1, 0] = 99.0  # token 16 = first token of window 1 (ignored); window 0 covers it
    assert inference.merge_windows(starts, scores2, n, ignore)[16].max() < 99.0


def test_merge_fills_gaps_left_by_large_ignore():
    n, window = 64, 32
    starts = inference.window_starts(n, window)
    scores = np.ones((len(starts), window, 1))
    merged = inference.merge_windows(starts, scores, n, ignore=12)  # margins leave gaps
    assert np.isfinite(merged).all()


def test_sliding_window_inference_recovers_a_per_token_signal():
    n, window = 75, 32
    signal = np.random.default_rng(3).random((n, 2))

    def predict(starts):
        out = np.zeros((len(starts), window, 2))
        for i, s in enumerate(starts):
            part = signal[s:s + window]
            out[i, :len(part)] = part
        return out

    np.testing.assert_array_equal(inference.sliding_window_scores(predict, n, window, 6, batch_size=2), signal)


def test_official_json_and_raw_round_trip(tmp_path):
    rng = np.random.default_rng(4)
    times = inference.token_times(90)
    halves = {1: (times, rng.random((90, 17))), 2: (times, rng.random((90, 17)))}
    inference.save_raw(tmp_path / "raw" / "g1" / inference.RAW_FILE, halves)
    games = inference.predictions_from_raw(tmp_path / "raw", tmp_path / "out", nms="hard", window=5.0)
    assert games == ["g1"]
    obj = json.loads((tmp_path / "out" / "g1" / "results_spotting.json").read_text())
    preds = obj["predictions"]
    assert {p["half"] for p in preds} == {"1", "2"}
    assert set(preds[0]) == {"gameTime", "label", "position", "half", "confidence"}
    assert all(p["label"] in CLASSES for p in preds)
    first = [p for p in preds if p["half"] == "1" and p["label"] == CLASSES[0]]
    expected = inference.hard_nms(times, halves[1][1].astype(np.float32).astype(np.float64), 5.0)[:, 0]
    assert len(first) == int(np.isfinite(expected).sum())
    labels = {"annotations": [{"gameTime": "1 - 00:10", "label": "Goal", "position": "10000", "visibility": "shown"}]}
    result = evaluate_spotting({"g1": labels}, {"g1": obj})
    assert 0.0 <= result["a_mAP"] <= 1.0


def test_spotting_nms_command_redoes_nms_from_raw(tmp_path):
    times = inference.token_times(40)
    scores = np.random.default_rng(5).random((40, 17))
    inference.save_raw(tmp_path / "raw" / "a" / "g" / inference.RAW_FILE, {1: (times, scores), 2: (times, scores)})
    result = run_cli("spotting-nms", str(tmp_path / "raw"), str(tmp_path / "out"), "--nms", "soft", "--window", "4")
    assert result.returncode == 0, result.stderr
    preds = json.loads((tmp_path / "out" / "a" / "g" / "results_spotting.json").read_text())["predictions"]
    soft = inference.soft_nms(times, scores.astype(np.float32).astype(np.float64), 4.0)
    assert len(preds) == 2 * soft.size
    assert float(preds[0]["confidence"]) == pytest.approx(soft[0, 0])


@pytest.mark.parametrize("nms", ["hard", "soft"])
def test_oracle_scores_through_the_whole_pipeline_score_perfectly(nms):
    # Events of 3 classes; per-token scores peaked at each event, passed through sliding windows,
    # merge, NMS and the official JSON: every class with events gets AP 1 at every tolerance.
    events = {1: [(12.3, 2), (40.0, 8), (71.6, 2)], 2: [(5.0, 9), (30.2, 8)]}
    labels = {"annotations": [{"gameTime": f"{h} - {int(t) // 60:02d}:{int(t) % 60:02d}", "label": CLASSES[c],
                               "position": str(int(t * 1000)), "visibility": "shown"}
                              for h, evs in events.items() for t, c in evs]}
    halves = {}
    for half, evs in events.items():
        n = 90
        times = inference.token_times(n)
        signal = np.zeros((n, 17))
        for t, c in evs:
            signal[:, c] = np.maximum(signal[:, c], np.exp(-np.abs(times - t)))

        def predict(starts, signal=signal):
            return np.stack([np.pad(signal[s:s + 32], ((0, max(s + 32 - n, 0)), (0, 0))) for s in starts])

        merged = inference.sliding_window_scores(predict, n, 32, ignore=6)
        halves[half] = (times, inference.apply_nms(times, merged, nms))
    result = evaluate_spotting({"g": labels}, {"g": inference.spotting_json("g", halves)})
    for name in ("Goal", "Ball out of play", "Throw-in"):
        assert result["a_mAP_per_class"][name] == pytest.approx(1.0)
    assert result["a_mAP"] == pytest.approx(3 / 17)
