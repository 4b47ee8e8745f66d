"""What identifies a cached feature file and a pretraining (issue 14, items 1, 2, 4 and 10):
features are reused only when nothing they depend on changed (weights, backbone and options,
dataset plugin and version, the split's files or tensors, transform), a pretraining only within
one world size, and a method that does not train keeps one identity whatever its training
settings."""

import os
import sqlite3
import sys
import textwrap
import types
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from sslbench import hookimpl
from sslbench.contract import loading as plugins
from sslbench.cli import cli
from sslbench.contract.dataset import DatasetSpec
from sslbench.store import read

from protocols_support import digits_context, single_thread  # noqa: F401 (autouse fixture)
from test_errors import _imagefolder

#: what the test dataset plugin divides digits' pixels by (the "bug" a plugin release fixes)
STATE = {"divide": 1}


def _scaled_digits(root, split, image_size):
    from sslbench.image.readers import TensorImageDataset, load_digits

    data = load_digits(root, split)
    return TensorImageDataset(data.images // STATE["divide"], data.labels, data.classes)


def _register(name: str, version: str | None = None, **hooks):
    module = types.ModuleType(name)
    if version is not None:
        module.__version__ = version
    for hook, fn in hooks.items():
        setattr(module, hook, hookimpl(fn))
    plugins.register_plugin(module, name)
    return module


def _digits_spec(name: str = "plugdigits") -> DatasetSpec:
    return DatasetSpec(name=name, load=_scaled_digits, num_classes=10, channels=1, needs_root=False,
                       mean=(0.5,), std=(0.25,),
                       defaults={"data": {"input_size": 8}, "model": {"backbone": "convnet-small"}})


def _run(out: Path, *args: str) -> float:
    """One ``sslbench run -m random -p knn`` into ``out``; the kNN top-1 it stored last."""
    result = CliRunner().invoke(cli, ["run", "-m", "random", "-p", "knn", "-o", str(out), "--no-progress",
                                      "--set", "knn.k=[5]", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return float(read(out / "results.sqlite")["value"].iloc[-1])


def _feature_entries(out: Path) -> int:
    return len(list((out / "features").glob("*.features.npy")))


# --------------------------------------------------------------------------- item 1: dataset side


def test_a_dataset_plugin_whose_output_changed_gets_fresh_features_not_the_cached_ones(tmp_path):
    _register("scaled_digits_plugin", register_datasets=lambda register: register(_digits_spec()))
    STATE["divide"] = 4  # the buggy release: darker images
    try:
        buggy = _run(tmp_path / "out", "-d", "plugdigits", "--set", "model.backbone_options={width: 8}")
        STATE["divide"] = 1  # the fixed release, same dataset name
        again = _run(tmp_path / "out", "-d", "plugdigits", "--set", "model.backbone_options={width: 8}")
        fresh = _run(tmp_path / "fresh", "-d", "plugdigits", "--set", "model.backbone_options={width: 8}")
    finally:
        STATE["divide"] = 1
    assert again == fresh  # the number of the data the plugin produces now
    assert buggy != fresh  # (the two data versions do give different numbers)
    assert _feature_entries(tmp_path / "out") == 4  # train and test, once per data version


def _write_dist(site: Path, version: str) -> None:
    """An installed-looking distribution ``sslbench-plugdigits`` registering ``plugdigits``."""
    site.mkdir(parents=True)
    (site / "plugdigits_dist.py").write_text(textwrap.dedent("""
        from sslbench import hookimpl
        from sslbench.contract.dataset import DatasetSpec
        from sslbench.image.readers import load_digits

        @hookimpl
        def register_datasets(register):
            register(DatasetSpec(name="plugdigits", load=lambda root, split, size: load_digits(root, split),
                                 num_classes=10, channels=1, needs_root=False,
                                 defaults={"model": {"backbone": "convnet-small"}}))
        """))
    info = site / f"sslbench_plugdigits-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: sslbench-plugdigits\nVersion: {version}\n")
    (info / "entry_points.txt").write_text("[sslbench]\nplugdigits = plugdigits_dist\n")


def test_bumping_a_dataset_plugins_version_changes_the_cache_key(tmp_path, monkeypatch):
    keys, origins = [], []
    for version in ("0.3", "0.4"):
        site = tmp_path / f"site-{version}"
        _write_dist(site, version)
        monkeypatch.setattr(sys, "path", [str(site), *[p for p in sys.path if "site-0." not in p]])
        monkeypatch.delitem(sys.modules, "plugdigits_dist", raising=False)
        plugins.reset()
        ctx, _ = digits_context(tmp_path / "features", dataset="plugdigits")
        keys.append(ctx.cache_key("test"))
        origins.append(ctx.cache_identity("test")["dataset_plugin"])
    assert origins == [{"plugin": "plugdigits", "distribution": "sslbench-plugdigits", "version": "0.3"},
                       {"plugin": "plugdigits", "distribution": "sslbench-plugdigits", "version": "0.4"}]
    assert keys[0] != keys[1]


def test_an_in_process_plugins_version_is_its_module_version(tmp_path):
    keys = []
    for version in ("1.0", "1.1"):
        _register("versioned_digits", version, register_datasets=lambda register: register(_digits_spec()))
        ctx, _ = digits_context(tmp_path / "features", dataset="plugdigits")
        keys.append(ctx.cache_key("test"))
        assert ctx.cache_identity("test")["dataset_plugin"]["version"] == version
        plugins.unregister_plugin("versioned_digits")
    assert keys[0] != keys[1]


def _folder_key(root: Path, cache: Path) -> str:
    ctx, _ = digits_context(cache, dataset="imagefolder", sets={"data": {"root": str(root), "input_size": 8}})
    return ctx.cache_key("train")


def test_touching_or_adding_a_file_in_a_folder_dataset_changes_the_key(tmp_path):
    root = tmp_path / "data"
    _imagefolder(root)
    first = _folder_key(root, tmp_path / "features")
    assert _folder_key(root, tmp_path / "features") == first  # unchanged files: the cache is reused
    image = root / "train" / "a" / "0.png"
    st = image.stat()
    os.utime(image, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    touched = _folder_key(root, tmp_path / "features")
    (root / "train" / "b" / "2.png").write_bytes((root / "train" / "b" / "0.png").read_bytes())
    added = _folder_key(root, tmp_path / "features")
    assert len({first, touched, added}) == 3
    (root / "val" / "b" / "9.png").write_bytes(image.read_bytes())  # another split: not this one's key
    assert _folder_key(root, tmp_path / "features") == added


def test_a_folder_datasets_features_are_reused_across_runs_when_nothing_changed(tmp_path):
    root = tmp_path / "data"
    _imagefolder(root)
    ctx, calls = digits_context(tmp_path / "features", dataset="imagefolder",
                                sets={"data": {"root": str(root), "input_size": 8}})
    ctx.feature_arrays("train")
    again, again_calls = digits_context(tmp_path / "features", dataset="imagefolder",
                                        sets={"data": {"root": str(root), "input_size": 8}})
    again.feature_arrays("train")
    assert calls["images"] == 8 and again_calls["forward"] == 0


def test_the_key_of_in_memory_images_follows_their_bytes(tmp_path):
    _register("scaled_digits_plugin", register_datasets=lambda register: register(_digits_spec()))
    try:
        keys = []
        for divide in (1, 1, 2):
            STATE["divide"] = divide
            ctx, _ = digits_context(tmp_path / "features", dataset="plugdigits")
            keys.append(ctx.cache_key("train"))
    finally:
        STATE["divide"] = 1
    assert keys[0] == keys[1] != keys[2]


class _Generated(torch.utils.data.Dataset):
    """Items computed on the fly: nothing a fingerprint could look at."""

    def __len__(self):
        return 20

    def __getitem__(self, index):
        return torch.full((1, 8, 8), index, dtype=torch.uint8), index % 2


def _generated_spec(cls: type) -> DatasetSpec:
    return DatasetSpec(name="generated", load=lambda root, split, size: cls(), num_classes=2, channels=1,
                       needs_root=False, mean=(0.5,), std=(0.5,), defaults={"model": {"backbone": "convnet-small"}})


def test_a_split_without_a_fingerprint_is_recomputed_never_served_from_the_cache(tmp_path):
    _register("generated_plugin", register_datasets=lambda register: register(_generated_spec(_Generated)))
    ctx, calls = digits_context(tmp_path / "features", dataset="generated")
    with pytest.warns(UserWarning, match="not cached"):
        ctx.feature_arrays("train")
    ctx.feature_arrays("train")
    assert ctx.cache_key("train") is None and calls["images"] == 40
    assert not (tmp_path / "features").exists() or not list((tmp_path / "features").iterdir())


def test_a_dataset_may_say_what_identifies_it(tmp_path):
    class Versioned(_Generated):
        revision = "a"

        def fingerprint(self):
            return {"revision": Versioned.revision}

    _register("own_fingerprint_plugin", register_datasets=lambda register: register(_generated_spec(Versioned)))
    keys = []
    for revision in ("a", "a", "b"):
        Versioned.revision = revision
        ctx, _ = digits_context(tmp_path / "features", dataset="generated")
        keys.append(ctx.cache_key("train"))
    assert keys[0] == keys[1] != keys[2]


# --------------------------------------------------------------------------- item 2: backbone side


def _pooled(variant, in_chans, pool="avg"):
    """A conv layer then global ``pool``: the option changes features, not weights."""
    conv = torch.nn.Conv2d(in_chans, 16, 3, padding=1)
    pooling = torch.nn.AdaptiveAvgPool2d(1) if pool == "avg" else torch.nn.AdaptiveMaxPool2d(1)
    net = torch.nn.Sequential(conv, torch.nn.ReLU(), pooling, torch.nn.Flatten())
    net.num_features = 16
    return net


def test_a_checkpoint_evaluated_with_another_backbone_option_gets_fresh_features(tmp_path):
    _register("pooled_backbone_plugin", register_backbones=lambda register: register("pooled", _pooled))
    torch.manual_seed(3)
    weights = tmp_path / "X.pt"
    torch.save(_pooled("", 1).state_dict(), weights)

    def knn(out, pool):
        return _run(out, "-d", "digits", "--set", "model.backbone=pooled", "--set",
                    f"model.backbone_options={{pool: {pool}}}", "--checkpoint", str(weights))

    avg = knn(tmp_path / "out", "avg")
    again = knn(tmp_path / "out", "max")
    fresh = knn(tmp_path / "fresh", "max")
    assert again == fresh and avg != fresh
    assert _feature_entries(tmp_path / "out") == 4


def test_the_cache_key_names_the_backbone_and_its_options(tmp_path):
    small, _ = digits_context(tmp_path / "f", width=8)
    wide, _ = digits_context(tmp_path / "f", width=16)
    identity = small.cache_identity("test")
    assert identity["backbone"] == "convnet-small" and identity["backbone_options"] == {"width": 8}
    assert identity["dataset_plugin"]["distribution"] == "sslbench"
    assert small.weights_id == wide.weights_id and small.cache_key("test") != wide.cache_key("test")


# --------------------------------------------------------------------------- item 4: world size


def _moco(monkeypatch, world: int | None):
    from sslbench.runner import resolve_config

    if world is None:
        monkeypatch.delenv("RANK", raising=False)
        monkeypatch.delenv("WORLD_SIZE", raising=False)
    else:
        monkeypatch.setenv("RANK", "0")
        monkeypatch.setenv("WORLD_SIZE", str(world))
    return resolve_config("moco", "digits", ["knn"], sets={"train": {"epochs": 1}})


def test_world_size_is_part_of_the_pretraining_identity(monkeypatch, tmp_path):
    from sslbench.config import stable_hash
    from sslbench.runner import pretrain_dir

    one, two = _moco(monkeypatch, None), _moco(monkeypatch, 2)
    assert (one.world_size, two.world_size) == (1, 2)
    assert one.pretrain_hash() != two.pretrain_hash()
    assert pretrain_dir(tmp_path, one) != pretrain_dir(tmp_path, two)
    assert one.config_hash() != two.config_hash() and two.pretrain_dict()["world_size"] == 2
    # a 1-process config hashes as before world sizes were recorded: old pretrainings stay reusable
    assert "world_size" not in one.to_dict() and one.pretrain_hash() == stable_hash(one.pretrain_dict())


def test_a_config_resolved_for_another_world_size_is_refused_before_any_output(monkeypatch, tmp_path):
    from sslbench.contract.errors import ConfigError
    from sslbench.runner import run

    config = _moco(monkeypatch, 2)
    monkeypatch.delenv("RANK")
    with pytest.raises(ConfigError, match="world size 2 but 1 process"):
        run(config, tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "pretrain").exists()


def test_every_result_row_records_its_world_size(tmp_path):
    _run(tmp_path / "out", "-d", "digits", "--set", "model.backbone_options={width: 8}")
    assert read(tmp_path / "out" / "results.sqlite")["world_size"].tolist() == [1]


def test_a_store_written_before_world_sizes_were_recorded_still_reads_and_grows(tmp_path):
    from sslbench.store import SCHEMA

    path = tmp_path / "results.sqlite"
    old_schema = SCHEMA.replace(",\n    world_size INTEGER", "")
    assert "world_size" not in old_schema
    conn = sqlite3.connect(path)
    conn.executescript(old_schema)
    conn.execute("INSERT INTO results (run_id, created_at, method, dataset, eval_dataset, backbone, protocol, metric, "
                 "value, higher_is_better, seed, config_hash, pretrain_hash, config_json, versions_json, hardware) "
                 "VALUES ('r0', 't', 'moco', 'digits', 'digits', 'convnet-small', 'knn', 'top1@k5', 90.5, 1, 0, "
                 "'c', 'p', '{}', '{}', 'cpu')")
    conn.commit()
    conn.close()
    _run(tmp_path, "-d", "digits", "--set", "model.backbone_options={width: 8}")
    df = read(path)
    assert df["value"].iloc[0] == 90.5 and len(df) == 2
    assert df["world_size"].isna().iloc[0] and df["world_size"].iloc[1] == 1  # unknown, not guessed


# --------------------------------------------------------------------------- item 10: untrained methods


def test_a_method_that_does_not_train_keeps_its_hashes_whatever_the_training_settings():
    from sslbench.reporting.records import eval_key
    from sslbench.runner import resolve_config

    base = resolve_config("random", "digits", ["knn"])
    other = resolve_config("random", "digits", ["knn"], sets={
        "train": {"epochs": 7, "lr": 0.3, "batch_size": 64}, "ssl": {"queue_size": 16, "momentum": 0.9},
        "model": {"projector_out": 32}})
    assert base.config_hash() == other.config_hash() and base.pretrain_hash() == other.pretrain_hash()
    assert eval_key(base.to_dict(), "knn") == eval_key(other.to_dict(), "knn")
    assert other.to_dict()["train"]["epochs"] == 7  # still recorded as given
    # what does change an untrained backbone still changes its identity
    seeded = resolve_config("random", "digits", ["knn"], overrides={"seed": 1})
    wider = resolve_config("random", "digits", ["knn"], sets={"model": {"backbone_options": {"width": 8}}})
    assert len({base.pretrain_hash(), seeded.pretrain_hash(), wider.pretrain_hash()}) == 3
    # a training method's hash does follow its training settings
    moco = [resolve_config("moco", "digits", ["knn"], sets={"train": {"epochs": e}}) for e in (1, 2)]
    assert moco[0].pretrain_hash() != moco[1].pretrain_hash()


def test_compare_does_not_rerun_random_when_only_training_settings_change(tmp_path):
    common = ["compare", "--methods", "random", "--datasets", "digits", "--protocols", "knn", "-o", str(tmp_path),
              "--set", "model.backbone_options={width: 8}", "--set", "knn.k=[5]", "--no-progress"]
    first = CliRunner().invoke(cli, [*common, "--set", "train.epochs=3"], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    second = CliRunner().invoke(cli, [*common, "--set", "train.epochs=9", "--set", "ssl.queue_size=32"],
                                catch_exceptions=False)
    assert second.exit_code == 0, second.output
    assert "in the store, skipped" in second.output
    assert len(read(tmp_path / "results.sqlite")) == 1
