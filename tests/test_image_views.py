"""Training views cut in the loader workers and the evaluation view, against torchvision's
transforms; fast decoding; GPU decoding's CPU fallback; an ImageNet-style run end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import v2 as T2
from torchvision.io import decode_jpeg, read_file
from torchvision.transforms.v2 import functional as TF

from sslbench.contract.augmentations import AugSpec, local_crop_specs
from sslbench.cli import cli
from sslbench.contract.dataset import IMAGENET_MEAN, IMAGENET_STD
from sslbench.image.readers import load_imagefolder
from sslbench.engine.data import iterate_batches
from sslbench.contract.errors import ConfigError, DatasetError
from sslbench.image.crops import CropSpec, crop_box
from sslbench.image.decode import decode_file, read_bytes, reduction
from sslbench.image.samples import write_photo_folder
from sslbench.image.views import TrainViews, ViewMaker, cut_views, eval_resize, eval_transform, training_source



@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    return write_photo_folder(tmp_path_factory.mktemp("photos"), classes=2, per_class=3, size=(200, 150))


def _jpeg(tmp_path: Path, size: tuple[int, int]) -> Path:
    from sslbench.image.samples import sample_photos

    path = tmp_path / f"photo{size[0]}.jpg"
    Image.fromarray(sample_photos()[0]).resize(size, Image.BICUBIC).save(path, quality=90)
    return path


def test_decoding_a_jpeg_equals_torchvisions_decoder_and_a_png_equals_pil(tmp_path):
    path = _jpeg(tmp_path, (120, 90))
    assert torch.equal(decode_file(path), decode_jpeg(read_file(str(path))))
    png = tmp_path / "grey.png"
    Image.fromarray((torch.arange(64 * 48) % 251).view(48, 64).numpy().astype("uint8")).save(png)
    decoded = decode_file(png)
    assert decoded.shape == (3, 48, 64) and torch.equal(decoded[0], decoded[2])  # grey becomes RGB


def test_an_undecodable_file_is_a_dataset_error_naming_it(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(DatasetError, match="broken.jpg"):
        decode_file(bad)
    with pytest.raises(DatasetError, match="missing.jpg"):
        read_bytes(tmp_path / "missing.jpg")


@pytest.mark.parametrize("seed", range(4))
def test_a_worker_view_equals_torchvisions_random_resized_crop_and_flip(tmp_path, seed):
    path = _jpeg(tmp_path, (200, 150))  # small enough that the full-size decoder runs
    image = decode_jpeg(read_file(str(path)))
    (ours,) = cut_views(path, [CropSpec(112, (0.2, 1.0))], torch.Generator().manual_seed(seed))
    for module in (T2, T):
        torch.manual_seed(seed)
        pipeline = module.Compose([module.RandomResizedCrop(112, scale=(0.2, 1.0), antialias=True),
                                   module.RandomHorizontalFlip()])
        expected = pipeline(image)
        if module is T2:  # the same uint8 resize: equal
            assert torch.equal(ours, expected)
        else:  # v1 resizes through float: rounding apart
            assert (ours.int() - expected.int()).abs().max() <= 1


def test_reduced_jpeg_decoding_runs_only_when_every_crop_allows_it_and_stays_close(tmp_path):
    assert reduction([(900, 1200, 96), (400, 500, 224)]) == 1  # the 224 view needs the full scale
    assert reduction([(900, 1200, 96), (1000, 1000, 224)]) == 2  # decoded crops stay >= 2x their output
    assert reduction([(900, 1200, 96)]) == 4 and reduction([(1600, 1600, 96)]) == 8
    path = _jpeg(tmp_path, (1200, 900))
    views = [CropSpec(96, (0.9, 1.0), flip_p=0.0)]
    (reduced,) = cut_views(path, views, torch.Generator().manual_seed(0))
    top, left, h, w = crop_box(900, 1200, (0.9, 1.0), (3 / 4, 4 / 3), torch.Generator().manual_seed(0))
    full = TF.resized_crop(decode_file(path), top, left, h, w, [96, 96], antialias=True)
    assert (reduced.float() - full.float()).abs().mean() < 2.5  # grey levels of 255: JPEG q90's own error


def test_multicrop_views_come_out_at_their_sides(tmp_path):
    path = _jpeg(tmp_path, (500, 375))
    specs = [CropSpec(224, (0.2, 1.0))] * 2 + [CropSpec(s.size, s.crop_scale) for s in local_crop_specs(4, 224)]
    views = cut_views(path, specs, torch.Generator().manual_seed(1))
    assert [tuple(v.shape) for v in views] == [(3, s, s) for s in (224, 224, 192, 160, 128, 96)]
    assert all(v.dtype == torch.uint8 for v in views)


def test_eval_view_equals_torchvision_resize_256_then_center_crop_224(photos):
    dataset = load_imagefolder(str(photos), "val", 256)
    views = ViewMaker([], 224, IMAGENET_MEAN, IMAGENET_STD, torch.device("cpu"), False, eval_crop=True)
    ours = views.eval_view(torch.stack([dataset[i][0] for i in range(len(dataset))]))
    tensor_pipeline = T2.Compose([T2.Resize(256, antialias=True), T2.CenterCrop(224)])
    pil_pipeline = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    for i, (path, _) in enumerate(dataset.samples):
        expected = tensor_pipeline(decode_jpeg(read_file(str(path)))).float().div(255)
        expected = TF.normalize(expected, list(IMAGENET_MEAN), list(IMAGENET_STD))
        torch.testing.assert_close(ours[i], expected, atol=1e-5, rtol=0)  # the same arithmetic: equal
        with Image.open(path) as pil:  # PIL's resampling: within interpolation tolerance
            assert (ours[i] - pil_pipeline(pil.convert("RGB"))).abs().mean() < 0.02


def test_small_datasets_keep_their_own_evaluation_resize():
    images = torch.randint(0, 256, (2, 3, 96, 96), dtype=torch.uint8)
    views = ViewMaker([], 64, (0.5,) * 3, (0.5,) * 3, torch.device("cpu"), False)  # eval_crop off
    expected = torch.nn.functional.interpolate(images.float() / 255, size=(64, 64), mode="bilinear",
                                               align_corners=False, antialias=True)
    torch.testing.assert_close(views.eval_view(images), (expected - 0.5) / 0.5)


def test_eval_resize_defaults_to_input_over_0_875_and_names_the_cache_transform(photos):
    from sslbench.config import DataConfig

    assert eval_resize(DataConfig(input_size=224)) == 256 and eval_resize(DataConfig(input_size=32)) == 37
    assert eval_resize(DataConfig(input_size=224, eval_resize=288)) == 288
    folder = load_imagefolder(str(photos), "val", 256)
    assert eval_transform(folder, DataConfig(input_size=224)) == "resize256-centercrop224"
    from sslbench.image.readers import TensorImageDataset

    tensors = TensorImageDataset(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), torch.zeros(1))
    assert eval_transform(tensors, DataConfig(input_size=224)) == "resize-center"


def test_eval_resize_smaller_than_the_input_is_refused():
    from sslbench.config import DataConfig

    with pytest.raises(ConfigError, match="data.eval_resize"):
        DataConfig(input_size=224, eval_resize=200)


def test_training_views_do_not_depend_on_the_number_of_workers(photos):
    dataset = load_imagefolder(str(photos), "train", 64)
    source = training_source(dataset, [AugSpec(), AugSpec(size=24)], 48, seed=3)
    assert isinstance(source, TrainViews)
    runs = []
    for workers in (0, 2):
        batches = list(iterate_batches(source, 3, True, seed=3, epoch=1, drop_last=True, num_workers=workers))
        runs.append(batches)
    for (views_a, labels_a), (views_b, labels_b) in zip(*runs):
        assert [tuple(v.shape[1:]) for v in views_a] == [(3, 48, 48), (3, 24, 24)]
        assert all(torch.equal(a, b) for a, b in zip(views_a, views_b)) and torch.equal(labels_a, labels_b)
    other_epoch = next(iterate_batches(source, 3, True, seed=3, epoch=2, drop_last=True, num_workers=0))
    assert not torch.equal(other_epoch[0][0], runs[0][0][0][0])  # a new epoch draws new crops


def test_worker_views_get_the_colour_ops_on_the_device_only(photos):
    dataset = load_imagefolder(str(photos), "train", 64)
    source = training_source(dataset, [AugSpec(flip_p=0.0)], 48, seed=0)
    views = ViewMaker([AugSpec(flip_p=0.0)], 48, (0.0,) * 3, (1.0,) * 3, torch.device("cpu"), False)
    item, _ = source[0]
    out = views.train_views([item[0][None]], None)[0]  # 'weak' has no colour op: the crop comes out as is
    torch.testing.assert_close(out[0], item[0].float() / 255)


def test_tensor_datasets_are_cropped_on_the_device():
    from sslbench.image.readers import TensorImageDataset

    tensors = TensorImageDataset(torch.zeros(4, 3, 8, 8, dtype=torch.uint8), torch.zeros(4))
    assert training_source(tensors, [AugSpec()], 8, seed=0) is tensors


def test_gpu_decoding_needs_cuda_and_says_so(photos, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    dataset = load_imagefolder(str(photos), "train", 64)
    with pytest.raises(ConfigError, match="data.decode.*CUDA is not available"):
        training_source(dataset, [AugSpec()], 48, seed=0, decode_on="cuda")


def test_gpu_decoding_path_cuts_the_same_views_on_the_cpu(photos):
    """The data.decode=cuda pipeline run on the CPU (its fallback here): same boxes and flips as the
    worker path, pixels within rounding of the uint8 resize."""
    from sslbench.image.gpu import EncodedViews

    dataset = load_imagefolder(str(photos), "train", 64)
    views = [CropSpec(64, (0.2, 1.0)), CropSpec(32, (0.05, 0.4))]
    encoded, workers = EncodedViews(dataset, views, seed=5), TrainViews(dataset, views, seed=5)
    batch, labels = encoded.collate_fn([encoded[(i, 2)] for i in range(4)])
    expected = [workers[(i, 2)] for i in range(4)]
    cut = batch.views("cpu")
    assert torch.equal(labels, torch.tensor([y for _, y in expected]))
    for v in range(2):
        reference = torch.stack([views_[v] for views_, _ in expected])
        assert cut[v].shape == reference.shape
        assert (cut[v].int() - reference.int()).abs().max() <= 1


def test_an_imagenet_style_folder_pretrains_and_evaluates_end_to_end(tmp_path):
    root = write_photo_folder(tmp_path / "data", classes=2, per_class=4, size=(72, 54))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, [
        "run", "-m", "moco", "-d", "imagefolder", "--data-root", str(root), "-p", "knn,linear", "--set",
        "data.input_size=32", "--set", "train.epochs=1", "--set", "train.batch_size=4", "--set",
        "model.backbone=convnet-small", "--set", "model.backbone_options={width: 8}", "--set", "linear.epochs=1",
        "--set", "linear.mode=augment", "--set", "knn.k=[3]", "--no-progress", "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (log,) = out.glob("pretrain/*/log.jsonl")
    entry = json.loads(log.read_text().splitlines()[-1])
    assert entry["epoch"] == 1 and entry["step"] == 2
    assert 0 <= entry["data_wait"] <= 1 and entry["step_time"] >= entry["data_time"] >= 0
    assert "knn" in result.output and "linear" in result.output
