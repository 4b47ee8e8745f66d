"""A spotting model over whole games (thesis 6.3.4, C.2): sliding windows with half overlap, the max
merge with the edge rule, NMS, and the files the official evaluator reads (raw scores kept)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import inference, soccernet
from .tamap import PREDICTIONS_FILE
from .training import frame_size, normalise, read_clip


@torch.no_grad()
def predict_half(model: Any, half: soccernet.Half, ignore_seconds: float, batch_size: int = 8,
                 device: Any = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """(token times in seconds, merged sigmoid scores (T, C)) of one half (sliding windows, max merge)."""
    model.eval()
    size, ts, window = frame_size(model), model.config.frames_per_token, model.tokens
    n_tokens = max(math.ceil(half.n_frames / ts), 1)

    def predict(starts: list[int]) -> np.ndarray:
        clips = torch.stack([read_clip(half, s * ts, window * ts, size) for s in starts]).to(device)
        return torch.sigmoid(model.classify(normalise(clips))).float().cpu().numpy()

    token_seconds = ts / soccernet.FPS
    scores = inference.sliding_window_scores(predict, n_tokens, window, int(round(ignore_seconds / token_seconds)),
                                             batch_size)
    return inference.token_times(n_tokens, ts, soccernet.FPS), scores


def predict_games(model: Any, games: list[soccernet.Game], out_dir: Path, nms: str = "hard",
                  nms_window: float | None = None, decay: str = "gaussian", ignore_seconds: float = 6.0,
                  min_score: float = 0.0, batch_size: int = 8, device: Any = "cpu") -> dict[str, dict[str, Any]]:
    """Raw scores (``<out>/raw/<game>/raw_predictions.npz``, for ``sslbench spotting-nms``) and
    ``results_spotting.json`` (``<out>/predictions/<game>/``) of every game; returns the
    predictions by game."""
    results = {}
    for game in games:
        halves = {h.half: predict_half(model, h, ignore_seconds, batch_size, device) for h in game.halves}
        inference.save_raw(out_dir / "raw" / game.name / inference.RAW_FILE, halves)
        kept = {h: (t, inference.apply_nms(t, s, nms, nms_window, decay)) for h, (t, s) in halves.items()}
        obj = inference.spotting_json(game.name, kept, min_score)
        inference.write_spotting_json(out_dir / "predictions" / game.name / PREDICTIONS_FILE, obj)
        results[game.name] = obj
    return results
