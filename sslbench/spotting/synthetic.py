"""SoccerNet-v2-style label and prediction files made up from a seed, for tests and benchmarks;
:func:`write_soccernet` writes a tiny SoccerNet-style dataset (frames, labels, features).

:func:`synthetic_game` returns one game's ``Labels-v2.json`` and ``results_spotting.json``
contents. With ``quirks=True`` the game carries every case on which an action-spotting evaluator
is easy to get wrong: events without ``position`` (only ``gameTime``), not-shown events, events
without ``visibility``, two events of one class in the same 0.5 s frame, runs of close events of
one class, classes without any event, predictions past the end of the half (and past the 120
minutes the official code allots to a half), same-frame predictions, confidences of exactly 0,
1, a threshold value, above 1 or negative, and numbers written as strings or as numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .tamap import CLASSES

# Rough relative frequencies of the 17 classes in SoccerNet-v2 (Ball out of play is the most
# common, cards the rarest); only the shape matters here.
CLASS_WEIGHTS = np.array([0.2, 2, 1.5, 2.5, 2, 3, 4, 5, 30, 20, 12, 11, 3, 5, 2, 0.2, 0.2])


def _game_time(half: int, ms: int) -> str:
    seconds = int(ms // 1000)
    return f"{half} - {seconds // 60:02d}:{seconds % 60:02d}"


def synthetic_game(
    rng: np.random.Generator,
    *,
    half_seconds: float = 45 * 60,
    event_period: float = 80.0,
    predictions_per_half: int = 4000,
    classes_without_events: tuple[str, ...] = ("Penalty", "Red card"),
    quirks: bool = True,
    name: str = "game",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One game's ``(labels, predictions)`` JSON objects.

    :param half_seconds: length of each of the two halves.
    :param event_period: mean seconds between two ground-truth events (any class).
    :param predictions_per_half: about how many predictions the "model" writes per half: one
        near most events (a hit) plus low-confidence background predictions.
    :param classes_without_events: classes that get no ground-truth event (they still get
        predictions).
    :param quirks: add the edge cases listed in the module docstring.
    """
    weights = CLASS_WEIGHTS.copy()
    for cls in classes_without_events:
        weights[CLASSES.index(cls)] = 0.0
    weights /= weights.sum()
    half_ms = int(half_seconds * 1000)

    annotations: list[dict[str, Any]] = []
    predictions: list[dict[str, Any]] = []

    def add_event(half: int, ms: int, cls: int, visibility: str | None, with_position: bool = True) -> None:
        ann: dict[str, Any] = {"gameTime": _game_time(half, ms), "label": CLASSES[cls]}
        if with_position:
            ann["position"] = str(ms)
        if visibility is not None:
            ann["visibility"] = visibility
        ann["team"] = "home" if rng.random() < 0.5 else "away"
        annotations.append(ann)

    def add_prediction(half: int, ms: int, cls: int, conf: float) -> None:
        as_text = rng.random() < 0.5
        predictions.append({
            "gameTime": _game_time(half, max(ms, 0)),
            "label": CLASSES[cls],
            "position": str(ms) if as_text else int(ms),
            "half": str(half) if as_text else half,
            "confidence": str(conf) if as_text else float(conf),
        })

    for half in (1, 2):
        half_start = len(predictions)
        n_events = rng.poisson(half_seconds / event_period)
        times = rng.integers(0, half_ms, n_events)
        classes = rng.choice(len(CLASSES), n_events, p=weights)
        for ms, cls in zip(times.tolist(), classes.tolist()):
            u = rng.random()
            visibility = "shown" if u < 0.8 else "not shown" if u < 0.95 or not quirks else None
            add_event(half, ms, cls, visibility, with_position=not quirks or rng.random() > 0.1)
            # A hit of the model near the event, or a miss.
            if rng.random() < 0.8:
                offset = int(rng.normal(0, 2500))
                add_prediction(half, max(ms + offset, 0), cls, float(rng.beta(5, 2)))
            if quirks and rng.random() < 0.08:  # a run of close events of one class
                for _ in range(int(rng.integers(1, 4))):
                    ms = min(ms + int(rng.integers(500, 12000)), half_ms - 1)
                    add_event(half, ms, cls, "shown" if rng.random() < 0.7 else "not shown")
                    add_prediction(half, max(ms + int(rng.normal(0, 1500)), 0), cls, float(rng.beta(4, 2)))
            if quirks and rng.random() < 0.05:  # the same class again in the same 0.5 s frame
                twin = ms - ms % 500 + int(rng.integers(0, 500))
                add_event(half, twin, cls, "not shown" if visibility == "shown" else "shown")
        n_background = max(predictions_per_half - (len(predictions) - half_start), 0)
        times = rng.integers(0, half_ms, n_background)
        classes = rng.integers(0, len(CLASSES), n_background)
        confs = np.round(rng.beta(1, 6, n_background), 4)
        for ms, cls, conf in zip(times.tolist(), classes.tolist(), confs.tolist()):
            add_prediction(half, ms, cls, conf)
        if quirks:
            thresholds = np.linspace(0, 1, 200)
            for _ in range(10):  # past the end of the half, and past the 120 min of the official code
                add_prediction(half, half_ms + int(rng.integers(0, 600_000)), int(rng.integers(17)),
                               float(rng.random()))
            add_prediction(half, 120 * 60_000 + int(rng.integers(0, 100_000)), int(rng.integers(17)), 0.9)
            add_prediction(half, 7_200_000 - 200, int(rng.integers(17)), 0.8)
            for conf in (0.0, 1.0, 1.5, float(thresholds[int(rng.integers(200))]), -0.5):
                add_prediction(half, int(rng.integers(0, half_ms)), int(rng.integers(17)), conf)
            for _ in range(8):  # same frame, same class: the last one written wins
                prev = predictions[int(rng.integers(len(predictions)))]
                if int(prev["half"]) != half:
                    continue
                ms = int(prev["position"]) - int(prev["position"]) % 500 + int(rng.integers(0, 500))
                add_prediction(half, ms, CLASSES.index(prev["label"]), float(rng.random()))
    order = rng.permutation(len(annotations)) if quirks else np.arange(len(annotations))
    labels = {"UrlLocal": name, "annotations": [annotations[i] for i in order.tolist()]}
    return labels, {"UrlLocal": name, "predictions": predictions}


