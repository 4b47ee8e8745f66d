"""`sslbench cache`: list pretrainings and feature caches with size and owner, delete them by filter."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest
from click.testing import CliRunner

from sslbench import folderlock
from sslbench.cli import cli
from sslbench.housekeeping import Filters, parse_age, scan, select

TINY = ("--set", "train.max_steps=2", "--set", "model.backbone_options={width: 4}", "--set", "knn.k=[5]",
        "--no-progress")


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    """An output folder after a moco and a random run on digits (two pretrainings, four caches)."""
    out = tmp_path_factory.mktemp("cache") / "out"
    for method in ("moco", "random"):
        result = CliRunner().invoke(cli, ["run", "-m", method, "-p", "knn", "-d", "digits", "-o", str(out), *TINY])
        assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def out(populated, tmp_path):
    copy = tmp_path / "out"
    shutil.copytree(populated, copy)
    return copy


def _cache(*args):
    return CliRunner().invoke(cli, ["cache", *args])


def _kinds_by_method(out):
    return sorted((e.kind, e.method) for e in scan(out))


def _age(paths, days):
    past = time.time() - days * 86400
    for p in paths:
        os.utime(p, (past, past))


def test_cache_list_shows_every_pretraining_and_feature_cache_with_size_and_owner(out):
    result = _cache("list", "-o", str(out))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["KIND", "SIZE", "MODIFIED", "METHOD", "DATASET", "BACKBONE", "WEIGHTS", "STATE", "PATH"]
    body = lines[1:-1]
    assert sorted((line.split()[0], line.split()[5]) for line in body) == [  # size and date are two words
        ("features", "moco"), ("features", "moco"), ("features", "random"), ("features", "random"),
        ("pretrain", "moco"), ("pretrain", "random")]
    moco_dir = next((out / "pretrain").glob("moco-*"))
    pretrain_hash = moco_dir.name.rsplit("-", 1)[1]
    moco_line = next(line for line in body if line.startswith("pretrain") and " moco " in line)
    assert pretrain_hash in moco_line and "convnet-small" in moco_line and "finished" in moco_line
    assert "split train" in result.output and "split test" in result.output and "orphaned" not in result.output
    total = sum(f.stat().st_size for d in ("pretrain", "features") for f in (out / d).rglob("*") if f.is_file())
    assert lines[-1].startswith("6 item(s), ")
    assert sum(e.size for e in scan(out)) == total


def test_cache_rm_without_yes_deletes_nothing(out):
    before = sorted(out.rglob("*"))
    result = _cache("rm", "-o", str(out), "--method", "moco")
    assert result.exit_code == 0, result.output
    assert "dry run: would delete 3 item(s)" in result.output and "--yes" in result.output
    assert sorted(out.rglob("*")) == before


def test_cache_rm_by_method_deletes_its_pretraining_and_feature_caches_only(out):
    result = _cache("rm", "-o", str(out), "--method", "moco", "--yes")
    assert result.exit_code == 0, result.output
    assert "deleted 3 item(s), freed" in result.output
    assert _kinds_by_method(out) == [("features", "random"), ("features", "random"), ("pretrain", "random")]
    assert (out / "results.sqlite").is_file()  # results are never a cache


def test_cache_rm_orphaned_deletes_caches_whose_pretraining_is_gone(out):
    shutil.rmtree(next((out / "pretrain").glob("moco-*")))
    external = out / "features" / "feedfacefeedface.json"  # extracted from a --checkpoint file
    external.write_text(json.dumps({"weights": "ab" * 32, "dataset": "digits", "split": "train"}))
    assert {e.kind for e in select(scan(out), Filters(orphaned=True))} == {"features"}
    result = _cache("rm", "-o", str(out), "--orphaned", "--yes")
    assert result.exit_code == 0, result.output
    assert "deleted 2 item(s)" in result.output
    assert _kinds_by_method(out) == [("features", "?"), ("features", "random"), ("features", "random"),
                                     ("pretrain", "random")]
    assert external.exists()


def test_cache_rm_older_than_keeps_recent_entries(out):
    random_dir = next((out / "pretrain").glob("random-*"))
    weights = random_dir.name.rsplit("-", 1)[1]
    old = [*random_dir.rglob("*")]
    for meta in (out / "features").glob("*.json"):
        if json.loads(meta.read_text())["weights"] == weights:
            old += list((out / "features").glob(meta.name.split(".")[0] + ".*"))
    _age(old, days=10)
    result = _cache("rm", "-o", str(out), "--older-than", "7d", "--yes")
    assert result.exit_code == 0, result.output
    assert _kinds_by_method(out) == [("features", "moco"), ("features", "moco"), ("pretrain", "moco")]


def test_cache_rm_unfinished_and_kind_filters(out):
    moco_dir = next((out / "pretrain").glob("moco-*"))
    (moco_dir / "backbone.pt").unlink()  # as if stopped before its last epoch
    assert "unfinished (epoch 1/" in _cache("list", "-o", str(out), "--unfinished").output
    result = _cache("rm", "-o", str(out), "--unfinished", "--kind", "pretrain", "--yes")
    assert "deleted 1 item(s)" in result.output and not moco_dir.exists()


def test_cache_rm_never_deletes_a_running_pretraining(out):
    moco_dir = next((out / "pretrain").glob("moco-*"))
    with folderlock.hold(moco_dir, "pretraining folder"):
        assert "running" in _cache("list", "-o", str(out), "--kind", "pretrain").output
        result = _cache("rm", "-o", str(out), "--all", "--yes")
    assert result.exit_code == 0, result.output
    assert "deleted 5 item(s)" in result.output and "kept 1 in use by a running process" in result.output
    assert (moco_dir / "backbone.pt").is_file()


def test_cache_lists_and_deletes_leftover_temp_files(out):
    tmp = out / "features" / ".0123.features.npy.abcdef.tmp"
    tmp.write_bytes(b"x" * 100)
    _age([tmp], days=1)
    assert [e.kind for e in select(scan(out), Filters(kinds=["temp"]))] == ["temp"]
    result = _cache("rm", "-o", str(out), "--kind", "temp", "--yes")
    assert "deleted 1 item(s)" in result.output and not tmp.exists()


def test_cache_rm_needs_a_filter_and_bad_filters_are_one_line(out):
    for args, expected in [(("rm",), "cache rm needs a filter"),
                           (("rm", "--older-than", "7x"), "invalid --older-than '7x'"),
                           (("list", "--kind", "feature"), "invalid --kind 'feature'")]:
        result = _cache(*args, "-o", str(out))
        assert result.exit_code == 2 and expected in result.output and len(result.output.strip().splitlines()) == 1


def test_parse_age_units():
    assert [parse_age(t) for t in ("90s", "30m", "36h", "7d", "2w", "1.5d")] == [
        90, 1800, 129600, 604800, 1209600, 129600]
