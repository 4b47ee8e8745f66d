"""t-AmAP: the average-mAP of SoccerNet-v2 action spotting (thesis 6.1 and 6.4.1).

Gives the numbers of the official evaluator (``SoccerNet.Evaluation.ActionSpotting.evaluate`` of
the ``soccernet`` pip package) on any valid input, computed on arrays instead of loops over
frames and predictions. The official definition, quirks included:

1. **Binning.** An event or prediction at ``position`` ms lies in frame
   ``int(2 * (position / 1000))`` of its half (2 fps); labels without ``position`` use the minutes
   and seconds of ``gameTime``. A half has 120 min of frames: later positions fall in the last
   frame. Two events (or two predictions) of one class in one frame are one: the last written wins,
   and a prediction whose confidence is negative is no prediction (after overwriting).
2. **Visibility.** An event is "unshown" when its ``visibility`` is ``"not shown"``, else visible
   (missing ``visibility`` included). A prediction takes the visibility of the event of its class
   whose region holds it, regions being cut half-way between consecutive events; in a half without
   events of its class it counts as unshown.
3. **Matching**, for a tolerance of ``delta`` seconds: the events of a class, in time order, each
   take the unmatched prediction of highest confidence within ``delta / 2`` seconds (the earliest on
   ties). Matched predictions are true positives; the visible and unshown variants reuse them.
4. **AP** per class: precision and recall at 200 thresholds ``linspace(0, 1, 200)`` (a prediction
   counts when its confidence is >= the threshold; 0/0 is 0), 11-point interpolated. The mAP is the
   mean over all 17 classes (a class without events scores 0).
5. **Average over tolerances**: trapezoid rule over the tolerance index. The unshown average is
   multiplied by 17/13, as the official code does.

Matching is sequential only within runs of events whose windows share predictions; the runs are
processed side by side, one event of each run per step. Invalid input (malformed JSON, a label
outside the 17 classes, a half other than 1 or 2, a negative position, a missing game) raises
:class:`sslbench.contract.errors.SSLBenchError` naming the file, where the official code skips or crashes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from ..contract.errors import SSLBenchError

#: The 17 SoccerNet-v2 classes, in the official index order.
CLASSES: tuple[str, ...] = (
    "Penalty", "Kick-off", "Goal", "Substitution", "Offside", "Shots on target", "Shots off target",
    "Clearance", "Ball out of play", "Throw-in", "Foul", "Indirect free-kick", "Direct free-kick",
    "Corner", "Yellow card", "Red card", "Yellow->red card",
)
CLASS_INDEX: dict[str, int] = {name: i for i, name in enumerate(CLASSES)}
FRAMERATE = 2
#: Frames the official code allots to one half (120 min at 2 fps); later positions are clipped.
HALF_FRAMES = 120 * 60 * FRAMERATE
#: Tolerances (seconds) of each metric: "tight" is the t-AmAP of the thesis, "loose" SoccerNet-v1/v2's.
TOLERANCES: dict[str, tuple[int, ...]] = {
    "tight": (1, 2, 3, 4, 5),
    "loose": tuple(range(5, 65, 5)),
}
N_THRESHOLDS = 200
LABELS_FILE = "Labels-v2.json"
PREDICTIONS_FILE = "results_spotting.json"

_N_CLASSES = len(CLASSES)
_GAME_KEYS = 2 * _N_CLASSES * HALF_FRAMES  # keys of one game: (half, class) streams x frames


# --------------------------------------------------------------------------- parsing one game


@dataclass(frozen=True)
class Binned:
    """One game's events or predictions after binning: one entry per (half, class, frame).

    ``key = ((half - 1) * 17 + class) * HALF_FRAMES + frame``, sorted and unique; ``value`` is +1
    (visible) / -1 (unshown) for events, the confidence (>= 0) for predictions.
    """

    key: np.ndarray
    value: np.ndarray


def _last_wins(key: np.ndarray, value: np.ndarray) -> Binned:
    """Keep the last entry written for each key (the official code overwrites a frame)."""
    unique, first_from_end = np.unique(key[::-1], return_index=True)
    return Binned(unique.astype(np.int64), value[::-1][first_from_end])


def _entries(obj: Any, field: str, source: str) -> list:
    if not isinstance(obj, dict) or not isinstance(obj.get(field), list):
        raise SSLBenchError(f"{source}: expected a JSON object with a list {field!r}")
    return obj[field]


def _class_of(label: Any, source: str, what: str) -> int:
    index = CLASS_INDEX.get(label) if isinstance(label, str) else None
    if index is None:
        raise SSLBenchError(f"{source}: {what} has unknown label {label!r}; expected one of the 17 "
                            f"SoccerNet-v2 classes ({', '.join(CLASSES)})")
    return index


def _check_half(half: int, source: str, what: str) -> None:
    if half not in (1, 2):
        raise SSLBenchError(f"{source}: {what} is in half {half}; expected 1 or 2")


def parse_labels(obj: Any, source: str = LABELS_FILE) -> Binned:
    """Bin the annotations of one ``Labels-v2.json`` object (``source`` names it in errors)."""
    annotations = _entries(obj, "annotations", source)
    keys, values = [], []
    for i, ann in enumerate(annotations):
        what = f"annotation {i}"
        try:
            time = ann["gameTime"]
            label = ann["label"]
            half = int(time[0])
            minutes, seconds = int(time[-5:-3]), int(time[-2:])
            if "position" in ann:
                position = int(ann["position"])
                if position < 0:
                    raise ValueError(f"negative position {position}")
                frame = int(FRAMERATE * (position / 1000))
            else:
                frame = FRAMERATE * (seconds + 60 * minutes)
        except (KeyError, TypeError, ValueError, IndexError, OverflowError) as exc:
            raise SSLBenchError(f"{source}: {what} is malformed ({type(exc).__name__}: {exc}); expected "
                                '"gameTime" like "1 - 12:34", "label", optionally "position" (ms) and '
                                '"visibility"') from None
        cls = _class_of(label, source, what)
        _check_half(half, source, what)
        if frame < 0:
            raise SSLBenchError(f"{source}: {what} has a negative time {time!r}")
        frame = min(frame, HALF_FRAMES - 1)
        keys.append(((half - 1) * _N_CLASSES + cls) * HALF_FRAMES + frame)
        values.append(-1.0 if ann.get("visibility") == "not shown" else 1.0)
    return _last_wins(np.array(keys, dtype=np.int64), np.array(values, dtype=np.float64))


def parse_predictions(obj: Any, source: str = PREDICTIONS_FILE) -> Binned:
    """Bin the predictions of one ``results_spotting.json`` object (``source`` names it in errors).

    Fields are read as the official code reads them: ``int(position)``, ``int(half)``,
    ``float(confidence)``, so numbers may be written as JSON numbers or strings.
    """
    predictions = _entries(obj, "predictions", source)
    n = len(predictions)
    try:  # C-level loops over the list of dicts
        position = np.fromiter(map(int, map(itemgetter("position"), predictions)), np.int64, n)
        half = np.fromiter(map(int, map(itemgetter("half"), predictions)), np.int64, n)
        cls = np.fromiter(map(CLASS_INDEX.get, map(itemgetter("label"), predictions), repeat(-1)), np.int64, n)
        confidence = np.fromiter(map(float, map(itemgetter("confidence"), predictions)), np.float64, n)
    except (KeyError, TypeError, ValueError, OverflowError):
        _raise_bad_prediction(predictions, source)
        raise  # unreachable: _raise_bad_prediction always raises
    return _bin_predictions(position, half, cls, confidence, lambda i: predictions[i]["label"], source)


def _bin_predictions(position: np.ndarray, half: np.ndarray, cls: np.ndarray, confidence: np.ndarray,
                     label_of: Callable[[int], Any], source: str) -> Binned:
    bad = np.flatnonzero((cls < 0) | ((half != 1) & (half != 2)) | (position < 0))
    if len(bad):
        i = int(bad[0])
        what = f"prediction {i}"
        _class_of(label_of(i), source, what)
        _check_half(int(half[i]), source, what)
        raise SSLBenchError(f"{source}: {what} has a negative position {int(position[i])}")
    nan = np.flatnonzero(np.isnan(confidence))
    if len(nan):
        raise SSLBenchError(f"{source}: prediction {int(nan[0])} has confidence NaN: expected a number "
                            f"({len(nan)} NaN confidences in all)")
    frame = np.minimum(np.trunc(FRAMERATE * (position / 1000)).astype(np.int64), HALF_FRAMES - 1)
    binned = _last_wins(((half - 1) * _N_CLASSES + cls) * HALF_FRAMES + frame, confidence)
    kept = binned.value >= 0  # a negative confidence is no prediction
    return Binned(binned.key[kept], binned.value[kept])


def _raise_bad_prediction(predictions: list, source: str) -> None:
    """Find the first malformed prediction and raise an error naming it (the slow path)."""
    for i, pred in enumerate(predictions):
        what = f"prediction {i}"
        try:
            position, _, _ = int(pred["position"]), int(pred["half"]), float(pred["confidence"])
            label = pred["label"]
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise SSLBenchError(f"{source}: {what} is malformed ({type(exc).__name__}: {exc}); expected "
                                '"position" (ms), "half" (1 or 2), "label" and "confidence"') from None
        if not 0 <= position < 2**62:
            raise SSLBenchError(f"{source}: {what} has a position out of range: {position}")
        _class_of(label, source, what)
    raise SSLBenchError(f"{source}: malformed predictions")


@lru_cache(maxsize=None)
def _typed_decoder() -> Any:
    """A msgspec decoder of ``results_spotting.json`` straight into typed records, or None
    without msgspec. Five times faster than ``json`` + :func:`parse_predictions` on real files."""
    try:
        import msgspec
    except ImportError:
        return None
    record = msgspec.defstruct("Prediction", [("position", int), ("half", int), ("label", str),
                                              ("confidence", float)], gc=False)
    document = msgspec.defstruct("Predictions", [("predictions", list[record])], gc=False)
    # strict=False reads "123" as 123 and "0.5" as 0.5, as int() and float() do
    return msgspec.json.Decoder(document, strict=False), (msgspec.DecodeError, msgspec.ValidationError)


def read_predictions(path: str | Path) -> Binned:
    """Read and bin one ``results_spotting.json``; errors name ``path``.

    With msgspec installed, the file is decoded straight into typed records; whatever that
    decoder rejects (for example ``"position": 1234.5`` or a non-UTF-8 file) goes through
    ``json`` and :func:`parse_predictions`, which read it as the official code does or raise.
    Where the two could differ (a position written "1e3" or "12.0", which the official code
    rejects) the typed decoder reads the number.
    """
    path = Path(path)
    raw = _read_bytes(path)
    decoder = _typed_decoder()
    if decoder is not None:
        decode, errors = decoder
        try:
            predictions = decode.decode(raw).predictions
            n = len(predictions)
            position = np.fromiter(map(attrgetter("position"), predictions), np.int64, n)
            half = np.fromiter(map(attrgetter("half"), predictions), np.int64, n)
            cls = np.fromiter(map(CLASS_INDEX.get, map(attrgetter("label"), predictions), repeat(-1)), np.int64, n)
            confidence = np.fromiter(map(attrgetter("confidence"), predictions), np.float64, n)
        except (*errors, OverflowError):
            pass
        else:
            return _bin_predictions(position, half, cls, confidence, lambda i: predictions[i].label, str(path))
    return parse_predictions(_decode_json(raw, path), str(path))


# --------------------------------------------------------------------------- the metric on arrays


def closest_event_values(gt_key: np.ndarray, gt_value: np.ndarray, pred_key: np.ndarray) -> np.ndarray:
    """Per prediction, the value (+1 visible, -1 unshown) of the event of its stream whose region
    holds it; -1 in a stream without events. Region ``k`` starts at frame
    ``(f[k-1] + f[k]) // 2`` (0 for the first event of a stream): the official ``closest``.

    Keys are ``stream * HALF_FRAMES + frame``, sorted; a stream is one (game, half, class).
    """
    if len(gt_key) == 0:
        return np.full(len(pred_key), -1.0)
    stream, frame = np.divmod(gt_key, HALF_FRAMES)
    start = np.zeros_like(frame)
    same = stream[1:] == stream[:-1]
    start[1:] = np.where(same, (frame[:-1] + frame[1:]) // 2, 0)
    region = np.searchsorted(stream * HALF_FRAMES + start, pred_key, side="right") - 1
    safe = np.maximum(region, 0)
    inside = (region >= 0) & (stream[safe] == pred_key // HALF_FRAMES)
    return np.where(inside, gt_value[safe], -1.0)


def match_predictions(gt_key: np.ndarray, pred_key: np.ndarray, pred_score: np.ndarray, radius: int) -> np.ndarray:
    """True positives: each event, in time order within its stream, takes the unmatched prediction
    of its stream with the highest score within ``radius`` frames (the earliest on ties).

    Events depend on each other only through predictions in both their windows, so the events are
    cut into runs whose windows share predictions; step ``j`` matches the ``j``-th event of every
    run at once (their windows are disjoint).
    """
    matched = np.zeros(len(pred_key), dtype=bool)
    if len(gt_key) == 0 or len(pred_key) == 0:
        return matched
    stream, frame = np.divmod(gt_key, HALF_FRAMES)
    base = stream * HALF_FRAMES
    lo = np.searchsorted(pred_key, base + np.maximum(frame - radius, 0), side="left")
    hi = np.searchsorted(pred_key, base + np.minimum(frame + radius, HALF_FRAMES - 1), side="right")
    index = np.arange(len(gt_key))
    run_start = np.ones(len(gt_key), dtype=bool)
    run_start[1:] = lo[1:] >= hi[:-1]  # hi is non-decreasing: no overlap with any earlier window
    step = index - np.maximum.accumulate(np.where(run_start, index, 0))
    has_window = hi > lo
    order = np.argsort(step, kind="stable")
    bounds = np.searchsorted(step[order], np.arange(step.max() + 2))
    last = len(pred_key) - 1
    for j in range(len(bounds) - 1):
        events = order[bounds[j]:bounds[j + 1]]
        events = events[has_window[events]]
        if len(events) == 0:
            continue
        first, stop = lo[events], hi[events]
        width = int((stop - first).max())
        cols = first[:, None] + np.arange(width)
        inside = cols < stop[:, None]
        cols = np.minimum(cols, last)
        candidate = np.where(inside & ~matched[cols], pred_score[cols], -np.inf)
        best = candidate.argmax(axis=1)
        rows = np.arange(len(events))
        found = candidate[rows, best] > -np.inf
        matched[cols[rows, best][found]] = True
    return matched


def interpolated_ap(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """11-point interpolated AP per row of ``(classes, thresholds)`` precision/recall arrays:
    the mean over recall levels 0, 0.1, ..., 1 of the best precision at a recall >= the level
    (0 when none)."""
    levels = np.arange(11) / 10
    reached = recall[:, None, :] >= levels[None, :, None]
    best = np.where(reached, precision[:, None, :], 0.0).max(axis=2)
    ap = np.zeros(len(precision))
    for level in range(11):  # summed in the official order
        ap += best[:, level]
    return ap / 11


def _suffix_counts(cls: np.ndarray, level: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """``(classes, thresholds)``: per class, how many predictions (or the sum of ``weights``) reach
    each threshold. ``level`` is how many thresholds are <= a prediction's score, so a prediction
    of level ``L`` counts at thresholds ``t < L``: a suffix sum from ``L = t + 1``."""
    width = N_THRESHOLDS + 1
    per_level = np.bincount(cls * width + level, weights=weights, minlength=_N_CLASSES * width)
    per_level = per_level.reshape(_N_CLASSES, width)
    return np.cumsum(per_level[:, ::-1], axis=1)[:, ::-1][:, 1:]


def precision_recall(n_hits: np.ndarray, n_detected: np.ndarray, n_gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall ``(classes, thresholds)`` from the true positives and detections at
    each threshold and the events per class; 0/0 counts as 0, as in the official code."""
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.nan_to_num(n_hits / n_detected)
        recall = np.nan_to_num(n_hits / n_gt[:, None])
    return precision, recall


