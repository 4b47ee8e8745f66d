"""The feature cache (docs/design.md, the life of a run): frozen features are extracted once per
(weights, dataset, split, transform), streamed to a memory-mapped .npy written atomically, and
reused by every protocol; `--checkpoint` evaluates weights from a file without pretraining."""

import hashlib
import sqlite3

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from sslbench.cli import cli
from sslbench.engine.evaluation import extract_features
from sslbench.contract.errors import SSLBenchError
from sslbench.protocols.knn import KNN, KNNParams
from sslbench.protocols.linear import Linear, LinearParams
from sslbench.protocols.lowshot import LowShot, LowShotParams
from sslbench.protocols.retrieval import Retrieval, RetrievalParams

from protocols_support import digits_context, single_thread  # noqa: F401 (autouse fixture)


def test_features_for_the_same_input_come_from_the_cache_on_the_second_protocol(tmp_path):
    ctx, calls = digits_context(tmp_path / "features")
    n_images = len(ctx.dataset("train")) + len(ctx.dataset("test"))
    KNN(KNNParams(k=[5])).evaluate(ctx)
    assert calls["images"] == n_images  # every train and test image forwarded exactly once
    Linear(LinearParams(epochs=2, lr=0.1, standardize=True)).evaluate(ctx)
    Retrieval(RetrievalParams()).evaluate(ctx)
    LowShot(LowShotParams(k=[3], all=False, samples=1, costs=[1.0])).evaluate(ctx)
    assert calls["images"] == n_images
    # a new context (a later run) with the same weights reads the files, forwarding nothing
    again, again_calls = digits_context(tmp_path / "features")
    KNN(KNNParams(k=[5])).evaluate(again)
    assert again_calls["forward"] == 0
    # other weights: a new cache entry
    other, other_calls = digits_context(tmp_path / "features", weights_id="w1")
    other.feature_arrays("test")
    assert other_calls["images"] == len(ctx.dataset("test"))


def test_cache_entries_are_memory_mapped_npy_files_without_leftovers(tmp_path):
    ctx, _ = digits_context(tmp_path / "features")
    feats, labels = ctx.feature_arrays("train")
    assert isinstance(feats, np.memmap) and not feats.flags.writeable
    assert feats.shape == (1437, 32) and feats.dtype == np.float32 and labels.shape == (1437,)
    names = sorted(p.name for p in (tmp_path / "features").iterdir())
    key = ctx.cache_key("train")
    assert names == [f"{key}.features.npy", f"{key}.json", f"{key}.labels.npy"]
    # the cached features are the backbone's eval-mode outputs
    x, y = ctx.features("train")
    ctx.backbone.eval()
    with torch.no_grad():
        direct = ctx.backbone(ctx.view_maker().eval_view(ctx.dataset("train").images[:10]))
    assert torch.allclose(x[:10], direct, atol=1e-5)
    assert torch.equal(y, ctx.dataset("train").labels)


def test_streamed_extraction_equals_in_memory_extraction(tmp_path):
    ctx, _ = digits_context(None)
    dataset, views = ctx.dataset("test"), ctx.view_maker()
    in_memory, labels = extract_features(ctx.backbone, dataset, views, 64, False, "t")
    streamed, labels2 = extract_features(ctx.backbone, dataset, views, 64, False, "t", out_path=tmp_path / "f.npy",
                                         labels_path=tmp_path / "l.npy")
    assert isinstance(streamed, np.memmap)
    np.testing.assert_array_equal(np.asarray(streamed), in_memory)
    np.testing.assert_array_equal(np.load(tmp_path / "l.npy"), labels)


def test_an_interrupted_extraction_leaves_no_cache_entry(tmp_path):
    ctx, calls = digits_context(tmp_path / "features")
    ctx.batch_size = 100

    def fail_on_third_batch(module, inputs, output):
        if calls["forward"] == 3:
            raise KeyboardInterrupt

    ctx.backbone.register_forward_hook(fail_on_third_batch)
    with pytest.raises(KeyboardInterrupt):
        ctx.feature_arrays("train")
    assert list((tmp_path / "features").iterdir()) == []


def _tiny_run(out, *args):
    return CliRunner().invoke(cli, ["run", "-d", "digits", "-o", str(out), "--no-progress", "--set",
                                    "model.backbone_options={width: 8}", *args], catch_exceptions=False)


@pytest.mark.parametrize("form", ["backbone.pt", "state_dict", "ddp_state_dict"])
def test_checkpoint_flag_evaluates_weights_from_a_file(tmp_path, form):
    from sslbench.image.backbones import build_convnet_small

    torch.manual_seed(5)
    net = build_convnet_small("", 1, width=8)
    state = net.state_dict()
    obj = {"backbone": state, "method": "x"} if form == "backbone.pt" else state
    if form == "ddp_state_dict":
        obj = {f"module.{k}": v for k, v in state.items()}
    path = tmp_path / "weights.pt"
    torch.save(obj, path)
    out = tmp_path / "out"
    result = _tiny_run(out, "-m", "random", "-p", "knn", "--checkpoint", str(path))
    assert result.exit_code == 0, result.output
    assert f"weights from {path}" in result.output
    assert not (out / "pretrain").exists()  # nothing was pretrained
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    rows = sqlite3.connect(out / "results.sqlite").execute("SELECT pretrain_hash, value FROM results").fetchall()
    assert {r[0] for r in rows} == {sha}


def test_checkpoint_forms_give_identical_results(tmp_path):
    from sslbench.image.backbones import build_convnet_small

    torch.manual_seed(7)
    state = build_convnet_small("", 1, width=8).state_dict()
    torch.save({"backbone": state}, tmp_path / "a.pt")
    torch.save(state, tmp_path / "b.pt")
    values = []
    for name in ("a.pt", "b.pt"):
        result = _tiny_run(tmp_path / name.replace(".", "_"), "-m", "random", "-p", "knn",
                           "--checkpoint", str(tmp_path / name))
        assert result.exit_code == 0, result.output
        values.append(result.output.split("|")[0].split(":", 1)[1])
    assert values[0] == values[1]


def test_a_checkpoint_that_does_not_fit_the_backbone_is_a_clear_error(tmp_path):
    from sslbench.image.backbones import build_convnet_small

    torch.save(build_convnet_small("", 1, width=4).state_dict(), tmp_path / "w4.pt")
    result = CliRunner().invoke(cli, ["run", "-m", "random", "-p", "knn", "-d", "digits", "-o", str(tmp_path / "o"),
                                      "--no-progress", "--set", "model.backbone_options={width: 8}",
                                      "--checkpoint", str(tmp_path / "w4.pt")])
    assert result.exit_code == 2 and "does not match the backbone" in result.output
    missing = CliRunner().invoke(cli, ["run", "-m", "random", "-p", "knn", "-d", "digits", "-o", str(tmp_path / "o"),
                                       "--no-progress", "--checkpoint", str(tmp_path / "nope.pt")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


class Payload:
    """Any class: unpickling it would import and run code, which weights_only forbids."""


def test_a_checkpoint_holding_code_is_refused(tmp_path):
    from sslbench.engine.evaluation import load_backbone_checkpoint
    from sslbench.image.backbones import build_convnet_small

    torch.save({"backbone": build_convnet_small("", 1, width=8).state_dict(), "extra": Payload()},
               tmp_path / "unsafe.pt")
    with pytest.raises(SSLBenchError, match="not an allowed global") as info:
        load_backbone_checkpoint(build_convnet_small("", 1, width=8), tmp_path / "unsafe.pt")
    assert "weights_only=False" not in str(info.value)  # never advise loading untrusted code
