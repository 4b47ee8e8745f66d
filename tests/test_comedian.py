"""COMEDIAN (thesis ch. 6): its losses against plain loops, its settings and initialisations, and the
method run like the others -- `run` / `compare` -m comedian -p tamap on a hand-written SoccerNet
root, rows next to `random` and an image-SSL start, each t-AmAP equal to the official evaluator."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from sslbench.contract.errors import ConfigError
from sslbench.spotting.finetune import spotting_bce_loss
from sslbench_comedian import ComedianParams
from sslbench_comedian.loss import distillation_loss, infonce_loss


def _unit(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=g, dtype=torch.float64), dim=-1)


def loop_distillation(student, teacher, queue, lam, tau, tau_m, teacher_ids=None, queue_ids=None):
    """Eqs. 6.3-6.6 over each clip's own bank entries then the queue, leaving out every other
    copy of the token's own entry (same id), as in a bank that holds each feature once."""
    b, t, _ = student.shape
    total = 0.0
    for i in range(b):
        candidates = [teacher[i, j] for j in range(t)] + [queue[k] for k in range(len(queue))]
        ids = ([int(x) for x in teacher_ids[i]] + [int(x) for x in queue_ids]) if teacher_ids is not None else \
            list(range(-1, -len(candidates) - 1, -1))
        for a in range(t):
            kept = [k for k in range(len(candidates)) if k == a or ids[k] != ids[a]]
            s1_den = sum(math.exp(float(student[i, a] @ candidates[k]) / tau) for k in kept)
            rel = {k: math.exp(float(teacher[i, a] @ candidates[k]) / tau_m) for k in kept if k != a}
            rel_sum = sum(rel.values())
            for k in kept:
                w2 = lam * (k == a) + (1 - lam) * rel.get(k, 0.0) / rel_sum
                total -= w2 * math.log(math.exp(float(student[i, a] @ candidates[k]) / tau) / s1_den)
    return total / (b * t)


def test_distillation_loss_matches_eqs_6_3_to_6_6_loop():
    student, teacher, queue = _unit(3, 4, 8, seed=0), _unit(3, 4, 8, seed=1), _unit(5, 8, seed=2)
    got = distillation_loss(student, teacher, queue, lam=0.5, tau=0.1, tau_m=0.07)
    assert float(got) == pytest.approx(loop_distillation(student, teacher, queue, 0.5, 0.1, 0.07), rel=1e-10)


def test_distillation_leaves_out_every_copy_of_a_tokens_own_bank_entry():
    """Eq. 6.4 (issue 14 item 8): a FIFO queue holding another copy of a token's own entry (same
    half, same index) must not give it relational mass nor make it a negative: the loss equals
    the loss over the queue without the copies (other entries may repeat, as in the reference FIFO)."""
    student, teacher, queue = _unit(2, 3, 8, seed=3), _unit(2, 3, 8, seed=4), _unit(6, 8, seed=5)
    teacher_ids = torch.tensor([[10, 11, 11], [20, 21, 22]])  # tokens 1 and 2 of clip 0 share an entry
    teacher[0, 2] = teacher[0, 1]
    queue = torch.cat([queue, teacher[0, 0:1], teacher[1, 2:3]])  # copies left in the queue
    queue_ids = torch.tensor([1, 2, 3, 4, 5, 6, 10, 22])
    got = distillation_loss(student, teacher, queue, 0.5, 0.1, 0.07, teacher_ids, queue_ids)
    assert float(got) == pytest.approx(loop_distillation(student, teacher, queue, 0.5, 0.1, 0.07, teacher_ids,
                                                         queue_ids), rel=1e-10)
    one, own = _unit(1, 1, 8, seed=6), torch.tensor([[7]])  # a token whose own entry sits twice in the queue
    queue = torch.cat([queue[:6], one[0], one[0]])
    queue_ids = torch.tensor([1, 2, 3, 4, 5, 6, 7, 7])
    without_copies = distillation_loss(student[:1, :1], one, queue[:6], 0.5, 0.1, 0.07, own, queue_ids[:6])
    with_copies = distillation_loss(student[:1, :1], one, queue, 0.5, 0.1, 0.07, own, queue_ids)
    assert float(with_copies) == pytest.approx(float(without_copies), rel=1e-12)
    unaware = distillation_loss(student[:1, :1], one, queue, 0.5, 0.1, 0.07)  # copies as relations and negatives
    assert float(unaware) != pytest.approx(float(without_copies), rel=1e-3)


