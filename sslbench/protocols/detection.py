"""Object detection / instance segmentation on a COCO-format dataset (thesis 4.4.4, Table 4.11).

The thesis trains a Mask R-CNN initialised from the pretrained ResNet-50 "up to the C4 layer"
(detectron2's R50-C4, following Wang et al. 2021) and reports COCO AP^box and AP^mask.
``detection.head`` picks the architecture, both built from torchvision's Mask R-CNN (Faster
R-CNN when the dataset has no segmentations):

- ``c4`` (default, the thesis's): the stem and stages 1-3 of the pretrained ResNet are the
  backbone (stride 16); the RPN runs on that single map with 15 anchors per position (sizes
  32-512, ratios 0.5 / 1 / 2, detectron2's C4 proposal counts: 12,000 / 6,000 before NMS, 2,000 /
  1,000 after, train / test); 14 x 14 RoIAlign features go through the pretrained stage 4 (res5),
  mean-pooled for the box predictor; the mask predictor (2x2 deconvolution to 256 channels, then
  one 1x1 convolution per class, 14 x 14 masks) reads the same res5 module on its RoIs.
- ``fpn``: torchvision's ResNet-FPN with all four stages pretrained, FPN, RPN and heads new.

In both, the pretrained weights are copied and their batch norms frozen with the pretrained
statistics (torchvision's ``FrozenBatchNorm2d``, as its own detection models do; detectron2's C4
recipe of Wang et al. trains synchronised batch norms over 8 GPUs instead, which this
single-process loop has no counterpart for), so numbers compare methods run here, not Table 4.11
itself. AP is COCO's AP over IoU 0.5:0.95 computed by pycocotools' ``COCOeval`` (``stats[0]``),
in percent; AP50 is ``stats[1]``.

Presets: ``1x`` (the standard 90k-iteration schedule: batch 16, lr 0.02 x batch / 16, steps at
60k and 80k, 1,000 linear warm-up iterations, images 800-1333 px) and ``tiny`` (a few
iterations on 64 px images: a CPU smoke test, not a benchmark).
"""

from __future__ import annotations

import contextlib
import copy
import io
from dataclasses import dataclass
from typing import Any, Literal

from ..config import check, check_lr
from ..contract.errors import SSLBenchError, TrainingError
from ..contract.protocol import Metric, Protocol

DETECTION_PRESETS: dict[str, dict[str, Any]] = {
    "1x": {"iterations": 90_000, "batch_size": 16, "lr": 0.02, "milestones": [60_000, 80_000], "warmup": 1000,
           "min_size": 800, "max_size": 1333},
    "tiny": {"iterations": 4, "batch_size": 2, "lr": 0.01, "milestones": [], "warmup": 0, "min_size": 64,
             "max_size": 64},
}


@dataclass
class DetectionParams:
    """Preset plus overrides (None = the preset's value)."""

    preset: Literal["1x", "tiny"] = "1x"
    iterations: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    milestones: list[int] | None = None
    warmup: int | None = None
    min_size: int | None = None
    max_size: int | None = None
    momentum: float = 0.9
    weight_decay: float = 1e-4
    masks: Literal["auto", "yes", "no"] = "auto"
    #: "c4" (the thesis's Mask R-CNN "up to the C4 layer") or "fpn"
    head: Literal["c4", "fpn"] = "c4"
    flip_p: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        check(self.preset in DETECTION_PRESETS, "detection.preset", self.preset,
              f"one of {', '.join(DETECTION_PRESETS)}")
        for key, value in DETECTION_PRESETS[self.preset].items():
            if getattr(self, key) is None:
                setattr(self, key, list(value) if isinstance(value, list) else value)
        check(self.iterations > 0, "detection.iterations", self.iterations, "a positive integer")
        check(self.batch_size > 0, "detection.batch_size", self.batch_size, "a positive integer")
        check_lr(self.lr, "detection.lr")
        check(self.warmup >= 0, "detection.warmup", self.warmup, "an integer >= 0")
        check(0 < self.min_size <= self.max_size, "detection.min_size", self.min_size, "0 < min_size <= max_size")
        check(self.head in ("c4", "fpn"), "detection.head", self.head, "'c4' (the thesis's) or 'fpn'")

    def lr_at(self, it: int) -> float:
        """lr x batch / 16, linear warm-up from a third, x0.1 at each milestone."""
        base = self.lr * self.batch_size / 16 * 0.1 ** sum(it >= m for m in self.milestones)
        if it < self.warmup:
            return base * (1 / 3 + (2 / 3) * it / self.warmup)
        return base


