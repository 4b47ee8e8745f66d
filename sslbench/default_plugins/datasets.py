"""Built-in datasets: digits (bundled), CIFAR-10/100, STL-10, Tiny-ImageNet, any ImageFolder,
ImageNet100 and ImageNet; videos: Kinetics-400/200, UCF101, HMDB51 and any video folder."""

from __future__ import annotations

from sslbench import hookimpl
from sslbench.contract.modality import Modality, register_modality
from sslbench.contract.dataset import DatasetSpec

DIGITS_MEAN, DIGITS_STD = (0.3053,), (0.3760,)
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN, CIFAR100_STD = (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)
STL10_MEAN, STL10_STD = (0.4467, 0.4398, 0.4066), (0.2603, 0.2566, 0.2713)
TINY_IMAGENET_MEAN, TINY_IMAGENET_STD = (0.4802, 0.4481, 0.3975), (0.2770, 0.2691, 0.2821)
SMALL_RESNET = {"model": {"backbone": "resnet18", "backbone_options": {"small_stem": True}}}


def _digits(root, split, image_size):
    from sslbench.image.readers import load_digits

    return load_digits(root, split)


def _cifar10(root, split, image_size):
    from sslbench.image.readers import load_cifar

    return load_cifar(root, split, 10)


def _cifar100(root, split, image_size):
    from sslbench.image.readers import load_cifar

    return load_cifar(root, split, 100)


def _imagefolder(root, split, image_size):
    from sslbench.image.readers import load_imagefolder

    return load_imagefolder(root, split, image_size)


def _imagenet100(root, split, image_size):
    from sslbench.image.readers import load_imagenet100

    return load_imagenet100(root, split, image_size)


def _stl10(root, split, image_size):
    from sslbench.image.readers import load_stl10

    return load_stl10(root, split)


def _tiny_imagenet(root, split, image_size):
    from sslbench.image.readers import load_tiny_imagenet

    return load_tiny_imagenet(root, split)


def _imagenet(root, split, image_size):
    from sslbench.image.readers import load_imagenet

    return load_imagenet(root, split, image_size)


def _coco(root, split, image_size):
    from sslbench.image.coco import load_coco

    return load_coco(root, split, image_size)


def _voc2007(root, split, image_size):
    from sslbench.image.voc import load_voc2007

    return load_voc2007(root, split, image_size)


def _videofolder(root, split, image_size, data=None):
    from sslbench.video.datasets import load_videofolder

    return load_videofolder(root, split, image_size, data)


def _kinetics400(root, split, image_size, data=None):
    from sslbench.video.datasets import load_kinetics

    return load_kinetics(root, split, image_size, data, variant=400)


def _kinetics200(root, split, image_size, data=None):
    from sslbench.video.datasets import load_kinetics

    return load_kinetics(root, split, image_size, data, variant=200)


def _ucf101(root, split, image_size, data=None):
    from sslbench.video.datasets import load_ucf101

    return load_ucf101(root, split, image_size, data)


def _hmdb51(root, split, image_size, data=None):
    from sslbench.video.datasets import load_hmdb51

    return load_hmdb51(root, split, image_size, data)


def _image_training_source(dataset, view_specs, config):
    from sslbench.image.views import training_source  # file-backed images: views cut in the loader workers

    return training_source(dataset, view_specs, config.data.input_size, config.seed, config.data.decode)


def _image_pretraining_views(spec, config, view_specs, device, channels_last):
    from sslbench.image.views import ViewMaker

    return ViewMaker(view_specs, config.data.input_size, spec.mean, spec.std, device, channels_last)


def _image_eval_views(ctx, view_specs):
    from sslbench.image.views import ViewMaker, is_file_backed

    return ViewMaker(view_specs, ctx.config.data.input_size, ctx.spec.mean, ctx.spec.std, ctx.device, False,
                     eval_crop=is_file_backed(ctx.dataset(ctx.spec.train_split)))


def _image_eval_transform(ctx, split):
    from sslbench.image.views import eval_transform  # resize-center, or resize<eval_resize>-centercrop<input>

    return eval_transform(ctx.dataset(split), ctx.config.data)


def _open_video_split(spec, config, split, purpose, clips, root):
    from sslbench.video.pipeline import load_split

    return load_split(spec, config, split, purpose, clips, root=root)


