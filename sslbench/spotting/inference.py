"""Action-spotting inference: sliding windows over a half, max merge, edge rule, hard/soft NMS.

The model scores a global window of ``window`` tokens (COMEDIAN: T_l = 32 tokens of T_s = 2
frames at 2 fps, i.e. 1 s each) and one score per class per token. Inference over a half
(thesis 6.3.4 and C.2):

1. **Sliding window with half overlap** (:func:`window_starts`): windows start every
   ``window // 2`` tokens; the last window is aligned with the end of the half so every token
   is seen. A half shorter than a window gets one window (the caller pads the frames).
2. **Max merge with the edge rule** (:func:`merge_windows`): each timestamp takes the max over
   the windows that cover it, each window ignoring its first and last ``ignore`` tokens (6 s by
   default) so kept scores had past and future context -- except the first window keeps its
   start and the last window keeps its end (the start and end of the half). Where the ignored
   margins leave a timestamp uncovered (``ignore`` larger than a quarter of the window), it
   takes the max over every window covering it, margins included -- the thesis is silent on
   this case; a score is never left undefined.
3. **NMS per class** (:func:`hard_nms`, :func:`soft_nms`), windows in **seconds** (the thesis's
   reference CLI says seconds but counts 0.5 s steps: a known bug not repeated here). Both are
   greedy in decreasing score, processed for all classes at once (one argmax per class per
   iteration, numpy arrays of shape (T, C)):

   - hard: keep the best remaining timestamp, drop every remaining one with
     ``|t_j - t_k| <= window / 2``;
   - soft (Bodla et al. 2017 in one dimension): keep the best remaining timestamp with its
     current score, then multiply each remaining one within ``|t_j - t_k| <= window / 2`` by
     ``1 - o`` ("linear") or ``exp(-o^2 / sigma)`` ("gaussian", sigma = 0.5), where
     ``o = 1 - |t_j - t_k| / (window / 2)`` is the overlap (1 at the kept timestamp, 0 at the
     window's edge). The thesis does not spell out the decay; this is the convention of Soft-NMS
     with the temporal overlap in place of the IoU.

Raw merged scores are kept (:func:`save_raw` / :func:`load_raw`) so NMS can be redone with other
settings without running the model again (:func:`predictions_from_raw`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..atomic import atomic_write
from .tamap import CLASSES, PREDICTIONS_FILE

#: Thesis defaults (6.4.1 and Table 6.8): hard NMS of 5 s; soft NMS of 10 s; ignore 6 s of each edge.
HARD_WINDOW = 5.0
SOFT_WINDOW = 10.0
IGNORE_SECONDS = 6.0
RAW_FILE = "raw_predictions.npz"
NMS_KINDS = ("hard", "soft", "none")
DECAYS = ("gaussian", "linear")


# --------------------------------------------------------------------------- sliding windows


def window_starts(n_tokens: int, window: int) -> list[int]:
    """First token of each sliding window with half overlap; the last window ends at ``n_tokens``."""
    if window <= 0 or n_tokens < 0:
        raise ValueError(f"window must be > 0 and n_tokens >= 0, got {window}, {n_tokens}")
    if n_tokens <= window:
        return [0]
    stride = max(window // 2, 1)
    starts = list(range(0, n_tokens - window + 1, stride))
    if starts[-1] != n_tokens - window:
        starts.append(n_tokens - window)
    return starts


def merge_windows(starts: Sequence[int], scores: np.ndarray, n_tokens: int, ignore: int) -> np.ndarray:
    """Per timestamp the max over the windows covering it, with the edge rule (module docstring).

    :param starts: first token of each window (:func:`window_starts`).
    :param scores: (K, window, C) scores of the K windows; tokens past ``n_tokens`` are dropped.
    :param ignore: tokens ignored at each edge of a window (not at the start/end of the half).
    :returns: (n_tokens, C) merged scores.
    """
    scores = np.asarray(scores, dtype=np.float64)
    k, window, n_classes = scores.shape
    if k != len(starts):
        raise ValueError(f"{len(starts)} window starts for {k} windows of scores")
    ignore = max(int(ignore), 0)
    merged = np.full((n_tokens, n_classes), -np.inf)
    fallback = np.full((n_tokens, n_classes), -np.inf)
    for start, window_scores in zip(starts, scores):
        stop = min(start + window, n_tokens)
        span = slice(start, stop)
        fallback[span] = np.maximum(fallback[span], window_scores[: stop - start])
        lo = 0 if start == 0 else ignore
        hi = window if start + window >= n_tokens else window - ignore
        hi = min(hi, stop - start)
        if hi > lo:
            inner = slice(start + lo, start + hi)
            merged[inner] = np.maximum(merged[inner], window_scores[lo:hi])
    return np.where(np.isfinite(merged), merged, fallback)


def sliding_window_scores(predict: Callable[[list[int]], np.ndarray], n_tokens: int, window: int,
                          ignore: int, batch_size: int = 8) -> np.ndarray:
    """Run ``predict(starts) -> (len(starts), window, C)`` over the windows of a half, merged.

    ``predict`` receives the first token of each window of a batch; it reads the frames itself
    (and pads past the end of the half).
    """
    starts = window_starts(n_tokens, window)
    outputs = [np.asarray(predict(starts[i:i + batch_size])) for i in range(0, len(starts), batch_size)]
    return merge_windows(starts, np.concatenate(outputs), n_tokens, ignore)


def token_times(n_tokens: int, frames_per_token: int = 2, fps: float = 2.0) -> np.ndarray:
    """Seconds of each token: the mean timestamp of its frames (thesis 6.3.4), e.g. 0.25, 1.25, ..."""
    return (np.arange(n_tokens) * frames_per_token + (frames_per_token - 1) / 2) / fps


# --------------------------------------------------------------------------- NMS


def _check_nms(window: float) -> None:
    if not window > 0:
        raise ValueError(f"NMS window must be a positive number of seconds, got {window}")


def _neighbourhood(times: np.ndarray, centre: np.ndarray, half: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows within ``half`` seconds of each class's ``centre`` row: (C, W) indices and validity."""
    lo = np.searchsorted(times, times[centre] - half, "left")
    hi = np.searchsorted(times, times[centre] + half, "right")
    width = int((hi - lo).max())
    rows = lo[:, None] + np.arange(width)[None, :]
    valid = rows < hi[:, None]
    return np.minimum(rows, len(times) - 1), valid


