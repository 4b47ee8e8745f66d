"""MoCo, ReSSL and SCE pretrain on video with their unchanged plugins; kNN, retrieval, linear and
finetuning run on the 30-view test; Table B.2 presets."""

from __future__ import annotations

import sqlite3

import pytest
import torch
from click.testing import CliRunner

from sslbench.cli import cli
from sslbench.config import parse_set
from sslbench.contract.loading import registries
from sslbench.runner import resolve_config
from sslbench.video import synthetic

TINY = ["--no-progress", "--set", "data.input_size=32", "--set", "data.clip_frames=4",
        "--set", "model.backbone_options={width: 8}", "--set", "train.batch_size=4", "--set", "train.max_steps=2",
        "--set", "ssl.queue_size=16", "--set", "data.eval_clips=2", "--set", "data.eval_crops=3"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    base = tmp_path_factory.mktemp("e2e")
    return {"folder": synthetic.make_videofolder(base / "folder", ("right", "left"), {"train": 3, "val": 2}, seconds=3),
            "kinetics": synthetic.make_kinetics_csv(base / "kinetics", ("right", "left"), {"train": 3, "val": 2},
                                                    seconds=3, missing=1)}


def _run(args, tmp_path):
    result = CliRunner().invoke(cli, ["run", *args, "--output-dir", str(tmp_path / "out"), *TINY],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = sqlite3.connect(tmp_path / "out" / "results.sqlite").execute(
        "SELECT protocol, metric, value FROM results").fetchall()
    return result.output, {(p, m): v for p, m, v in rows}


def test_cli_moco_knn_on_a_generated_video_folder(videos, tmp_path):
    out, metrics = _run(["--method", "moco", "--protocol", "knn", "--dataset", "videofolder", "--data-root",
                         str(videos["folder"]), "--set", "knn.k=[3]", "--set", "ssl.diff_p=0.5",
                         "--set", "ssl.reverse_p=0.5"], tmp_path)
    assert "moco on videofolder (resnet3d18" in out
    assert 0.0 <= metrics[("knn", "top1@k3")] <= 100.0


def test_sce_on_kinetics_style_videos_through_knn_retrieval_linear_and_finetune(videos, tmp_path):
    _, metrics = _run(["--method", "sce", "--protocol", "knn,retrieval,linear,finetune", "--dataset", "kinetics400",
                       "--data-root", str(videos["kinetics"]), "--set", "knn.k=[3]", "--set", "linear.epochs=1",
                       "--set", "finetune.epochs=1"], tmp_path)
    # 5 train videos (one of the 6 listed is missing): R@10 searches all 5, so it is reported as R@5
    assert {("retrieval", "R@1"), ("retrieval", "R@5"), ("linear", "top1"),
            ("finetune", "top1"), ("knn", "top1@k3")} <= set(metrics)
    assert ("retrieval", "R@10") not in metrics
    assert metrics[("retrieval", "R@5")] == 100.0  # 2 classes: some neighbour among all 5 shares the label


@pytest.mark.parametrize("method", ["ressl"])  # moco and sce: the two CLI runs above
def test_siamese_methods_pretrain_on_video_with_the_same_plugins(method, videos, tmp_path):
    from sslbench.engine.trainer import pretrain
    from sslbench.video.backbones import ResNet3D

    regs = registries()
    sets = parse_set([s for s in TINY[1:] if s != "--set"] + ["train.max_steps=1", "ssl.symmetric=true",
                                                                "ssl.diff_p=0.2"])
    config = resolve_config(method, "videofolder", ["knn"], sets=sets,
                            overrides={"data": {"root": str(videos["folder"])}})
    method_obj = regs.methods.get(method)(config.method_params, config)
    outcome = pretrain(config, method_obj, regs.datasets.get("videofolder"), regs, tmp_path, progress=False)
    assert isinstance(outcome.backbone, ResNet3D) and outcome.steps == 1
    assert outcome.final_loss is not None and torch.isfinite(torch.tensor(outcome.final_loss))


def test_sce_video_loss_is_the_same_function_as_sce_image(monkeypatch, videos):
    import sslbench_sce.loss as sce_loss_module

    calls = []
    real = sce_loss_module.sce_loss

    def spy(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(sce_loss_module, "sce_loss", spy)
    regs = registries()
    losses = {}
    for dataset, backbone, shape in (("videofolder", "resnet3d18", (4, 2, 3, 4, 16, 16)),
                                     ("cifar10", "convnet-small", (4, 3, 16, 16))):
        config = resolve_config("sce", dataset, ["knn"], overrides={
            "data": {"root": "/not/read", "input_size": 16}, "ssl": {"queue_size": 8},
            "model": {"backbone": backbone, "backbone_options": {"width": 8}}})
        method = regs.methods.get("sce")(config.method_params, config)
        learner = method.build(regs.backbones.get(backbone)("", 3, width=8), 0)
        views = [torch.randn(shape[0], *shape[2:]) if len(shape) == 6 else torch.randn(shape) for _ in range(2)]
        losses[dataset] = learner.training_step(views, torch.zeros(4, dtype=torch.long))["loss"]
    assert len(calls) == 2  # one step on clips, one on images, through the one loss function
    for args, dataset in zip(calls, ("videofolder", "cifar10")):
        online, target, queue, lam, tau, tau_m, variant = args
        assert online.shape == target.shape and queue.shape[0] == 8
        assert torch.equal(losses[dataset], real(*args))


def test_thirty_view_evaluation_averages_exactly_thirty_views(videos):
    from sslbench.video.augment import VideoViewMaker
    from sslbench.video.datasets import decode_clips, load_videofolder
    from sslbench.video.evaluation import multiview_outputs
    from sslbench.video.sampling import ClipSampling

    sampling = ClipSampling(frames=4, clips=10, mode="uniform", crops=3)
    ds = load_videofolder(str(videos["folder"]), "val", 24).with_sampling(sampling)
    seen = []

    def fn(x):  # one feature per view: its mean value and its frame 0's mean
        seen.append(len(x))
        return torch.stack([x.mean((1, 2, 3, 4)), x[:, :, 0].mean((1, 2, 3))], 1)

    views = VideoViewMaker([], 24, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), torch.device("cpu"))
    feats, labels = multiview_outputs(fn, ds, views, videos_per_batch=3)
    assert sum(seen) == 30 * len(ds) and feats.shape == (len(ds), 2)
    for i, (path, label) in enumerate(ds.samples):
        each = decode_clips(path, sampling, 24).float() / 255
        assert each.shape[0] == 30
        assert feats[i, 0] == pytest.approx(float(each.mean((1, 2, 3, 4)).mean()), abs=1e-5)
        assert labels[i] == label
    probs, _ = multiview_outputs(lambda x: torch.randn(len(x), 5), ds, views, reduce="softmax")
    assert probs.sum(1) == pytest.approx([1.0] * len(ds))  # the mean of 30 softmaxes


# Table B.2 (and B.1): backbone, projector, predictor, queue per video dataset.
TABLE_B2 = {"kinetics200": 32768, "kinetics400": 65536}


@pytest.mark.parametrize("dataset", list(TABLE_B2))
@pytest.mark.parametrize("method", ["moco", "ressl", "sce"])
def test_video_presets_follow_table_b2(method, dataset):
    c = resolve_config(method, dataset, ["linear"], overrides={"data": {"root": "/data/kinetics"}})
    m, s, t = c.model, c.ssl, c.train
    assert m.backbone == "resnet3d18"
    assert (m.projector_layers, m.projector_hidden, m.projector_out, m.projector_bn) == (3, 1024, 256, "all")
    assert (m.predictor_layers, m.predictor_hidden, m.predictor_bn) == (2, 1024, "hidden")
    assert (s.queue_size, s.momentum, s.symmetric) == (TABLE_B2[dataset], 0.99, True)
    assert (t.optimizer, t.lr, t.batch_size, t.weight_decay, t.epochs) == ("lars", 2.4, 512, 1e-6, 200)
    assert (c.data.input_size, c.data.clip_frames, c.data.clip_duration) == (224, 8, 2.56)
    assert (s.color_strength, s.diff_p) == (1.0, 0.2)
    assert s.online_aug == "strong-alpha"
    if method == "sce":
        p = c.method_params
        assert (p.lam, p.tau, p.tau_m) == (0.5, 0.1, 0.05)
    params = c.protocol_params["linear"]
    assert (params.preset, params.mode, params.epochs, params.warmup_epochs) == ("b1", "augment", 60, 35)


def test_methods_of_one_modality_are_rejected_on_the_other():
    from sslbench.contract.errors import ConfigError
    from sslbench.method import Method

    class ImageOnly(Method):
        name = "image-only"

    regs = registries()
    regs.methods.register("image-only", ImageOnly)
    try:
        with pytest.raises(ConfigError, match="works on image data but dataset 'ucf101' is video"):
            resolve_config("image-only", "ucf101", ["knn"], overrides={"data": {"root": "/x"}}, regs=regs)
    finally:
        regs.methods.unregister("image-only")
    with pytest.raises(ConfigError, match="eval_dataset 'cifar10' is image data"):
        resolve_config("sce", "ucf101", ["knn"], overrides={"data": {"root": "/x"}, "eval_dataset": "cifar10"})


def test_a_backbone_of_the_wrong_modality_is_refused_before_anything_runs():
    from sslbench.config import ConfigError

    with pytest.raises(ConfigError, match=r"backbone 'resnet18' takes image input but dataset 'ucf101' is video "
                                          r"data: expected a video backbone \(resnet3d18, resnet3d50, tv:"):
        resolve_config("sce", "ucf101", ["knn"], overrides={"data": {"root": "/x"}, "model": {"backbone": "resnet18"}})
    with pytest.raises(ConfigError, match="backbone 'tv:r3d_18' takes video input but dataset 'digits' is image"):
        resolve_config("moco", "digits", ["knn"], overrides={"model": {"backbone": "tv:r3d_18"}})