def write_games(labels_dir: str | Path, predictions_dir: str | Path, games: dict[str, tuple[dict, dict]]) -> None:
    """Write ``<labels_dir>/<game>/Labels-v2.json`` and ``<predictions_dir>/<game>/results_spotting.json``."""
    for game, (labels, predictions) in games.items():
        for root, name, obj in ((labels_dir, "Labels-v2.json", labels),
                                (predictions_dir, "results_spotting.json", predictions)):
            path = Path(root) / game / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(obj))


def synthetic_games(seed: int, n_games: int, **options: Any) -> dict[str, tuple[dict, dict]]:
    """``n_games`` games named like SoccerNet's ``league/season/date - home - away``."""
    rng = np.random.default_rng(seed)
    games = {}
    for i in range(n_games):
        name = f"england_epl/2015-2016/2015-08-{i + 1:02d} - 19-00 Team{i}A {i % 4} - {i % 3} Team{i}B"
        games[name] = synthetic_game(rng, name=name, **options)
    return games


#: A distinct bright colour per class for the event marks of :func:`write_soccernet`.
_PALETTE = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255), (255, 255, 255),
            (255, 128, 0), (128, 255, 0), (0, 128, 255), (255, 0, 128), (128, 0, 255), (0, 255, 128),
            (255, 128, 128), (128, 255, 128), (128, 128, 255), (200, 200, 0)]


def write_soccernet(root: str | Path, seed: int = 0, splits: dict[str, int] | None = None, half_seconds: float = 60.0,
                    size: tuple[int, int] = (32, 32), feature_dim: int = 64, event_period: float = 8.0,
                    classes: tuple[int, ...] = (2, 8, 9, 10), features: str = "baidu_soccer_embeddings") -> list[str]:
    """Write a tiny SoccerNet-v2-style dataset (:mod:`sslbench.spotting.soccernet` layout).

    Each split folder gets games ``league/season/game`` with two halves of ``half_seconds``:
    frames at 2 fps as small JPEGs (``<half>/000001.jpg``...), ``Labels-v2.json`` and a random
    feature file at 1 fps per half. Events are visible: the frames within 1 s of an event of
    class c show a bright square whose place and colour depend on c, and the features of its
    second carry a class direction, so a model can learn to spot them. Returns the game folders.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    splits = {"train": 2, "test": 1} if splits is None else splits
    h, w = size
    directions = rng.normal(size=(len(CLASSES), feature_dim))
    written = []
    for split, n_games in splits.items():
        for g in range(n_games):
            name = f"england_epl/2016-2017/2016-09-{g + 1:02d} - 15-00 {split}{g}A 1 - 0 {split}{g}B"
            folder = Path(root) / split / name
            annotations = []
            for half in (1, 2):
                n_frames = int(half_seconds * 2)
                n_events = max(int(rng.poisson(half_seconds / event_period)), 1)
                times = np.sort(rng.uniform(2, half_seconds - 2, n_events))
                labels = rng.choice(classes, n_events)
                frames_dir = folder / str(half)
                frames_dir.mkdir(parents=True, exist_ok=True)
                base = rng.integers(40, 90, size=3)
                for k in range(n_frames):
                    img = np.clip(base + rng.integers(-20, 20, size=(h, w, 3)), 0, 255).astype(np.uint8)
                    for t, c in zip(times, labels):
                        if abs(k / 2 - t) <= 1.0:
                            r, col = (c % 4) * h // 4, (c // 4) * w // 5
                            img[r:r + h // 4, col:col + w // 5] = _PALETTE[c]
                    Image.fromarray(img).save(frames_dir / f"{k + 1:06d}.jpg", quality=90)
                feats = rng.normal(size=(int(half_seconds), feature_dim))
                for t, c in zip(times, labels):
                    feats[int(t)] += 3 * directions[c]
                np.save(folder / f"{half}_{features}.npy", feats.astype(np.float32))
                for t, c in zip(times.tolist(), labels.tolist()):
                    ms = int(t * 1000)
                    annotations.append({"gameTime": _game_time(half, ms), "label": CLASSES[c], "position": str(ms),
                                        "team": "home", "visibility": "shown" if rng.random() < 0.8 else "not shown"})
            (folder / "Labels-v2.json").write_text(json.dumps({"UrlLocal": name, "annotations": annotations}))
            written.append(str(folder))
    return written