def _prepare(times: np.ndarray, scores: np.ndarray, window: float) -> tuple[np.ndarray, np.ndarray]:
    _check_nms(window)
    times = np.asarray(times, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or len(times) != len(scores):
        raise ValueError(f"expected times (T,) and scores (T, C), got {times.shape} and {scores.shape}")
    if np.any(np.diff(times) < 0):
        raise ValueError("NMS needs times sorted in increasing order")
    return times, scores


def hard_nms(times: np.ndarray, scores: np.ndarray, window: float = HARD_WINDOW) -> np.ndarray:
    """Greedy hard NMS per class, window in seconds: (T, C) scores -> (T, C) with suppressed = -inf.

    ``times`` (T,) are sorted seconds; each iteration keeps one timestamp per class and only
    touches the rows within the window around it.
    """
    times, scores = _prepare(times, scores, window)
    n, n_classes = scores.shape
    cols = np.arange(n_classes)
    remaining = scores.copy()
    out = np.full_like(scores, -np.inf)
    for _ in range(n):
        best = remaining.argmax(0)
        value = remaining[best, cols]
        live = np.isfinite(value)
        if not live.any():
            break
        out[best[live], cols[live]] = value[live]
        rows, valid = _neighbourhood(times, best, window / 2)
        valid &= live[:, None]
        remaining[rows[valid], np.broadcast_to(cols[:, None], rows.shape)[valid]] = -np.inf
    return out


def soft_nms(times: np.ndarray, scores: np.ndarray, window: float = SOFT_WINDOW, decay: str = "gaussian",
             sigma: float = 0.5) -> np.ndarray:
    """Greedy soft NMS per class, window in seconds: (T, C) scores -> (T, C) decayed scores."""
    if decay not in DECAYS:
        raise ValueError(f"unknown soft-NMS decay {decay!r}: expected one of {DECAYS}")
    times, scores = _prepare(times, scores, window)
    n, n_classes = scores.shape
    cols = np.arange(n_classes)
    remaining = scores.copy()
    candidates = scores.copy()  # remaining scores, -inf once kept
    out = np.full_like(scores, -np.inf)
    half = window / 2
    for _ in range(n):
        best = candidates.argmax(0)
        out[best, cols] = remaining[best, cols]
        candidates[best, cols] = -np.inf
        rows, valid = _neighbourhood(times, best, half)
        col = np.broadcast_to(cols[:, None], rows.shape)
        valid &= np.isfinite(candidates[rows, col])  # neither kept nor the kept one itself
        rows, col = rows[valid], col[valid]
        overlap = np.clip(1.0 - np.abs(times[rows] - times[best[col]]) / half, 0.0, None)
        factor = 1.0 - overlap if decay == "linear" else np.exp(-overlap ** 2 / sigma)
        remaining[rows, col] *= factor
        candidates[rows, col] = remaining[rows, col]
    return out


def apply_nms(times: np.ndarray, scores: np.ndarray, kind: str = "hard", window: float | None = None,
              decay: str = "gaussian") -> np.ndarray:
    """NMS by name: ``"hard"`` (5 s default), ``"soft"`` (10 s default) or ``"none"``."""
    if kind == "hard":
        return hard_nms(times, scores, HARD_WINDOW if window is None else window)
    if kind == "soft":
        return soft_nms(times, scores, SOFT_WINDOW if window is None else window, decay)
    if kind == "none":
        return np.asarray(scores, dtype=np.float64).copy()
    raise ValueError(f"unknown NMS {kind!r}: expected one of {NMS_KINDS}")


# --------------------------------------------------------------------------- official output


def _game_time(half: int, seconds: float) -> str:
    s = int(seconds)
    return f"{half} - {s // 60:02d}:{s % 60:02d}"


def spotting_json(game: str, halves: Mapping[int, tuple[np.ndarray, np.ndarray]], min_score: float = 0.0,
                  classes: Sequence[str] = CLASSES) -> dict[str, Any]:
    """The official ``results_spotting.json`` object of one game.

    :param halves: half (1 or 2) -> (times in seconds (T,), scores after NMS (T, C), -inf = dropped).
    :param min_score: predictions with a lower score are not written.
    """
    predictions = []
    for half in sorted(halves):
        times, scores = halves[half]
        rows, cls = np.nonzero(np.isfinite(scores) & (scores >= min_score))
        order = np.lexsort((cls, rows))
        for t, c in zip(rows[order].tolist(), cls[order].tolist()):
            seconds = float(times[t])
            predictions.append({"gameTime": _game_time(half, seconds), "label": classes[c],
                                "position": str(int(round(seconds * 1000))), "half": str(half),
                                "confidence": str(float(scores[t, c]))})
    return {"UrlLocal": game, "predictions": predictions}


def write_spotting_json(path: str | Path, obj: Mapping[str, Any]) -> None:
    """Write a ``results_spotting.json`` atomically."""
    atomic_write(Path(path), lambda handle: json.dump(obj, handle), mode="w")


def save_raw(path: str | Path, halves: Mapping[int, tuple[np.ndarray, np.ndarray]]) -> None:
    """Keep the merged scores before NMS: ``half{h}_times`` and ``half{h}_scores`` arrays."""
    arrays = {}
    for half, (times, scores) in halves.items():
        arrays[f"half{half}_times"] = np.asarray(times)
        arrays[f"half{half}_scores"] = np.asarray(scores, dtype=np.float32)
    atomic_write(Path(path), lambda handle: np.savez(handle, **arrays), mode="wb")


def load_raw(path: str | Path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The halves saved by :func:`save_raw`."""
    with np.load(path) as data:
        halves = sorted({int(k[4:k.index("_")]) for k in data.files})
        return {h: (data[f"half{h}_times"], data[f"half{h}_scores"].astype(np.float64)) for h in halves}


def predictions_from_raw(raw_dir: str | Path, out_dir: str | Path, nms: str = "hard", window: float | None = None,
                         decay: str = "gaussian", min_score: float = 0.0) -> list[str]:
    """Redo NMS: every ``<game>/raw_predictions.npz`` under ``raw_dir`` becomes
    ``<out_dir>/<game>/results_spotting.json``. Returns the games, sorted."""
    raw_root = Path(raw_dir)
    games = sorted(p.parent.relative_to(raw_root).as_posix() for p in raw_root.rglob(RAW_FILE))
    for game in games:
        halves = load_raw(raw_root / game / RAW_FILE)
        kept = {h: (t, apply_nms(t, s, nms, window, decay)) for h, (t, s) in halves.items()}
        write_spotting_json(Path(out_dir) / game / PREDICTIONS_FILE, spotting_json(game, kept, min_score))
    return games