def test_distillation_with_one_token_is_sce_with_the_masked_target():
    from sslbench_sce.loss import sce_loss

    student, teacher, queue = _unit(6, 1, 8, seed=3), _unit(6, 1, 8, seed=4), _unit(10, 8, seed=5)
    expected = sce_loss(student[:, 0], teacher[:, 0], queue, 0.5, 0.1, 0.05, variant="masked")
    torch.testing.assert_close(distillation_loss(student, teacher, queue, 0.5, 0.1, 0.05), expected)


def test_distillation_gradient_reaches_the_student_only():
    student = _unit(2, 3, 4, seed=6).requires_grad_()
    teacher = _unit(2, 3, 4, seed=7).requires_grad_()
    distillation_loss(student, teacher, _unit(4, 4, seed=8), teacher_ids=torch.tensor([[1, 2, 2], [3, 4, 5]]),
                      queue_ids=torch.tensor([2, 3, -1, -1])).backward()
    assert torch.isfinite(student.grad).all() and student.grad.abs().sum() > 0 and teacher.grad is None


def test_infonce_and_bce_match_loops():
    q, k, queue = _unit(4, 6, seed=9), _unit(4, 6, seed=10), _unit(7, 6, seed=11)
    expected = 0.0
    for i in range(4):
        pos = math.exp(float(q[i] @ k[i]) / 0.1)
        expected -= math.log(pos / (pos + sum(math.exp(float(q[i] @ c) / 0.1) for c in queue))) / 4
    assert float(infonce_loss(q, k, queue, 0.1)) == pytest.approx(expected, rel=1e-10)
    logits = torch.randn(2, 3, 5, dtype=torch.float64)
    y = (torch.rand(2, 3, 5) > 0.5).double()
    p = torch.sigmoid(logits)
    loop = -sum(float(y[b, t, c] * p[b, t, c].log() + (1 - y[b, t, c]) * (1 - p[b, t, c]).log())
                for b in range(2) for t in range(3) for c in range(5)) / 30
    assert float(spotting_bce_loss(logits, y)) == pytest.approx(loop, rel=1e-10)


# --------------------------------------------------------------------------- settings and starts


def test_every_setting_belongs_to_a_step_or_to_the_chain():
    """A setting missing from the step hashes would reuse a step trained with another value."""
    from sslbench_comedian.steps import CHAIN_FIELDS, STEP_FIELDS

    fields = {f.name for f in dataclasses.fields(ComedianParams)}
    assert fields == set(STEP_FIELDS[1]) | set(STEP_FIELDS[2]) | set(CHAIN_FIELDS)


@pytest.mark.parametrize("steps,needle", [([3], "tamap protocol"), ([2, 1], "increasing"), ([0], "increasing")])
def test_steps_are_1_and_2_in_order(steps, needle):
    with pytest.raises(ConfigError, match=needle):
        ComedianParams(steps=steps)


def test_an_init_path_is_recorded_with_its_sha256_and_a_changed_file_is_refused(tmp_path):
    path = tmp_path / "backbone.pt"
    path.write_bytes(b"weights v1")
    resolved = ComedianParams(init=str(path)).init
    assert resolved.startswith(str(path.resolve()) + "#sha256=")
    assert ComedianParams(init=resolved).init == resolved  # a dumped config reads back
    path.write_bytes(b"weights v2")
    with pytest.raises(ConfigError, match="changed since"):
        ComedianParams(init=resolved)
    with pytest.raises(ConfigError, match="comedian.init"):
        ComedianParams(init=str(tmp_path / "missing.pt"))


SPATIAL = {"img_size": 32, "tokens": 2, "temporal_depth": 1, "temporal_heads": 2, "spatial_embed_dim": 32,
           "spatial_depth": 1, "spatial_num_heads": 2, "spatial_patch_size": 16}