def _require_pycocotools() -> None:
    try:
        import pycocotools  # noqa: F401
    except ImportError:
        raise SSLBenchError("protocol 'detection' needs pycocotools: pip install pycocotools") from None


def pretrained_resnet(backbone: Any) -> Any:
    """A CPU copy of the pretrained torchvision ResNet trunk with every batch norm frozen at its
    pretrained statistics and affine parameters (``FrozenBatchNorm2d``)."""
    import torch
    from torchvision.models import ResNet
    from torchvision.ops.misc import FrozenBatchNorm2d

    trunk = getattr(backbone, "trunk", backbone)
    if not isinstance(trunk, ResNet):
        raise SSLBenchError(f"protocol 'detection' needs a torchvision ResNet backbone (resnet18, resnet50), "
                            f"not {type(trunk).__name__}")
    if trunk.conv1.in_channels != 3:
        raise SSLBenchError("protocol 'detection' needs a 3-channel backbone (COCO images are RGB)")
    body = copy.deepcopy(trunk).cpu()

    def freeze(module: Any) -> Any:
        for name, child in module.named_children():
            if isinstance(child, torch.nn.BatchNorm2d):
                frozen = FrozenBatchNorm2d(child.num_features, eps=child.eps)
                frozen.weight.copy_(child.weight.detach())
                frozen.bias.copy_(child.bias.detach())
                frozen.running_mean.copy_(child.running_mean)
                frozen.running_var.copy_(child.running_var)
                setattr(module, name, frozen)
            else:
                freeze(child)
        return module

    return freeze(body)


def _stage_channels(body: Any) -> list[int]:
    """Output channels of the four ResNet stages (BasicBlock and Bottleneck alike)."""
    import torch

    x = torch.zeros(1, 3, 64, 64)
    channels = []
    with torch.no_grad():
        x = body.maxpool(body.relu(body.bn1(body.conv1(x))))
        for layer in (body.layer1, body.layer2, body.layer3, body.layer4):
            x = layer(x)
            channels.append(x.shape[1])
    return channels


def resnet_fpn(backbone: Any) -> Any:
    """An FPN backbone over a copy of the pretrained torchvision ResNet trunk (frozen BN)."""
    from torchvision.models.detection.backbone_utils import BackboneWithFPN

    body = pretrained_resnet(backbone)
    return BackboneWithFPN(body, {"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"},
                           _stage_channels(body), 256)


def _res5_box_head(res5: Any) -> Any:
    """The box head of a C4 detector around ``res5`` (defined here: torch is imported lazily)."""
    from torch import nn

    class Res5BoxHead(nn.Module):
        """detectron2's Res5ROIHeads box branch: res5 on the 14 x 14 RoI features, mean-pooled."""

        def __init__(self, res5: nn.Module) -> None:
            super().__init__()
            self.res5 = res5

        def forward(self, x):
            return self.res5(x).mean(dim=(2, 3))

    return Res5BoxHead(res5)


def c4_parts(backbone: Any) -> "tuple[Any, Any, int]":
    """(stem + stages 1-3 with ``out_channels``, the pretrained stage 4 (res5), res5's channels)."""
    from torch import nn

    body = pretrained_resnet(backbone)
    channels = _stage_channels(body)
    trunk = nn.Sequential(body.conv1, body.bn1, body.relu, body.maxpool, body.layer1, body.layer2, body.layer3)
    trunk.out_channels = channels[2]
    return trunk, body.layer4, channels[3]