def _video_features(ctx, split, out_path, labels_path):
    from sslbench.video.evaluation import multiview_features

    return multiview_features(ctx, split, out_path=out_path, labels_path=labels_path)


def _video_pretraining_split(spec, config, view_specs):
    from sslbench.video.pipeline import pretraining_dataset  # views cut from full frames in the loader

    return pretraining_dataset(spec, config, view_specs)


def _video_training_source(dataset, view_specs, config):
    return dataset  # clips arrive cut (and cropped) by the dataset's own sampling


def _video_pretraining_views(spec, config, view_specs, device, channels_last):
    from sslbench.video.pipeline import view_maker

    return view_maker(spec, config, view_specs, device, pretraining=True)


def _video_eval_views(ctx, view_specs):
    from sslbench.video.pipeline import view_maker

    return view_maker(ctx.spec, ctx.config, view_specs, ctx.device)


def _video_eval_transform(ctx, split):
    from sslbench.video.pipeline import eval_transform

    return eval_transform(ctx.config)


#: what the engine asks of each modality (sslbench.contract.modality), beside their datasets; a
#: modality registered without a step (soccernet: none) takes the image one
register_modality(Modality("image", training_source=_image_training_source, pretraining_views=_image_pretraining_views,
                           eval_views=_image_eval_views, eval_transform=_image_eval_transform))
register_modality(Modality("video", open_split=_open_video_split, features=_video_features,
                           pretraining_split=_video_pretraining_split, training_source=_video_training_source,
                           pretraining_views=_video_pretraining_views, eval_views=_video_eval_views,
                           eval_transform=_video_eval_transform, channels_last=False))


#: Video datasets (thesis chapter 5, B.1): ResNet3D-18, 8 frames of 2.56 s at 224 pixels; the
#: linear and finetuning recipes of B.1 (preset ``b1`` of each: linear 60 epochs on random clips,
#: finetune 200 epochs with dropout 0.8), both tested on the 30-view mean.
VIDEO_DEFAULTS = {"data": {"input_size": 224, "clip_frames": 8, "clip_duration": 2.56},
                  "model": {"backbone": "resnet3d18"}, "linear": {"preset": "b1", "mode": "augment"},
                  "finetune": {"preset": "b1"}}