def test_an_image_backbone_initialises_the_spatial_encoder_inflated_over_the_frames(tmp_path):
    """A timm ViT pretrained on 16-px grey images (digits) starts a 32-px, 2-frame spatial encoder:
    the patch embedding repeated over the 6 channels and divided by 6, positions resampled."""
    from sslbench.engine import checkpoint
    from sslbench.engine.trainer import build_backbone
    from sslbench.contract.loading import registries
    from sslbench.spotting.models import build_video_transformer
    from sslbench_comedian.init import load_weights

    image_options = {"embed_dim": 32, "depth": 1, "num_heads": 2, "patch_size": 16, "img_size": 16}
    torch.manual_seed(0)
    image = build_backbone(registries(), "timm:vit_tiny_patch16_224", 1, image_options)
    checkpoint.save({"backbone": image.state_dict(), "backbone_name": "timm:vit_tiny_patch16_224"}, tmp_path / "b.pt")
    model = build_video_transformer("vivit-tiny", 3, **SPATIAL)
    load_weights(model, tmp_path / "b.pt")
    spatial, source = model.spatial.state_dict(), image.state_dict()
    torch.testing.assert_close(spatial["patch_embed.proj.weight"], source["patch_embed.proj.weight"].repeat(1, 6, 1, 1) / 6)
    torch.testing.assert_close(spatial["blocks.0.attn.qkv.weight"], source["blocks.0.attn.qkv.weight"])
    assert spatial["pos_embed"].shape == (1, 5, 32)
    grey = torch.rand(1, 1, 16, 16)  # a window of two identical RGB frames of a grey image: the image's response
    with torch.no_grad():
        torch.testing.assert_close(model.spatial.patch_embed.proj(grey.repeat(1, 6, 1, 1)), image.patch_embed.proj(grey))
    wide = build_backbone(registries(), "timm:vit_tiny_patch16_224", 1, {**image_options, "embed_dim": 48,
                                                                          "num_heads": 3})
    checkpoint.save({"backbone": wide.state_dict(), "backbone_name": "timm:vit_tiny_patch16_224"}, tmp_path / "w.pt")
    with pytest.raises(ConfigError, match=r"w.pt': cls_token has shape \(1, 1, 48\)"):
        load_weights(model, tmp_path / "w.pt")
    resnet = build_backbone(registries(), "resnet18", 3, {})
    checkpoint.save({"backbone": resnet.state_dict(), "backbone_name": "resnet18"}, tmp_path / "r.pt")
    with pytest.raises(ConfigError, match="'resnet18' backbone.*matches neither"):
        load_weights(model, tmp_path / "r.pt")


def test_imagenet_init_without_cached_weights_is_one_clear_error(tmp_path, monkeypatch):
    from sslbench_comedian.init import imagenet_weights

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ConfigError, match="vit_tiny_patch16_224.augreg_in21k.*not on this machine"):
        imagenet_weights("vit_tiny_patch16_224")


