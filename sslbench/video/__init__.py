"""Video self-supervised learning (thesis chapter 5): decord datasets, clip sampling, video
augmentations, ResNet3D backbones and the 30-view evaluation.

The method plugins are unchanged on video: a video dataset hands the engine uint8 clips
``(n_clips, C, T, H, W)`` per item, :class:`sslbench.video.augment.VideoViewMaker` turns clip
``k`` into view ``k`` (Table 4.1 augmentations with one set of parameters per clip, plus the
temporal ``reverse`` and ``diff``), and the backbones map ``(B, C, T, H, W)`` to pooled features.
"""