def build_detector(backbone: Any, num_classes: int, masks: bool, p: DetectionParams, mean, std) -> Any:
    """torchvision Mask R-CNN (or Faster R-CNN) with ``num_classes`` + background outputs, on the
    C4 or FPN architecture of ``p.head``."""
    from torchvision.models.detection import FasterRCNN, MaskRCNN

    mean, std = list(mean), list(std)
    if len(mean) == 1:
        mean, std = mean * 3, std * 3
    common = {"min_size": p.min_size, "max_size": p.max_size, "image_mean": mean, "image_std": std}
    if p.head == "fpn":
        cls = MaskRCNN if masks else FasterRCNN
        return cls(resnet_fpn(backbone), num_classes=num_classes + 1, **common)

    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor
    from torchvision.models.detection.mask_rcnn import MaskRCNNPredictor
    from torchvision.ops import MultiScaleRoIAlign

    trunk, res5, res5_channels = c4_parts(backbone)
    c4 = {
        "rpn_anchor_generator": AnchorGenerator(sizes=((32, 64, 128, 256, 512),), aspect_ratios=((0.5, 1.0, 2.0),)),
        "rpn_pre_nms_top_n_train": 12000, "rpn_pre_nms_top_n_test": 6000,
        "rpn_post_nms_top_n_train": 2000, "rpn_post_nms_top_n_test": 1000,
        "box_roi_pool": MultiScaleRoIAlign(featmap_names=["0"], output_size=14, sampling_ratio=0),
        "box_head": _res5_box_head(res5),
        "box_predictor": FastRCNNPredictor(res5_channels, num_classes + 1),
    }
    if not masks:
        return FasterRCNN(trunk, **common, **c4)
    return MaskRCNN(trunk, **common, **c4,
                    mask_roi_pool=MultiScaleRoIAlign(featmap_names=["0"], output_size=14, sampling_ratio=0),
                    mask_head=res5,  # shared with the box head, as in detectron2's C4
                    mask_predictor=MaskRCNNPredictor(res5_channels, 256, num_classes + 1))


