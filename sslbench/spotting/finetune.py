"""COMEDIAN's step 3, the fine-tuning of the ``tamap`` protocol (thesis 6.3.4, eq. 6.7, App. C.1.5):
a linear head per temporal token, sigmoid + BCE per class, a token being positive when one of its
frames lies within ``radius`` seconds of an action; mixup Beta(0.1, 0.1), masking alpha_2; the
classifier alone first, then the whole model with the learning rate reset.

It starts from any ViViT / ViSwin weights, pretrained by COMEDIAN's steps 1-2 or not (the
``random`` row of Table 6.5), so every method is compared on the same fine-tuning.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from . import soccernet
from .models import random_token_mask
from .training import augment_batch, augmentation, batched, clip_starts, frame_size, n_steps, read_batches, read_clip, train_loop


def spotting_bce_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Step 3, per class per token binary cross-entropy of sigmoid outputs (eq. 6.7):
    -1/(T_l C) sum_t sum_c [y_tc log yhat_tc + (1 - y_tc) log(1 - yhat_tc)], averaged over clips.

    Eq. 6.7 prints only the positive term; the negative term is that of the BCE the thesis names
    and the reference code uses. ``targets`` may be soft (mixup).
    """
    return F.binary_cross_entropy_with_logits(logits, targets)


def finetune(model: Any, games: list[soccernet.Game], p: Any, log: Path, seed: int = 0, device: Any = "cpu",
             num_workers: int = 0) -> Any:
    """Fine-tune ``model`` (a video transformer with a spotting head) in place on ``games``.

    ``p`` holds ``classifier_epochs``, ``epochs``, ``batch_size``, ``clips_per_half``, ``lr``
    (x batch / 256 x T_g / 64, C.1.2), ``alpha2``, ``radius`` and ``mixup_alpha``."""
    size, frames, tokens = frame_size(model), model.frames, model.tokens
    halves = [(g, h) for g in games for h in g.halves]
    actions = {id(h): soccernet.annotations_of_half(g.labels(), h.half) for g, h in halves}
    aug = augmentation("finetune", size)
    rng = np.random.default_rng(seed + 2)
    gen = torch.Generator().manual_seed(seed + 2)
    alpha = torch.tensor(float(p.mixup_alpha))
    beta = torch.distributions.Beta(alpha, alpha) if p.mixup_alpha > 0 else None
    n_items = len(halves) * p.clips_per_half
    model.to(device).train()

    def batches(epoch: int):
        items = [(h, s) for _, h in halves for s in clip_starts(h, p.clips_per_half, frames, rng, True)]

        def read(chunk):
            clips = torch.stack([read_clip(h, s, frames, size) for h, s in chunk])
            targets = torch.stack([torch.from_numpy(soccernet.token_targets(
                *actions[id(h)], s, tokens, model.config.frames_per_token, p.radius)) for h, s in chunk])
            return clips, targets

        for clips, targets in read_batches(list(batched(items, p.batch_size, rng)), read, num_workers):
            yield augment_batch(clips.to(device), aug), targets.to(device)

    def loss_fn(batch):
        x, y = batch
        if beta is not None:
            lam = float(beta.sample())
            perm = torch.randperm(len(x), generator=gen).to(device)
            x, y = lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm]
        mask = random_token_mask(len(x), tokens, p.alpha2, gen)
        mask = None if mask is None else mask.to(device)
        return spotting_bce_loss(model.classify(x, mask), y)

    lr = p.lr * p.batch_size / 256 * frames / 64
    steps = n_steps(n_items, p.batch_size)
    body = [q for name, q in model.named_parameters() if not name.startswith("head.")]
    for q in body:  # the classifier alone first: no gradient through the backbone
        q.requires_grad_(False)
    if p.classifier_epochs:
        train_loop(list(model.head.parameters()), batches, loss_fn, p.classifier_epochs, steps, lr, 0, 1e-2, log)
    for q in body:
        q.requires_grad_(True)
    if p.epochs:
        train_loop(list(model.parameters()), batches, loss_fn, p.epochs, steps, lr, 0, 1e-2, log)
    return model.eval()