def test_imagenet_init_reads_the_local_cache(tmp_path, monkeypatch):
    """Weights in the Hugging Face cache layout load into the spatial encoder (6 input channels)."""
    import timm
    from safetensors.torch import save_file

    from sslbench.spotting.models import build_video_transformer
    from sslbench_comedian.init import apply, imagenet_weights

    cache = tmp_path / "hub"
    snapshot = cache / "models--timm--vit_tiny_patch16_224.augreg_in21k" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (cache / "models--timm--vit_tiny_patch16_224.augreg_in21k" / "refs").mkdir()
    (cache / "models--timm--vit_tiny_patch16_224.augreg_in21k" / "refs" / "main").write_text("abc")
    torch.manual_seed(3)
    reference = timm.create_model("vit_tiny_patch16_224", num_classes=0, depth=1)
    save_file(reference.state_dict(), str(snapshot / "model.safetensors"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(cache))
    assert imagenet_weights("vit_tiny_patch16_224") == snapshot / "model.safetensors"
    model = build_video_transformer("vivit-tiny", 3, tokens=2, temporal_depth=1, spatial_depth=1)
    apply(model, "imagenet-supervised")
    torch.testing.assert_close(model.spatial.state_dict()["blocks.0.mlp.fc1.weight"],
                               reference.state_dict()["blocks.0.mlp.fc1.weight"])
    assert model.spatial.state_dict()["patch_embed.proj.weight"].shape[1] == 6


# --------------------------------------------------------------------------- runs like the other methods


TINY_MODEL = "{img_size: 32, tokens: 8, temporal_depth: 1, temporal_heads: 2, spatial_embed_dim: 32, " \
             "spatial_depth: 1, spatial_num_heads: 2, spatial_patch_size: 16}"
TINY_TAMAP = ["data.num_workers=0", "tamap.classifier_epochs=1", "tamap.epochs=1", "tamap.batch_size=4", "tamap.clips_per_half=4",
              "tamap.ignore_seconds=2"]
TINY_COMEDIAN = ["comedian.features=baidu_soccer_embeddings_PCA8", "comedian.warmup_epochs=0",
                 "comedian.proj_hidden=32", "comedian.proj_out=16", "comedian.step1_epochs=1",
                 "comedian.step1_batch_size=32", "comedian.step1_queue=64", "comedian.step2_epochs=1",
                 "comedian.step2_batch_size=4", "comedian.step2_clips_per_half=4", "comedian.step2_queue=32"]


def _sets(*items: str) -> list[str]:
    return [part for item in items for part in ("--set", item)]


def invoke(*args: str) -> str:
    """The real CLI in this process (plugin commands included); returns its output."""
    from sslbench.cli import _add_plugin_commands, cli

    _add_plugin_commands()
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _outputs(text: str) -> list[Path]:
    return [Path(m) for m in re.findall(r"tamap outputs (\S+)", text)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A SoccerNet root, its PCA bank, then `compare` of COMEDIAN (alpha_1 swept) and `random`."""
    from soccernet_fixture import write_root

    base = tmp_path_factory.mktemp("comedian")
    root, out = write_root(base / "data"), base / "out"
    invoke("soccernet-pca", str(root), "--dim", "8")
    shared = _sets(f"model.backbone_options={TINY_MODEL}", "train.device=cpu",
                   "data.num_workers=0", *TINY_TAMAP, *TINY_COMEDIAN)
    text = invoke("compare", "-m", "comedian,random", "-d", "soccernet", "-p", "tamap", "--data-root", str(root),
                  "--sweep", "comedian.alpha1=0.25,0.5", *shared, "-o", str(out), "--no-progress")
    return root, out, text, [*shared, "--set", f"data.root={root}"]


@pytest.mark.slow  # long end-to-end: `python -m pytest -m slow`
def test_compare_runs_comedian_like_any_method_reusing_step_1(runs):
    root, out, text, _ = runs
    assert "3 cell(s) run" in text
    folders = sorted(p.name.split("-")[1] for p in (out / "pretrain").glob("comedian-step*"))
    assert folders == ["step1", "step2", "step2"]  # one step 1 for both alpha_1, one step 2 each
    step = json.loads(next((out / "pretrain").glob("comedian-step2-*/step.json")).read_text())
    assert step["settings"]["alpha1"] in (0.25, 0.5) and step["data"]
    assert len(_outputs(text)) == 3


def _official(labels: Path, predictions: Path, metric: str) -> dict:
    from test_tamap import official_evaluate

    return official_evaluate(labels, predictions, metric)


def test_every_stored_tamap_row_equals_the_official_evaluator_on_its_predictions(runs):
    from sslbench.spotting.tamap import CLASSES, evaluate_folders
    from sslbench.store import read

    root, out, text, _ = runs
    rows = read(out / "results.sqlite")
    rows = rows[rows["protocol"] == "tamap"]
    assert set(rows["method"]) == {"comedian", "random"}
    checked = 0
    for folder in _outputs(text):
        settings = json.loads((folder / "settings.json").read_text())
        mine = rows[rows["pretrain_hash"] == settings["weights_id"]]
        value = dict(zip(mine["metric"], mine["value"]))
        tight = _official(root / "test", folder / "predictions", "tight")  # the t-AmAP: the official code
        loose = evaluate_folders(root / "test", folder / "predictions", "loose")  # equal to it: test_tamap.py
        loose["a_mAP_per_class"] = [loose["a_mAP_per_class"][c] for c in CLASSES]
        loose["mAP"] = list(loose["mAP"].values())
        expected = {"a_mAP": tight["a_mAP"], "a_mAP_visible": tight["a_mAP_visible"],
                    "a_mAP_unshown": tight["a_mAP_unshown"], "a_mAP_loose": loose["a_mAP"],
                    "a_mAP_loose_visible": loose["a_mAP_visible"], "a_mAP_loose_unshown": loose["a_mAP_unshown"],
                    **{f"a_mAP[{c}]": v for c, v in zip(CLASSES, tight["a_mAP_per_class"])},
                    **{f"mAP@{t}s": v for t, v in zip(range(1, 6), tight["mAP"])},
                    **{f"mAP@{t}s": v for t, v in zip(range(5, 65, 5), loose["mAP"])}}
        assert set(value) == set(expected)
        for key, official in expected.items():
            assert value[key] == pytest.approx(100 * official, abs=1e-7), key  # 1e-9 of a fraction
        checked += 1
    assert checked == 3


def test_an_image_ssl_start_gives_a_row_beside_comedian_and_random(runs, tmp_path):
    """MoCo on images with the spatial encoder's timm ViT, then COMEDIAN from it (Table 6.5's
    comparison of step 1 with image pretraining), all in one `sslbench table`."""
    root, out, _, shared = runs
    image = invoke("run", "-m", "moco", "-d", "digits", "-p", "knn", "--backbone", "timm:vit_tiny_patch16_224",
                   "--set", "model.backbone_options={embed_dim: 32, depth: 1, num_heads: 2, patch_size: 16, "
                   "img_size: 16}", "--set", "train.max_steps=2", "--set", "train.batch_size=32", "--no-progress",
                   "-o", str(tmp_path / "image"))
    moco = Path(re.search(r"\| outputs (\S+)", image).group(1)) / "backbone.pt"
    invoke("run", "-m", "comedian", "-d", "soccernet", "-p", "tamap", *shared, "--set", "comedian.steps=[]",
           "--set", f"comedian.init={moco}", "-o", str(out), "--no-progress")
    table = invoke("table", "-o", str(out), "-d", "soccernet", "--rows", "method,comedian.alpha1,comedian.steps",
                   "--where", "metric=a_mAP,a_mAP_loose")
    rows = [line.split("|")[1].strip() for line in table.splitlines()[2:] if line.startswith("|")]
    assert rows.count("comedian") == 3 and rows.count("random") == 1, table
    assert "a_mAP_loose" in table


def test_a_checkpoint_of_any_step_evaluates_with_only_checkpoint(runs, tmp_path):
    root, out, _, _ = runs
    step1 = next((out / "pretrain").glob("comedian-step1-*/backbone.pt"))
    step2 = next((out / "pretrain").glob("comedian-step2-*/backbone.pt"))
    finetuned = next((out / "spotting").glob("*-finetune-*/backbone.pt"))  # step 3, by the tamap protocol
    for path in (step1, step2, finetuned):
        text = invoke("run", "-m", "random", "-d", "soccernet", "-p", "tamap", "--data-root", str(root),
                      "--checkpoint", str(path), *_sets(*TINY_TAMAP), "-o", str(tmp_path / "eval"), "--no-progress")
        assert f"weights from {path}" in text and "a_mAP" in text
    assert len(list((tmp_path / "eval" / "spotting").glob("*-finetune-*"))) == 2  # the fine-tuned one is not again


def test_two_nms_settings_keep_both_prediction_sets_and_nms_redoes_from_raw(runs, tmp_path):
    root, out, _, _ = runs
    finetuned = next((out / "spotting").glob("*-finetune-*/backbone.pt"))
    base = ["run", "-m", "random", "-d", "soccernet", "-p", "tamap", "--data-root", str(root), "--checkpoint",
            str(finetuned), *_sets(*TINY_TAMAP), "-o", str(tmp_path), "--no-progress"]
    hard = _outputs(invoke(*base))[0]
    soft = _outputs(invoke(*base, "--set", "tamap.nms=soft", "--set", "tamap.nms_window=10"))[0]
    assert hard != soft and "-test-hard-" in hard.name and "-test-soft-" in soft.name
    for folder in (hard, soft):
        assert len(list((folder / "predictions").rglob("results_spotting.json"))) == 1
    invoke("spotting-nms", str(hard / "raw"), str(tmp_path / "redone"), "--nms", "soft", "--window", "10")
    assert (json.loads(next((tmp_path / "redone").rglob("results_spotting.json")).read_text())
            == json.loads(next((soft / "predictions").rglob("results_spotting.json")).read_text()))


def test_plot_curve_draws_map_against_the_tolerance(runs, tmp_path):
    _, out, _, _ = runs
    text = invoke("plot", "curve", "-p", "tamap", "--name", "mAP", "-o", str(out), "--where", "method=random",
                  "--save", str(tmp_path / "curve.png"))
    assert "wrote" in text and (tmp_path / "curve.png").stat().st_size > 0


def test_the_pipeline_checks_the_bank_and_the_test_split_before_step_1(runs, tmp_path):
    import shutil

    from sslbench.cli import cli

    root, _, _, shared = runs
    broken = tmp_path / "data"
    shutil.copytree(root, broken)
    shutil.rmtree(broken / "test")
    args = ["run", "-m", "comedian", "-d", "soccernet", "-p", "tamap", *shared, "--data-root", str(broken),
            "-o", str(tmp_path / "out"), "--no-progress"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "no split 'test'" in result.output
    assert not list((tmp_path / "out").rglob("backbone.pt"))
    for bank in broken.rglob("1_baidu_soccer_embeddings_PCA8.npy"):
        bank.unlink()
        break
    (broken / "test").mkdir()
    shutil.copytree(root / "test", broken / "test", dirs_exist_ok=True)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "feature bank not found" in result.output and "soccernet-pca" in result.output
    assert not list((tmp_path / "out").rglob("backbone.pt"))