def coco_results(predictions: dict[int, dict[str, Any]], category_ids: list[int]) -> tuple[list[dict], list[dict]]:
    """Detector outputs (per image id: ``boxes`` xyxy, ``labels`` 1..C, ``scores``, optional
    ``masks`` (N, 1, H, W) probabilities) as COCO result lists (bbox, segm); masks are
    thresholded at 0.5 and RLE-encoded."""
    import numpy as np  # here, not at import: `sslbench --help` loads every protocol module
    from pycocotools import mask as mask_utils

    boxes_out, segm_out = [], []
    for image_id, pred in predictions.items():
        boxes = np.asarray(pred["boxes"], dtype=np.float64).reshape(-1, 4)
        labels, scores = np.asarray(pred["labels"]), np.asarray(pred["scores"], dtype=np.float64)
        masks = pred.get("masks")
        for j in range(len(boxes)):
            x0, y0, x1, y1 = boxes[j]
            common = {"image_id": int(image_id), "category_id": int(category_ids[int(labels[j]) - 1]),
                      "score": float(scores[j])}
            boxes_out.append({**common, "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]})
            if masks is not None:
                binary = np.asfortranarray((np.asarray(masks[j]).reshape(masks[j].shape[-2:]) >= 0.5).astype(np.uint8))
                rle = mask_utils.encode(binary)
                rle["counts"] = rle["counts"].decode("ascii")
                segm_out.append({**common, "segmentation": rle})
    return boxes_out, segm_out


def coco_ap(ann_file: Any, results: list[dict], iou_type: str, image_ids: list[int]) -> tuple[float, float]:
    """(AP, AP50) in percent of ``results`` against the ground truth of ``ann_file`` by
    pycocotools' COCOeval over ``image_ids``; 0 when there is no detection at all."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if not results:
        return 0.0, 0.0
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(ann_file))
        dt = gt.loadRes(results)
        evaluator = COCOeval(gt, dt, iou_type)
        evaluator.params.imgIds = list(image_ids)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    ap, ap50 = evaluator.stats[0], evaluator.stats[1]
    return (100.0 * max(float(ap), 0.0), 100.0 * max(float(ap50), 0.0))


def _flip(image: Any, target: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    width = image.shape[-1]
    target = dict(target)
    boxes = target["boxes"].clone()
    boxes[:, [0, 2]] = width - target["boxes"][:, [2, 0]]
    target["boxes"] = boxes
    if "masks" in target:
        target["masks"] = target["masks"].flip(-1)
    return image.flip(-1), target


#: iterations between checks that the training loss stayed finite (NaN weights detect nothing: AP 0 stored)
CHECK_EVERY = 100


def train_and_evaluate(backbone: Any, root: str | None, train_split: str, test_split: str, mean, std,
                       p: DetectionParams, device: Any, progress: bool = False) -> dict[str, float]:
    """Train the detector on ``train_split`` and return AP metrics on ``test_split``."""
    import numpy as np
    import torch
    from tqdm.auto import tqdm

    from ..image.coco import CocoDetection

    _require_pycocotools()
    train, test = CocoDetection(root, train_split), CocoDetection(root, test_split)
    masks = train.has_masks if p.masks == "auto" else p.masks == "yes"
    if masks and not train.has_masks:
        raise SSLBenchError("detection.masks=yes but the COCO train split has no segmentations")
    torch.manual_seed(p.seed)
    model = build_detector(backbone, len(train.category_ids), masks, p, mean, std).to(device)
    params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.SGD(params, lr=p.lr_at(0), momentum=p.momentum, weight_decay=p.weight_decay)
    rng = np.random.default_rng(p.seed)
    nonfinite = torch.zeros((), dtype=torch.bool, device=device)  # read every CHECK_EVERY iterations: no sync per step
    model.train()
    order: list[int] = []
    for it in tqdm(range(p.iterations), desc="detection", unit="it", leave=False, disable=not progress):
        images, targets = [], []
        while len(images) < p.batch_size:
            if not order:
                order = list(rng.permutation(len(train)))
            image, target = train[int(order.pop())]
            if rng.random() < p.flip_p:
                image, target = _flip(image, target)
            if not masks:
                target.pop("masks", None)
            images.append(image.float().div(255).to(device))
            targets.append({k: (v.to(device) if torch.is_tensor(v) else v) for k, v in target.items()
                            if k != "image_id"})
        for group in opt.param_groups:
            group["lr"] = p.lr_at(it)
        losses = model(images, targets)
        loss = sum(losses.values())
        nonfinite |= ~torch.isfinite(loss.detach())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (it + 1 == p.iterations or (it + 1) % CHECK_EVERY == 0) and bool(nonfinite):
            raise TrainingError(f"detection on {train_split!r} diverged: non-finite loss by iteration {it + 1} of "
                                f"{p.iterations} at detection.lr={p.lr:g} (preset {p.preset}): lower detection.lr")
    model.eval()
    predictions: dict[int, dict[str, Any]] = {}
    with torch.no_grad():
        for i in range(len(test)):
            info = test.images[i]
            out = model([test.image(i).float().div(255).to(device)])[0]
            predictions[int(info["id"])] = {k: v.cpu().numpy() for k, v in out.items()}
    boxes, segms = coco_results(predictions, test.category_ids)
    image_ids = [int(im["id"]) for im in test.images]
    ap, ap50 = coco_ap(test.ann_file, boxes, "bbox", image_ids)
    metrics = {"AP_box": ap, "AP50_box": ap50}
    if masks and test.has_masks:
        ap, ap50 = coco_ap(test.ann_file, segms, "segm", image_ids)
        metrics.update({"AP_mask": ap, "AP50_mask": ap50})
    return metrics


class Detection(Protocol):
    """COCO AP^box (and AP^mask) of a Mask R-CNN initialised from the backbone (Table 4.11)."""

    name = "detection"
    Params = DetectionParams
    description = "Mask R-CNN (torchvision; C4 as in the thesis, or FPN) from the backbone on COCO data; AP box/mask"
    modalities = ("image",)  # a 2D backbone inside Mask R-CNN, on COCO-format images

    def evaluate(self, ctx) -> list[Metric]:
        spec = ctx.spec
        metrics = train_and_evaluate(ctx.backbone, ctx.data_root, spec.train_split, spec.test_split,
                                     spec.mean, spec.std, self.params, ctx.device, ctx.progress)
        return [Metric(name, value) for name, value in metrics.items()]
