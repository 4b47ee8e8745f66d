"""Detection (thesis Table 4.11): COCO AP by pycocotools, Mask R-CNN from the backbone, tiny CPU run."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

pytest.importorskip("pycocotools")

from sslbench.cli import cli  # noqa: E402
from sslbench.image.coco import CocoDetection  # noqa: E402
from sslbench.protocols.detection import DetectionParams, coco_ap, coco_results  # noqa: E402

from coco_fixture import make_coco  # noqa: E402
from helpers import one_error_line
from protocols_support import single_thread  # noqa: E402,F401 (autouse fixture)


def _ground_truth_as_predictions(ds):
    predictions = {}
    for i in range(len(ds)):
        _, target = ds[i]
        n = len(target["boxes"])
        predictions[target["image_id"]] = {"boxes": target["boxes"].numpy(), "labels": target["labels"].numpy(),
                                           "scores": np.ones(n), "masks": target["masks"][:, None].float().numpy()}
    return predictions


def test_perfect_predictions_score_ap_100_for_boxes_and_masks(tmp_path):
    files = make_coco(tmp_path)
    ds = CocoDetection(str(tmp_path), "val2017")
    assert ds.category_ids == [2, 5] and ds.has_masks
    boxes, segms = coco_results(_ground_truth_as_predictions(ds), ds.category_ids)
    ids = [im["id"] for im in ds.images]
    assert coco_ap(files["val2017"], boxes, "bbox", ids)[0] == pytest.approx(100.0)
    assert coco_ap(files["val2017"], segms, "segm", ids)[0] == pytest.approx(100.0)


def test_ap_equals_pycocotools_cocoeval_on_a_hand_made_case(tmp_path):
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    files = make_coco(tmp_path)
    ds = CocoDetection(str(tmp_path), "val2017")
    gt = json.loads(files["val2017"].read_text())
    # hand-made detections in COCO's own format: shifted boxes, one wrong class, one false positive
    coco_dets, model_out = [], {}
    for k, ann in enumerate(gt["annotations"]):
        x, y, w, h = ann["bbox"]
        shift = [0.0, 2.0, 6.0, 12.0][k % 4]
        category = ann["category_id"] if k % 5 else (7 - ann["category_id"])
        score = 0.9 - 0.05 * k
        coco_dets.append({"image_id": ann["image_id"], "category_id": category, "bbox": [x + shift, y, w, h],
                          "score": score})
    coco_dets.append({"image_id": gt["images"][0]["id"], "category_id": 2, "bbox": [1.0, 1.0, 10.0, 10.0],
                      "score": 0.95})
    for det in coco_dets:  # the same detections as a detector would output them
        x, y, w, h = det["bbox"]
        out = model_out.setdefault(det["image_id"], {"boxes": [], "labels": [], "scores": []})
        out["boxes"].append([x, y, x + w, y + h])
        out["labels"].append(ds.category_ids.index(det["category_id"]) + 1)
        out["scores"].append(det["score"])
    boxes, _ = coco_results(model_out, ds.category_ids)
    ids = [im["id"] for im in ds.images]
    ours = coco_ap(files["val2017"], boxes, "bbox", ids)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(str(files["val2017"]))
        evaluator = COCOeval(coco_gt, coco_gt.loadRes(coco_dets), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    assert ours[0] == pytest.approx(100 * evaluator.stats[0]) and ours[1] == pytest.approx(100 * evaluator.stats[1])
    assert 0 < ours[0] < 100


def test_coco_reader_targets_match_the_json(tmp_path):
    make_coco(tmp_path, {"train2017": 3})
    ds = CocoDetection(str(tmp_path), "train2017")
    image, target = ds[0]
    assert image.dtype == torch.uint8 and image.shape == (3, 64, 64)
    assert target["masks"].shape[0] == len(target["boxes"]) == len(target["labels"])
    for box, mask in zip(target["boxes"], target["masks"]):  # each mask lies inside its box
        ys, xs = torch.nonzero(mask, as_tuple=True)
        assert xs.min() >= box[0] - 0.5 and xs.max() <= box[2] and ys.min() >= box[1] - 0.5 and ys.max() <= box[3]


def test_detection_presets():
    one_x = DetectionParams(preset="1x")
    assert (one_x.iterations, one_x.batch_size, one_x.milestones) == (90_000, 16, [60_000, 80_000])
    assert one_x.lr_at(5000) == pytest.approx(0.02) and one_x.lr_at(85_000) == pytest.approx(0.0002)


@pytest.mark.parametrize("head", ["c4", "fpn"])
@pytest.mark.slow  # long end-to-end: `python -m pytest -m slow`
def test_run_detection_on_a_generated_coco_set(tmp_path, head):
    make_coco(tmp_path / "coco")
    result = CliRunner().invoke(cli, [
        "run", "-m", "random", "-p", "detection", "-d", "coco", "--data-root", str(tmp_path / "coco"),
        "-o", str(tmp_path / "out"), "--no-progress", "--set", "model.backbone=resnet18",
        "--set", "data.input_size=64", "--set", "detection.preset=tiny", "--set", "detection.iterations=2",
        "--set", f"detection.head={head}",
    ], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "detection AP_box" in result.output and "AP_mask" in result.output


def test_c4_detector_is_the_pretrained_resnet_up_to_c4_with_res5_in_the_shared_roi_head():
    """Thesis 4.4.4: Mask R-CNN initialised "up to the C4 layer" (detectron2's R50-C4)."""
    from sslbench.engine.trainer import build_backbone
    from sslbench.contract.loading import registries
    from sslbench.protocols.detection import build_detector

    torch.manual_seed(0)
    backbone = build_backbone(registries(), "resnet50", 3, {})
    trunk = getattr(backbone, "trunk", backbone)
    model = build_detector(backbone, 3, True, DetectionParams(preset="tiny"), [0.5] * 3, [0.25] * 3)
    assert model.backbone.out_channels == 1024  # stride-16 res4 map, one feature level
    assert torch.equal(model.backbone[-1][0].conv1.weight, trunk.layer3[0].conv1.weight)
    res5 = model.roi_heads.box_head.res5
    assert torch.equal(res5[0].conv1.weight, trunk.layer4[0].conv1.weight)
    assert model.roi_heads.mask_head is res5  # box and mask branches share the pretrained res5
    assert model.roi_heads.box_roi_pool.output_size == (14, 14)
    assert model.rpn.anchor_generator.num_anchors_per_location() == [15]
    assert model.roi_heads.box_predictor.cls_score.in_features == 2048
    frozen = [m for m in model.modules() if type(m).__name__ == "FrozenBatchNorm2d"]
    assert frozen and not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    with pytest.raises(Exception, match="detection.head"):
        DetectionParams(head="c5")


def test_eval_dataset_transfers_a_backbone_to_another_dataset(tmp_path):
    import sqlite3

    from voc_fixture import make_voc2007

    make_coco(tmp_path / "data", {"train2017": 4})
    make_voc2007(tmp_path / "data", n_trainval=40, n_test=20)
    result = CliRunner().invoke(cli, [
        "run", "-m", "random", "-p", "lowshot", "-d", "coco", "--eval-dataset", "voc2007",
        "--data-root", str(tmp_path / "data"), "-o", str(tmp_path / "out"), "--no-progress",
        "--set", "model.backbone=convnet-small", "--set", "model.backbone_options={width: 8}",
        "--set", "data.input_size=16", "--set", "lowshot.k=[1]", "--set", "lowshot.samples=1",
        "--set", "lowshot.costs=[1.0]",
    ], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = sqlite3.connect(tmp_path / "out" / "results.sqlite").execute(
        "SELECT dataset, eval_dataset, metric FROM results").fetchall()
    assert {r[:2] for r in rows} == {("coco", "voc2007")} and {r[2] for r in rows} == {"map@k1", "map@all"}


def test_eval_data_root_points_the_transfer_dataset_at_its_own_folder(tmp_path):
    import sqlite3

    from voc_fixture import make_voc2007

    make_coco(tmp_path / "coco", {"train2017": 4})
    make_voc2007(tmp_path / "voc", n_trainval=40, n_test=20)
    args = ["run", "-m", "random", "-p", "lowshot", "-d", "coco", "--eval-dataset", "voc2007",
            "--data-root", str(tmp_path / "coco"), "-o", str(tmp_path / "out"), "--no-progress",
            "--set", "model.backbone=convnet-small", "--set", "model.backbone_options={width: 8}",
            "--set", "data.input_size=16", "--set", "lowshot.k=[1]", "--set", "lowshot.samples=1",
            "--set", "lowshot.costs=[1.0]"]
    missing = CliRunner().invoke(cli, args)  # VOCdevkit is not under the COCO folder
    assert missing.exit_code != 0 and "voc2007" in missing.output
    result = CliRunner().invoke(cli, [*args, "--eval-data-root", str(tmp_path / "voc")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = sqlite3.connect(tmp_path / "out" / "results.sqlite").execute(
        "SELECT dataset, eval_dataset, metric FROM results").fetchall()
    assert {r[:2] for r in rows} == {("coco", "voc2007")} and {r[2] for r in rows} == {"map@k1", "map@all"}


def test_eval_data_root_without_a_transfer_dataset_is_refused():
    from sslbench.contract.errors import ConfigError
    from sslbench.runner import resolve_config

    with pytest.raises(ConfigError, match="data.eval_root '/voc' is only used with --eval-dataset"):
        resolve_config("random", "digits", ["knn"], overrides={"data": {"eval_root": "/voc"}})


def test_a_detector_whose_loss_turns_non_finite_is_an_error_not_an_ap_of_zero(tmp_path):
    """NaN weights detect nothing: AP 0 would be stored with exit status 0."""
    make_coco(tmp_path / "coco")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, [
        "run", "-m", "random", "-p", "detection", "-d", "coco", "--data-root", str(tmp_path / "coco"),
        "-o", str(out), "--no-progress", "--set", "model.backbone=resnet18", "--set", "data.input_size=64",
        "--set", "detection.preset=tiny", "--set", "detection.iterations=2", "--set", "detection.lr=1e30"])
    assert result.exit_code == 2, result.output
    line = one_error_line(result.stderr)
    assert "detection on 'train2017' diverged: non-finite loss by iteration 2 of 2 at detection.lr=1e+30" in line, line
    assert not (out / "results.sqlite").exists()