def _trapezoid(values: list) -> Any:
    """The official average over tolerances: trapezoid rule over the tolerance index."""
    if len(values) == 1:
        return values[0]
    integral = 0.0
    for a, b in zip(values[:-1], values[1:]):
        integral = integral + (a + b) / 2
    return integral / (len(values) - 1)


@dataclass(frozen=True)
class SpottingCurves:
    """mAP per class ``(tolerances, classes)`` for all, visible and unshown events."""

    tolerances: tuple[int, ...]
    per_class: np.ndarray
    per_class_visible: np.ndarray
    per_class_unshown: np.ndarray


def spotting_curves(gt_key: np.ndarray, gt_value: np.ndarray, pred_key: np.ndarray, pred_score: np.ndarray,
                    tolerances: tuple[int, ...]) -> SpottingCurves:
    """The per-class mAP of every tolerance, from all games' binned events and predictions.

    Keys are ``stream * HALF_FRAMES + frame`` sorted, with ``stream = (game * 2 + half - 1) * 17 +
    class``; ``gt_value`` is +1 / -1 (visible / unshown), ``pred_score`` the confidences (>= 0).
    """
    gt_cls = (gt_key // HALF_FRAMES) % _N_CLASSES
    n_visible = np.bincount(gt_cls[gt_value > 0], minlength=_N_CLASSES)
    n_unshown = np.bincount(gt_cls[gt_value < 0], minlength=_N_CLASSES)
    pred_cls = (pred_key // HALF_FRAMES) % _N_CLASSES
    level = np.searchsorted(np.linspace(0, 1, N_THRESHOLDS), pred_score, side="right")
    closest = closest_event_values(gt_key, gt_value, pred_key)
    # (which predictions, how many events) of the three variants: all, visible, unshown
    variants = (
        (None, n_visible + n_unshown),
        (closest > 0.5, n_visible),
        (closest < -0.5, n_unshown),
    )
    # detections per threshold do not depend on the tolerance: only the true positives do
    detected = [_suffix_counts(pred_cls, level) if mask is None else _suffix_counts(pred_cls[mask], level[mask])
                for mask, _ in variants]
    curves: list[list[np.ndarray]] = [[], [], []]
    for tolerance in tolerances:
        tp = np.flatnonzero(match_predictions(gt_key, pred_key, pred_score, (tolerance * FRAMERATE) // 2))
        for curve, (mask, n_gt), n_detected in zip(curves, variants, detected):
            hits = tp if mask is None else tp[mask[tp]]
            n_hits = _suffix_counts(pred_cls[hits], level[hits], np.ones(len(hits)))
            curve.append(interpolated_ap(*precision_recall(n_hits, n_detected, n_gt)))
    return SpottingCurves(tuple(tolerances), *(np.array(curve) for curve in curves))


def summarize(curves: SpottingCurves, metric: str = "", n_games: int | None = None) -> dict[str, Any]:
    """The official result keys (``a_mAP``, ``a_mAP_per_class``, ... with per-class values keyed by
    class name) plus the mAP at each tolerance (``mAP``, ``mAP_visible``, ``mAP_unshown``: tolerance
    in seconds -> value; the unshown ones without the 17/13 factor, as in the official code) and
    each class's AP at each tolerance (``mAP_per_class``, ``_visible``, ``_unshown``: tolerance ->
    class name -> AP; the official ``delta_curve``)."""
    result: dict[str, Any] = {"metric": metric, "tolerances": list(curves.tolerances)}
    if n_games is not None:
        result["games"] = n_games
    for suffix, per_class in (("", curves.per_class), ("_visible", curves.per_class_visible),
                              ("_unshown", curves.per_class_unshown)):
        maps = [np.mean(row) for row in per_class]
        average = _trapezoid(maps)
        if suffix == "_unshown" and len(maps) > 1:
            average = average * 17 / 13  # the official factor (13 of the 17 classes have unshown events)
        per_class_average = _trapezoid(list(per_class))
        result[f"a_mAP{suffix}"] = float(average)
        result[f"a_mAP_per_class{suffix}"] = {name: float(v) for name, v in zip(CLASSES, per_class_average)}
        result[f"mAP{suffix}"] = {str(t): float(v) for t, v in zip(curves.tolerances, maps)}
        result[f"mAP_per_class{suffix}"] = {str(t): {name: float(v) for name, v in zip(CLASSES, row)}
                                            for t, row in zip(curves.tolerances, per_class)}
    return result


# --------------------------------------------------------------------------- games and folders


def _tolerances(metric: str) -> tuple[int, ...]:
    if metric not in TOLERANCES:
        raise SSLBenchError(f"unknown t-AmAP metric {metric!r}; expected one of {', '.join(TOLERANCES)}")
    return TOLERANCES[metric]


def evaluate_binned(labels: list[Binned], predictions: list[Binned], metric: str = "tight") -> dict[str, Any]:
    """t-AmAP of games given as binned arrays, ``labels[i]`` and ``predictions[i]`` of game ``i``."""
    tolerances = _tolerances(metric)
    gt_key = np.concatenate([b.key + i * _GAME_KEYS for i, b in enumerate(labels)] or [np.zeros(0, np.int64)])
    gt_value = np.concatenate([b.value for b in labels] or [np.zeros(0)])
    pred_key = np.concatenate([b.key + i * _GAME_KEYS for i, b in enumerate(predictions)] or [np.zeros(0, np.int64)])
    pred_score = np.concatenate([b.value for b in predictions] or [np.zeros(0)])
    curves = spotting_curves(gt_key, gt_value, pred_key, pred_score, tolerances)
    return summarize(curves, metric, len(labels))


def evaluate_spotting(labels: Mapping[str, Any], predictions: Mapping[str, Any], metric: str = "tight") -> dict[str, Any]:
    """t-AmAP of parsed JSON: ``labels[game]`` a ``Labels-v2.json`` object, ``predictions[game]`` a
    ``results_spotting.json`` object; every labelled game needs predictions (extra ones are
    ignored, as by the official code). ``metric`` is "tight" (1-5 s) or "loose" (5-60 s).

    Returns the keys of the official evaluator (``a_mAP``, ``a_mAP_per_class`` as class name ->
    value, ``a_mAP_visible``, ``a_mAP_unshown`` and their per-class variants) and the mAP at each
    tolerance (see :func:`summarize`).
    """
    _tolerances(metric)
    binned_labels, binned_predictions = [], []
    for game, label_obj in labels.items():
        if game not in predictions:
            raise SSLBenchError(f"{game}/{PREDICTIONS_FILE}: no predictions for game {game!r}")
        binned_labels.append(parse_labels(label_obj, f"{game}/{LABELS_FILE}"))
        binned_predictions.append(parse_predictions(predictions[game], f"{game}/{PREDICTIONS_FILE}"))
    return evaluate_binned(binned_labels, binned_predictions, metric)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SSLBenchError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _decode_json(raw: bytes, path: Path) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SSLBenchError(f"{path}: not valid JSON ({exc})") from None


def find_games(labels_dir: str | Path) -> list[str]:
    """Games under ``labels_dir``: the folders holding a ``Labels-v2.json``, as sorted relative paths."""
    root = Path(labels_dir)
    if not root.is_dir():
        raise SSLBenchError(f"{root}: labels folder not found")
    games = sorted(p.parent.relative_to(root).as_posix() for p in root.rglob(LABELS_FILE) if p.is_file())
    if not games:
        raise SSLBenchError(f"{root}: no {LABELS_FILE} found (expected <game>/{LABELS_FILE})")
    return games


def evaluate_folders(labels_dir: str | Path, predictions_dir: str | Path, metric: str = "tight") -> dict[str, Any]:
    """t-AmAP of ``<labels_dir>/<game>/Labels-v2.json`` against
    ``<predictions_dir>/<game>/results_spotting.json`` (games found recursively, matched by path)."""
    _tolerances(metric)
    predictions_root = Path(predictions_dir)
    if not predictions_root.is_dir():
        raise SSLBenchError(f"{predictions_root}: predictions folder not found")
    binned_labels, binned_predictions = [], []
    for game in find_games(labels_dir):
        label_path = Path(labels_dir) / game / LABELS_FILE
        prediction_path = predictions_root / game / PREDICTIONS_FILE
        if not prediction_path.is_file():
            raise SSLBenchError(f"{prediction_path}: missing predictions for game {game!r} (labelled in {label_path})")
        binned_labels.append(parse_labels(_decode_json(_read_bytes(label_path), label_path), str(label_path)))
        binned_predictions.append(read_predictions(prediction_path))
    return evaluate_binned(binned_labels, binned_predictions, metric)


def format_table(result: Mapping[str, Any]) -> str:
    """A readable table of a result: per class the average-mAP (all, visible, unshown), then the
    mAP at each tolerance, in percent."""
    def pct(value: float) -> str:
        return f"{100 * value:6.2f}"

    lines = [f"t-AmAP ({result['metric']}, tolerances {', '.join(map(str, result['tolerances']))} s"
             + (f", {result['games']} games)" if "games" in result else ")"),
             "",
             f"{'class':<20} {'all':>6} {'visible':>8} {'unshown':>8}",
             f"{'-' * 20} {'-' * 6} {'-' * 8} {'-' * 8}"]
    for name in CLASSES:
        lines.append(f"{name:<20} {pct(result['a_mAP_per_class'][name])} {pct(result['a_mAP_per_class_visible'][name]):>8}"
                     f" {pct(result['a_mAP_per_class_unshown'][name]):>8}")
    lines.append(f"{'-' * 20} {'-' * 6} {'-' * 8} {'-' * 8}")
    lines.append(f"{'a_mAP':<20} {pct(result['a_mAP'])} {pct(result['a_mAP_visible']):>8} {pct(result['a_mAP_unshown']):>8}")
    lines.append("")
    lines.append(f"{'tolerance (s)':<20} {'mAP':>6} {'visible':>8} {'unshown':>8}")
    for t in result["mAP"]:
        lines.append(f"{t:<20} {pct(result['mAP'][t])} {pct(result['mAP_visible'][t]):>8} {pct(result['mAP_unshown'][t]):>8}")
    return "\n".join(lines)
