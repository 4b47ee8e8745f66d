"""Weighted k-nearest-neighbour classification on frozen features (SPEC §5, InstDisc / DINO)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..config import check
from ..protocol import Metric, Protocol

if TYPE_CHECKING:
    import torch


@dataclass
class KNNParams:
    """k values evaluated at once, vote temperature, and chunk sizes bounding memory."""

    k: list[int] = field(default_factory=lambda: [20, 200])
    temperature: float = 0.07
    query_chunk: int = 1024
    bank_chunk: int = 65536

    def __post_init__(self) -> None:
        check(len(self.k) > 0 and all(k > 0 for k in self.k), "knn.k", self.k, "a list of positive integers")
        check(self.temperature > 0, "knn.temperature", self.temperature, "a positive number")
        check(self.query_chunk > 0, "knn.query_chunk", self.query_chunk, "a positive integer")
        check(self.bank_chunk > 0, "knn.bank_chunk", self.bank_chunk, "a positive integer")


def knn_predict(queries: "torch.Tensor", bank: "torch.Tensor", bank_labels: "torch.Tensor", num_classes: int,
                ks: list[int], temperature: float, query_chunk: int = 1024, bank_chunk: int = 65536) -> "dict[int, torch.Tensor]":
    """Predicted class per query for each k: features l2-normalised, cosine similarity, votes of
    the k nearest bank entries weighted by exp(sim / temperature). Chunked over queries and
    bank, so memory is O(query_chunk x (bank_chunk + k)), never a full similarity matrix."""
    import torch
    import torch.nn.functional as F

    kmax = min(max(ks), len(bank))
    preds = {k: torch.empty(len(queries), dtype=torch.long) for k in ks}
    for qs in range(0, len(queries), query_chunk):
        q = F.normalize(queries[qs:qs + query_chunk].float(), dim=1)
        best_sim = torch.full((len(q), 0), float("-inf"))
        best_idx = torch.zeros((len(q), 0), dtype=torch.long)
        for bs in range(0, len(bank), bank_chunk):
            b = F.normalize(bank[bs:bs + bank_chunk].float(), dim=1)
            sim = q @ b.T
            top = sim.topk(min(kmax, sim.shape[1]), dim=1)
            best_sim = torch.cat([best_sim, top.values], 1)
            best_idx = torch.cat([best_idx, top.indices + bs], 1)
            if best_sim.shape[1] > kmax:
                keep = best_sim.topk(kmax, dim=1)
                best_sim, best_idx = keep.values, best_idx.gather(1, keep.indices)
        order = best_sim.argsort(dim=1, descending=True, stable=True)
        best_sim, best_idx = best_sim.gather(1, order), best_idx.gather(1, order)
        weights = (best_sim / temperature).exp()
        neighbour_labels = bank_labels[best_idx]
        for k in ks:
            kk = min(k, kmax)
            votes = torch.zeros(len(q), num_classes)
            votes.scatter_add_(1, neighbour_labels[:, :kk], weights[:, :kk])
            preds[k][qs:qs + len(q)] = votes.argmax(1)
    return preds


class KNN(Protocol):
    """kNN top-1 of test features against the train features (SPEC §5)."""

    name = "knn"
    Params = KNNParams
    description = "weighted kNN on l2-normalised frozen features (k=20, 200; T=0.07)"

    def evaluate(self, ctx) -> list[Metric]:
        bank, bank_labels = ctx.features(ctx.spec.train_split)
        queries, labels = ctx.features(ctx.spec.test_split)
        p = self.params
        preds = knn_predict(queries, bank, bank_labels, ctx.num_classes, p.k, p.temperature, p.query_chunk, p.bank_chunk)
        return [Metric(f"top1@k{k}", 100.0 * float((preds[k] == labels).float().mean())) for k in p.k]