@hookimpl
def register_datasets(register):
    register(DatasetSpec(
        name="digits", load=_digits, num_classes=10, channels=1, needs_root=False,
        mean=DIGITS_MEAN, std=DIGITS_STD,
        defaults={"data": {"input_size": 16}, "model": {"backbone": "convnet-small"},
                  "ssl": {"online_aug": "digits", "target_aug": "digits"},
                  # random-init features are ~100x smaller than trained ones: make the probe scale-free
                  "linear": {"standardize": True, "lr": 0.1}},
        description="scikit-learn's bundled 8x8 handwritten digits (1,437 train / 360 test), no download",
    ))
    register(DatasetSpec(
        name="cifar10", layout='cifar-10-batches-py/{data_batch_1..5,test_batch}', load=_cifar10, num_classes=10, mean=CIFAR10_MEAN, std=CIFAR10_STD,
        defaults={"data": {"input_size": 32}, **SMALL_RESNET},
        description="CIFAR-10 in torchvision's python format under --data-root",
    ))
    register(DatasetSpec(
        name="cifar100", layout='cifar-100-python/{train,test}', load=_cifar100, num_classes=100, mean=CIFAR100_MEAN, std=CIFAR100_STD,
        defaults={"data": {"input_size": 32}, **SMALL_RESNET},
        description="CIFAR-100 in torchvision's python format under --data-root",
    ))
    register(DatasetSpec(
        name="imagefolder", layout='<split>/<class>/<image>', load=_imagefolder, num_classes=0, test_split="val",
        splits=("train", "val"), defaults={"data": {"input_size": 224}, "model": {"backbone": "resnet50"}},
        description="any <root>/{train,val}/<class>/<image> tree (classes counted from train/)",
    ))
    register(DatasetSpec(
        name="imagenet100", layout='{train,val}/<wnid>/<image> with the 100 wnids of thesis Table A.1', load=_imagenet100, num_classes=100, test_split="val",
        splits=("train", "val"), defaults={"data": {"input_size": 224}, "model": {"backbone": "resnet50"}},
        description="ImageNet folder filtered to the 100 classes of thesis Table A.1",
    ))
    register(DatasetSpec(
        name="stl10", layout='stl10_binary/{train,test,unlabeled}_X.bin, {train,test}_y.bin', load=_stl10, num_classes=10, mean=STL10_MEAN, std=STL10_STD,
        splits=("train", "test", "unlabeled", "train+unlabeled"), pretrain_split="train+unlabeled",
        defaults={"data": {"input_size": 96}, **SMALL_RESNET},
        description="STL-10 in torchvision's binary format (stl10_binary/); pretrains on unlabeled + train",
    ))
    register(DatasetSpec(
        name="tiny-imagenet", layout='tiny-imagenet-200/{train/<wnid>/images,val/images,val/val_annotations.txt}', load=_tiny_imagenet, num_classes=200, test_split="val", splits=("train", "val"),
        mean=TINY_IMAGENET_MEAN, std=TINY_IMAGENET_STD,
        defaults={"data": {"input_size": 64}, **SMALL_RESNET},
        description="Tiny-ImageNet-200 in its official folder format (tiny-imagenet-200/, val annotations file)",
    ))
    register(DatasetSpec(
        name="imagenet", layout='{train,val}/<wnid>/<image>', load=_imagenet, num_classes=1000, test_split="val", splits=("train", "val"),
        defaults={"data": {"input_size": 224}, "model": {"backbone": "resnet50"}},
        description="ImageNet-1k as an ImageFolder: <root>/{train,val}/<wnid>/<image>",
    ))
    register(DatasetSpec(
        name="voc2007", layout='VOCdevkit/VOC2007/{JPEGImages,Annotations,ImageSets/Main}', load=_voc2007, num_classes=20, splits=("train", "val", "trainval", "test"),
        train_split="trainval", pretrain_split="trainval",
        defaults={"data": {"input_size": 224}, "model": {"backbone": "resnet50"}},
        description="Pascal VOC2007 (VOCdevkit layout), multi-label 20 classes: the low-shot set of Table 4.9",
    ))
    register(DatasetSpec(
        name="coco", layout='annotations/instances_<split>.json and <split>/<image>', load=_coco, num_classes=0, splits=("train2017", "val2017"), train_split="train2017",
        test_split="val2017", pretrain_split="train2017",
        defaults={"data": {"input_size": 224}, "model": {"backbone": "resnet50"}},
        description="COCO-format detection set: annotations/instances_<split>.json + <split>/ images (Table 4.11)",
    ))
    register(DatasetSpec(
        name="videofolder", layout='<split>/<class>/<video>', load=_videofolder, num_classes=0, test_split="val", splits=("train", "val"),
        modality="video", defaults=VIDEO_DEFAULTS,
        description="any <root>/{train,val}/<class>/<video> tree of videos, decoded with decord",
    ))
    register(DatasetSpec(
        name="kinetics400", layout='<split>/<class>/<video> or Kinetics CSV annotations with <youtube_id>_<start>_<end>.mp4', load=_kinetics400, num_classes=400, test_split="val", splits=("train", "val", "test"),
        modality="video", defaults=VIDEO_DEFAULTS,
        description="Kinetics-400: <split>/<class>/<video> or annotations/<split>.csv + <split>/<ytid>_<start>_<end>.mp4",
    ))
    register(DatasetSpec(
        name="kinetics200", layout='<split>/<class>/<video> or Kinetics CSV annotations, filtered by data.class_list', load=_kinetics200, num_classes=200, test_split="val", splits=("train", "val"),
        modality="video", defaults=VIDEO_DEFAULTS,
        description="Mini-Kinetics-200: Kinetics-400 kept to data.class_list and/or data.video_list ({split} lists)",
    ))
    register(DatasetSpec(
        name="ucf101", layout='UCF-101/<Class>/v_*.avi and ucfTrainTestlist/', load=_ucf101, num_classes=101, modality="video", defaults=VIDEO_DEFAULTS,
        description="UCF101: UCF-101/<Class>/*.avi + ucfTrainTestlist/ (official split data.split_id = 1, 2, 3)",
    ))
    register(DatasetSpec(
        name="hmdb51", layout='<class>/*.avi and testTrainMulti_7030_splits/', load=_hmdb51, num_classes=51, modality="video", defaults=VIDEO_DEFAULTS,
        description="HMDB51: <class>/*.avi + testTrainMulti_7030_splits/ (official split data.split_id = 1, 2, 3)",
    ))
