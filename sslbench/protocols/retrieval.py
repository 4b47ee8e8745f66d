"""Nearest-neighbour retrieval recall R@k (thesis 5.4.2, Table 5.8).

Every test feature queries the train features by cosine similarity; R@k is the share of queries
for which at least one of the k nearest train features has the query's class. With ``center``
(the thesis's reference code), the query set and the bank are each centred by their own mean
before l2-normalisation. Videos use the 30-crop averaged feature of the cache; images the
evaluation view. Exactly tied similarities (duplicate images) rank the lower train index first,
whatever the chunk sizes; a k above the train split's size is reported under that size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import check
from ..contract.protocol import Metric, Protocol
from .knn import k_used, nearest_neighbours


@dataclass
class RetrievalParams:
    """Recall cut-offs, mean-centring, and chunk sizes bounding memory."""

    k: list[int] = field(default_factory=lambda: [1, 5, 10])
    center: bool = True
    query_chunk: int = 1024
    bank_chunk: int = 65536

    def __post_init__(self) -> None:
        check(len(self.k) > 0 and all(k > 0 for k in self.k), "retrieval.k", self.k, "a list of positive integers")
        check(self.query_chunk > 0, "retrieval.query_chunk", self.query_chunk, "a positive integer")
        check(self.bank_chunk > 0, "retrieval.bank_chunk", self.bank_chunk, "a positive integer")


def recall_at_k(queries: Any, query_labels: Any, bank: Any, bank_labels: Any, ks: list[int], center: bool = True,
                query_chunk: int = 1024, bank_chunk: int = 65536, device: Any = None) -> dict[int, float]:
    """R@k in percent for each k: a query counts when any of its k nearest bank entries (cosine
    similarity) shares its label. Inputs may be tensors or memory-mapped arrays; the search runs
    on ``device`` (default CPU)."""
    import torch

    _, idx = nearest_neighbours(queries, bank, max(ks), query_chunk, bank_chunk, center=center, device=device)
    bank_labels = torch.as_tensor(np.asarray(bank_labels)).long()
    query_labels = torch.as_tensor(np.asarray(query_labels)).long()
    hit = bank_labels[idx] == query_labels[:, None]
    return {k: 100.0 * float(hit[:, :k].any(1).float().mean()) for k in ks}


class Retrieval(Protocol):
    """R@1, R@5, R@10 of test features querying train features (thesis 5.4.2)."""

    name = "retrieval"
    Params = RetrievalParams
    description = "test features query train features by cosine similarity; R@1/5/10 (thesis 5.4.2)"
    single_label = True  # multi-label data (VOC07) is refused before any training

    def evaluate(self, ctx) -> list[Metric]:
        ctx.require_single_label(self.name)
        bank, bank_labels = ctx.feature_arrays(ctx.spec.train_split)
        queries, labels = ctx.feature_arrays(ctx.spec.test_split)
        p = self.params
        recalls = recall_at_k(queries, labels, bank, bank_labels, p.k, p.center, p.query_chunk, p.bank_chunk,
                              ctx.device)
        used = k_used(p.k, len(bank), self.name)
        named = {f"R@{used[k]}": value for k, value in recalls.items()}
        return [Metric(name, value) for name, value in named.items()]
