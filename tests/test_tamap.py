"""t-AmAP (thesis 6.1, 6.4.1): equal to the official SoccerNet evaluator, its quirks included.

The oracle is ``SoccerNet.Evaluation.ActionSpotting.evaluate`` from the ``SoccerNet`` package
(a test extra): it runs on SoccerNet-style folders written by :mod:`sslbench.spotting.synthetic`
and on hand-made edge games, and every key must agree to 1e-9, for tight and loose.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli

from sslbench.contract.errors import SSLBenchError
from sslbench.spotting import tamap
from sslbench.spotting.synthetic import synthetic_games, write_games
from sslbench.spotting.tamap import CLASSES, HALF_FRAMES, evaluate_folders, evaluate_spotting

TOL = 1e-9


# --------------------------------------------------------------------------- the oracle


def official_evaluate(labels_dir: Path, predictions_dir: Path, metric: str) -> dict:
    """The official result, plus the mAP at each tolerance (recorded from its ``delta_curve``)."""
    saved = np.geterr()
    try:
        from SoccerNet.Evaluation import ActionSpotting
        from SoccerNet.Evaluation.utils import EVENT_DICTIONARY_V2
    except ImportError:  # pragma: no cover - the oracle is a test extra and must run
        pytest.fail("the oracle is missing: pip install SoccerNet (or pip install -e '.[test]')")
    finally:
        np.seterr(**saved)  # its import silences numpy's division warnings process-wide
    curve = {}
    original = ActionSpotting.delta_curve

    def recording_delta_curve(*args, **kwargs):
        out = original(*args, **kwargs)
        curve["mAP"], curve["mAP_visible"], curve["mAP_unshown"] = out[0], out[2], out[4]
        curve["mAP_per_class"], curve["mAP_per_class_visible"], curve["mAP_per_class_unshown"] = out[1], out[3], out[5]
        return out

    ActionSpotting.delta_curve = recording_delta_curve
    try:
        with np.errstate(divide="ignore", invalid="ignore"):  # its 0/0 are intended
            result = ActionSpotting.evaluate(str(labels_dir), str(predictions_dir), dataset=None, metric=metric,
                                             EVENT_DICTIONARY=EVENT_DICTIONARY_V2)
    finally:
        ActionSpotting.delta_curve = original
    return {**result, **curve}


def assert_equal_to_official(ours: dict, official: dict) -> None:
    for key in ("a_mAP", "a_mAP_visible", "a_mAP_unshown"):
        assert ours[key] == pytest.approx(official[key], abs=TOL), key
    for key in ("a_mAP_per_class", "a_mAP_per_class_visible", "a_mAP_per_class_unshown"):
        assert [ours[key][name] for name in CLASSES] == pytest.approx(list(official[key]), abs=TOL), key
    for key in ("mAP", "mAP_visible", "mAP_unshown"):
        assert list(ours[key].values()) == pytest.approx(list(official[key]), abs=TOL), key
    for key in ("mAP_per_class", "mAP_per_class_visible", "mAP_per_class_unshown"):  # AP per class per tolerance
        assert list(ours[key]) == [str(t) for t in ours["tolerances"]], key
        for row, official_row in zip(ours[key].values(), official[key]):
            assert [row[name] for name in CLASSES] == pytest.approx(list(official_row), abs=TOL), key


def write(root: Path, games: dict) -> tuple[Path, Path]:
    write_games(root / "labels", root / "predictions", games)
    return root / "labels", root / "predictions"


@pytest.fixture(scope="module")
def quirky(tmp_path_factory):
    """Four generated games with every quirk (see synthetic.py), dense enough for runs of events."""
    games = synthetic_games(7, 4, half_seconds=900, event_period=20, predictions_per_half=400)
    return games, *write(tmp_path_factory.mktemp("quirky"), games)


# --------------------------------------------------------------------------- equality with the oracle


def test_generated_games_carry_every_quirk(quirky):
    games, _, _ = quirky
    annotations = [a for labels, _ in games.values() for a in labels["annotations"]]
    predictions = [p for _, preds in games.values() for p in preds["predictions"]]
    assert {a.get("visibility") for a in annotations} == {"shown", "not shown", None}
    assert any("position" not in a for a in annotations)
    assert {int(a["gameTime"][0]) for a in annotations} == {1, 2}
    labelled = {a["label"] for a in annotations}
    assert "Penalty" not in labelled and "Red card" not in labelled  # classes without events
    frames = [(a["gameTime"][0], a["label"], int(a["position"]) // 500) for a in annotations if "position" in a]
    assert len(frames) > len(set(frames))  # two events of one class in one frame
    pred_frames = [(int(p["half"]), p["label"], int(p["position"]) // 500) for p in predictions]
    assert len(pred_frames) > len(set(pred_frames))
    assert any(int(p["position"]) > 900_000 for p in predictions)  # past the end of the half
    assert any(int(p["position"]) >= 7_200_000 for p in predictions)  # past the official 120 min
    assert any(float(p["confidence"]) < 0 for p in predictions)


@pytest.mark.parametrize("metric", ["tight", "loose"])
def test_tamap_matches_official_evaluator(quirky, metric):
    _, labels_dir, predictions_dir = quirky
    ours = evaluate_folders(labels_dir, predictions_dir, metric)
    assert_equal_to_official(ours, official_evaluate(labels_dir, predictions_dir, metric))
    assert ours["tolerances"] == list(tamap.TOLERANCES[metric])
    assert ours["a_mAP_per_class"]["Penalty"] == 0.0  # a class without events scores 0 (in the mean too)
    assert 0 < ours["a_mAP"] < 1


def _event(half: int, seconds: float, label: str, visibility: str | None = "shown", position: bool = True) -> dict:
    ms = int(round(seconds * 1000))
    s = int(seconds)
    event = {"gameTime": f"{half} - {s // 60:02d}:{s % 60:02d}", "label": label}
    if position:
        event["position"] = str(ms)
    if visibility is not None:
        event["visibility"] = visibility
    return event


def _prediction(half: int, seconds: float, label: str, confidence: float) -> dict:
    return {"gameTime": "", "label": label, "position": int(round(seconds * 1000)), "half": half,
            "confidence": confidence}


def edge_games() -> dict:
    """Hand-made games: unshown-only classes, ties, runs of events closer than the tolerance,
    events on the first and the last frame, a game without predictions, one without events."""
    run = [_event(1, 100 + i * 0.8, "Foul", "not shown" if i % 2 else "shown") for i in range(8)]
    ties = [_prediction(1, 100 + k * 0.5, "Foul", 0.5 if k % 3 else 0.7) for k in range(-10, 30)]
    ends = [_event(2, 0.0, "Corner"), _event(2, 7199.9, "Corner", None), _event(1, 7300.0, "Kick-off")]
    end_predictions = [_prediction(2, 0.2, "Corner", 0.9), _prediction(2, 7500.0, "Corner", 0.4),
                       _prediction(1, 9999.0, "Kick-off", 0.6), _prediction(2, 0.0, "Corner", 0.95)]
    unshown = [_event(1, 300 + 7 * i, "Goal", "not shown", position=i % 2 == 0) for i in range(5)]
    unshown_predictions = [_prediction(1, 300 + 7 * i + (i - 2) * 0.6, "Goal", 0.1 * i) for i in range(5)]
    thresholds = [_prediction(2, 50 + i, "Clearance", float(t)) for i, t in enumerate(np.linspace(0, 1, 200)[::7])]
    return {
        "league/season/a": ({"annotations": run + ends + unshown + [_event(2, 60, "Clearance")]},
                            {"predictions": ties + end_predictions + unshown_predictions + thresholds}),
        "league/season/b - no predictions": ({"annotations": [_event(1, 20, "Goal"), _event(2, 30, "Foul")]},
                                             {"predictions": []}),
        "league/season/c - no events": ({"annotations": []},
                                        {"predictions": [_prediction(1, 20, "Goal", 0.8), _prediction(2, 5, "Foul", 1.0)]}),
    }


def test_tamap_matches_official_evaluator_on_edge_games(tmp_path):
    labels_dir, predictions_dir = write(tmp_path, edge_games())
    ours = evaluate_folders(labels_dir, predictions_dir, "tight")
    assert_equal_to_official(ours, official_evaluate(labels_dir, predictions_dir, "tight"))


# --------------------------------------------------------------------------- the pieces, against plain loops


def _reference_matches(gt_key, pred_key, pred_score, radius):
    """Each event in time order takes the best unmatched prediction of its stream within radius."""
    matched = np.zeros(len(pred_key), dtype=bool)
    for g in gt_key:
        best = None
        for i, p in enumerate(pred_key):
            same_stream = p // HALF_FRAMES == g // HALF_FRAMES
            if same_stream and abs(p - g) <= radius and not matched[i]:
                if best is None or pred_score[i] > pred_score[best]:
                    best = i
        if best is not None:
            matched[best] = True
    return matched


def _reference_closest(gt_key, gt_value, pred_key):
    out = []
    for p in pred_key:
        stream = p // HALF_FRAMES
        events = [(k % HALF_FRAMES, v) for k, v in zip(gt_key, gt_value) if k // HALF_FRAMES == stream]
        value = -1.0
        for j, (frame, v) in enumerate(events):
            start = 0 if j == 0 else (events[j - 1][0] + frame) // 2
            if p % HALF_FRAMES >= start:
                value = v
        out.append(value)
    return np.array(out)


@pytest.mark.parametrize("seed", range(20))
def test_matching_and_visibility_equal_plain_loops(seed):
    rng = np.random.default_rng(seed)
    streams = rng.integers(0, 3, 2) * HALF_FRAMES
    span = int(rng.integers(20, 300))
    gt_key = np.unique(rng.choice(streams, 25) + rng.integers(0, span, 25))
    gt_key[rng.random(len(gt_key)) < 0.1] = HALF_FRAMES - 1  # the last frame of stream 0
    gt_key = np.unique(gt_key)
    pred_key = np.unique(rng.choice(streams, 120) + rng.integers(0, span, 120))
    pred_score = rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], len(pred_key))  # many ties
    gt_value = rng.choice([-1.0, 1.0], len(gt_key))
    for radius in (1, 2, 5, 30, 60):
        assert (tamap.match_predictions(gt_key, pred_key, pred_score, radius)
                == _reference_matches(gt_key, pred_key, pred_score, radius)).all(), radius
    assert (tamap.closest_event_values(gt_key, gt_value, pred_key)
            == _reference_closest(gt_key, gt_value, pred_key)).all()


def test_same_frame_events_and_predictions_keep_the_last_written():
    labels = {"annotations": [_event(1, 10.1, "Goal", "shown"), _event(1, 10.4, "Goal", "not shown")]}
    binned = tamap.parse_labels(labels)
    assert binned.value.tolist() == [-1.0]
    predictions = {"predictions": [_prediction(1, 10.1, "Goal", 0.9), _prediction(1, 10.3, "Goal", -1.0),
                                   _prediction(1, 10.6, "Goal", 0.2)]}
    assert tamap.parse_predictions(predictions).value.tolist() == [0.2]  # frame 20 erased, frame 21 kept


# --------------------------------------------------------------------------- inputs, paths and the CLI


def test_parsed_json_typed_decoder_and_json_fallback_agree(quirky, monkeypatch):
    games, labels_dir, predictions_dir = quirky
    from_files = evaluate_folders(labels_dir, predictions_dir, "tight")
    from_dicts = evaluate_spotting({g: labels for g, (labels, _) in games.items()},
                                   {g: preds for g, (_, preds) in games.items()}, "tight")
    monkeypatch.setattr(tamap, "_typed_decoder", lambda: None)
    without_msgspec = evaluate_folders(labels_dir, predictions_dir, "tight")
    assert from_files == from_dicts == without_msgspec


def test_predictions_the_typed_decoder_rejects_are_read_like_the_official_code(tmp_path):
    odd = {"predictions": [
        {"position": 1234.7, "half": "1", "label": "Goal", "confidence": "0.5"},  # int(1234.7)
        {"position": " 5600", "half": True, "label": "Goal", "confidence": " .25"},  # int(" 5600"), float(" .25")
        {"position": "7000", "half": 2, "label": "Foul", "confidence": "-1"},  # negative: no prediction
    ]}
    path = tmp_path / "results_spotting.json"
    path.write_text(json.dumps(odd))
    via_file = tamap.read_predictions(path)
    via_dict = tamap.parse_predictions(odd)
    assert via_file.key.tolist() == via_dict.key.tolist() == [2 * HALF_FRAMES + 2, 2 * HALF_FRAMES + 11]  # Goal = 2
    assert via_file.value.tolist() == via_dict.value.tolist() == [0.5, 0.25]


def test_nan_confidence_is_an_error_naming_the_file(tmp_path):
    """The official code would silently drop a NaN; sslbench refuses it (a NaN is a broken model)."""
    path = tmp_path / "results_spotting.json"
    path.write_text(json.dumps({"predictions": [{"position": "7000", "half": 2, "label": "Foul",
                                                 "confidence": "nan"}]}))
    with pytest.raises(SSLBenchError, match="results_spotting.json: prediction 0 has confidence NaN"):
        tamap.read_predictions(path)


def _one_game(tmp_path: Path, labels_text: str | None = None, predictions_text: str | None = None) -> tuple[Path, Path]:
    labels, predictions = tmp_path / "labels" / "g", tmp_path / "predictions" / "g"
    labels.mkdir(parents=True)
    predictions.mkdir(parents=True)
    (labels / "Labels-v2.json").write_text(labels_text or json.dumps({"annotations": [_event(1, 10, "Goal")]}))
    (predictions / "results_spotting.json").write_text(
        predictions_text or json.dumps({"predictions": [_prediction(1, 10, "Goal", 0.5)]}))
    return tmp_path / "labels", tmp_path / "predictions"


@pytest.mark.parametrize("labels_text, predictions_text, message", [
    ('{"annotations": [', None, "Labels-v2.json: not valid JSON"),
    (None, '{"predictions": [{"position": "1",', "results_spotting.json: not valid JSON"),
    (json.dumps({"annotations": [_event(1, 10, "Free kick")]}), None, "unknown label 'Free kick'"),
    (None, json.dumps({"predictions": [_prediction(1, 10, "Kickoff", 0.5)]}), "prediction 0 has unknown label 'Kickoff'"),
    (None, json.dumps({"predictions": [_prediction(3, 10, "Goal", 0.5)]}), "is in half 3; expected 1 or 2"),
    (None, json.dumps({"predictions": [{"label": "Goal", "half": 1, "confidence": 0.5}]}), "prediction 0 is malformed"),
    (json.dumps({"events": []}), None, "expected a JSON object with a list 'annotations'"),
])
def test_bad_input_raises_naming_the_file(tmp_path, labels_text, predictions_text, message):
    labels_dir, predictions_dir = _one_game(tmp_path, labels_text, predictions_text)
    with pytest.raises(SSLBenchError, match=message) as info:
        evaluate_folders(labels_dir, predictions_dir)
    assert str(tmp_path) in str(info.value)


def test_missing_game_names_the_missing_file(tmp_path):
    labels_dir, predictions_dir = _one_game(tmp_path)
    (labels_dir / "other" / "game").mkdir(parents=True)
    (labels_dir / "other" / "game" / "Labels-v2.json").write_text('{"annotations": []}')
    with pytest.raises(SSLBenchError, match=r"other/game/results_spotting.json: missing predictions"):
        evaluate_folders(labels_dir, predictions_dir)
    with pytest.raises(SSLBenchError, match="no predictions for game 'g'"):
        evaluate_spotting({"g": {"annotations": []}}, {})
    with pytest.raises(SSLBenchError, match="unknown t-AmAP metric 'medium'"):
        evaluate_spotting({}, {}, "medium")


def test_cli_prints_json_and_a_table(quirky):
    _, labels_dir, predictions_dir = quirky
    out = run_cli("tamap", str(labels_dir), str(predictions_dir), "--metric", "loose", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result == evaluate_folders(labels_dir, predictions_dir, "loose")
    assert set(result["a_mAP_per_class"]) == set(CLASSES) and list(result["mAP"]) == [str(t) for t in range(5, 65, 5)]
    assert list(result["mAP_per_class"]) == list(result["mAP"])  # per-class AP at each tolerance
    assert all(set(row) == set(CLASSES) for row in result["mAP_per_class_unshown"].values())
    table = run_cli("tamap", str(labels_dir), str(predictions_dir))
    assert table.returncode == 0 and "a_mAP" in table.stdout and "Yellow->red card" in table.stdout
    assert table.stdout.startswith("t-AmAP (tight, tolerances 1, 2, 3, 4, 5 s, 4 games)")  # tight by default


def test_cli_error_is_one_line(tmp_path):
    labels_dir, predictions_dir = _one_game(tmp_path, None, '{"predictions": [')
    out = run_cli("tamap", str(labels_dir), str(predictions_dir))
    assert out.returncode != 0
    assert out.stderr.strip().count("\n") == 0 and "results_spotting.json: not valid JSON" in out.stderr
    missing = run_cli("tamap", str(tmp_path / "nowhere"), str(predictions_dir))
    assert missing.returncode != 0 and "labels folder not found" in missing.stderr
