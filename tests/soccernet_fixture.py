"""A tiny SoccerNet-v2 root written by hand, independently of ``sslbench.spotting.synthetic``:
``<split>/<league>/<season>/<game>/Labels-v2.json`` (the official fields), frames of each half at
2 fps as ``<half>/000001.jpg ...`` and 1 fps features ``<half>_baidu_soccer_embeddings.npy``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

CLASSES = ["Penalty", "Kick-off", "Goal", "Substitution", "Offside", "Shots on target", "Shots off target",
           "Clearance", "Ball out of play", "Throw-in", "Foul", "Indirect free-kick", "Direct free-kick", "Corner",
           "Yellow card", "Red card", "Yellow->red card"]
GAMES = {"train": ["england_epl/2014-2015/2015-02-21 - 18-00 Chelsea 1 - 1 Burnley",
                   "spain_laliga/2016-2017/2017-04-08 - 21-45 Malaga 2 - 0 Barcelona"],
         "test": ["italy_serie-a/2016-2017/2016-09-25 - 21-45 AS Roma 4 - 0 Torino"]}


def write_root(root: Path, frames_per_half: int = 24, size: int = 32, feature_dim: int = 24, seed: int = 0) -> Path:
    """Write the games of :data:`GAMES`; each half has a few labelled actions, and the frames around
    an action carry a mark whose colour depends on the class (so a model can learn something)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    colours = rng.integers(0, 256, (len(CLASSES), 3))
    for split, games in GAMES.items():
        for game in games:
            folder = root / split / game
            annotations = []
            for half in (1, 2):
                seconds = sorted(rng.choice(np.arange(1, frames_per_half // 2 - 1), size=4, replace=False))
                events = [(float(s), int(rng.integers(1, len(CLASSES)))) for s in seconds]
                for s, c in events:
                    ms = int(s * 1000) + int(rng.integers(0, 500))
                    annotations.append({"gameTime": f"{half} - {int(s) // 60:02d}:{int(s) % 60:02d}",
                                        "label": CLASSES[c], "position": str(ms), "team": "home",
                                        "visibility": "not shown" if rng.random() < 0.25 else "visible"})
                frames = folder / str(half)
                frames.mkdir(parents=True)
                for k in range(frames_per_half):
                    pixels = rng.integers(60, 120, (size, size, 3), dtype=np.uint8)
                    for s, c in events:
                        if abs(k / 2 - s) <= 1.0:
                            pixels[: size // 2, : size // 2] = colours[c]
                    Image.fromarray(pixels).save(frames / f"{k + 1:06d}.jpg", quality=95)
                features = rng.normal(size=(frames_per_half // 2, feature_dim)).astype(np.float32)
                np.save(folder / f"{half}_baidu_soccer_embeddings.npy", features)
            (folder / "Labels-v2.json").write_text(json.dumps({"UrlLocal": game + "/", "annotations": annotations}))
    return root
