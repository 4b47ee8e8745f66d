"""Clip sampling (thesis 5.4 / B.1): 2.56-s clips keeping 8 or 16 frames uniformly, jitter,
overlap, evenly spaced evaluation clips."""

from __future__ import annotations

import pytest
import torch

from sslbench.video.sampling import (ClipSampling, clip_length, crop_offsets, frame_indices, random_starts,
                                     sample_clips, uniform_starts)


@pytest.mark.parametrize("frames", [8, 16])
def test_a_clip_lasts_2_56_seconds_and_keeps_the_requested_frames_uniformly(frames):
    gen = torch.Generator().manual_seed(0)
    for _ in range(50):
        clip, = sample_clips(250, 25.0, ClipSampling(frames=frames), gen)
        assert len(clip) == frames and clip == sorted(clip)
        stride = 64 // frames  # 2.56 s at 25 fps = 64 frames
        assert [b - a for a, b in zip(clip, clip[1:])] == [stride] * (frames - 1)
        assert (clip[-1] - clip[0] + stride) / 25.0 == pytest.approx(2.56)
        assert 0 <= clip[0] and clip[-1] < 250


def test_clip_length_follows_the_frame_rate():
    assert clip_length(2.56, 25.0) == 64
    assert clip_length(2.56, 30.0) == 77
    assert frame_indices(10, 64, 8, 1000) == [10, 18, 26, 34, 42, 50, 58, 66]


def test_jitter_scales_the_clip_duration_within_its_range():
    gen = torch.Generator().manual_seed(1)
    lengths = [clip_length(2.56, 25.0, 0.2, gen) for _ in range(500)]
    assert min(lengths) >= round(0.8 * 64) and max(lengths) <= round(1.2 * 64)
    assert max(lengths) - min(lengths) > 20  # actually spread over the range


def test_two_clips_without_overlap_never_overlap_and_with_overlap_sometimes_do():
    gen = torch.Generator().manual_seed(2)
    overlapping = 0
    for _ in range(200):
        a, b = random_starts(200, [64, 64], overlap=False, gen=gen)
        assert abs(a - b) >= 64 and 0 <= min(a, b) and max(a, b) <= 200 - 64
        c, d = random_starts(200, [64, 64], overlap=True, gen=gen)
        overlapping += abs(c - d) < 64
    assert overlapping > 0
    # both orders happen: the first view is not always the earlier clip
    firsts = {random_starts(200, [64, 64], False, gen)[0] < 68 for _ in range(50)}
    assert firsts == {True, False}


def test_too_short_video_gives_one_clip_from_frame_0_repeating_the_last_frame():
    clip, = sample_clips(40, 25.0, ClipSampling(frames=8))
    assert clip == [0, 8, 16, 24, 32, 39, 39, 39]
    a, b = random_starts(100, [64, 64], overlap=False, gen=torch.Generator().manual_seed(0))
    assert 0 <= a <= 36 and 0 <= b <= 36  # no room for two disjoint clips: overlap allowed


def test_evaluation_clips_are_evenly_spaced_from_start_to_end():
    assert uniform_starts(200, 64, 10) == [round(i * 136 / 9) for i in range(10)]
    assert uniform_starts(200, 64, 1) == [68]
    clips = sample_clips(200, 25.0, ClipSampling(frames=8, clips=10, mode="uniform", crops=3))
    assert len(clips) == 10 and clips[0][0] == 0 and clips[-1][-1] == 136 + 56
    assert ClipSampling(clips=10, mode="uniform", crops=3).views == 30
    assert crop_offsets(340, 256, 3) == [0, 42, 84] and crop_offsets(256, 256, 3) == [0, 0, 0]


def test_invalid_sampling_is_rejected():
    with pytest.raises(ValueError):
        ClipSampling(frames=0)
    with pytest.raises(ValueError):
        ClipSampling(jitter=1.0)
