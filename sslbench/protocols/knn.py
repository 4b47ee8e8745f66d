"""Weighted k-nearest-neighbour classification on frozen features (InstDisc / DINO).

The thesis does not use kNN; this is the field's convention (Wu et al. 2018 InstDisc, Caron et
al. 2021 DINO): cosine similarity on l2-normalised features, votes of the k nearest train
features weighted by exp(sim / T), k = 20 and 200, T = 0.07, all of them parameters. Exactly
tied similarities (duplicate images) go to the lower train index, whatever the chunk sizes.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from ..config import check
from ..contract.protocol import Metric, Protocol

if TYPE_CHECKING:
    import torch

logger = logging.getLogger("sslbench.protocols")


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


def rows(x: Any, start: int, stop: int) -> "torch.Tensor":
    """Rows ``start:stop`` of a tensor or a (memory-mapped) numpy array as a float32 tensor.

    A memory-mapped file is read with ``pread`` instead of through the mapping: pages touched
    through a mapping stay in the process's resident set, so scanning a 10 GB bank would hold
    10 GB; read this way, only the current chunk is resident.
    """
    import torch

    if isinstance(x, torch.Tensor):
        return x[start:stop].float()
    if isinstance(x, np.memmap) and x.filename and x.flags.c_contiguous and x.ndim == 2:
        return torch.from_numpy(_pread_rows(x, start, min(stop, len(x))).astype(np.float32, copy=False))
    return torch.from_numpy(np.array(x[start:stop], dtype=np.float32))


def _pread_rows(x: np.memmap, start: int, stop: int) -> np.ndarray:
    row_bytes = x.itemsize * x.shape[1]
    n = max(0, stop - start)
    buffer = bytearray(n * row_bytes)
    with open(x.filename, "rb", buffering=0) as fh:
        view, offset = memoryview(buffer), x.offset + start * row_bytes
        while view:
            got = os.preadv(fh.fileno(), [view], offset)
            if got == 0:
                raise EOFError(f"{x.filename} ends before row {stop}")
            view, offset = view[got:], offset + got
    return np.frombuffer(buffer, dtype=x.dtype).reshape(n, x.shape[1])


def column_mean(x: Any, chunk: int = 65536) -> "torch.Tensor":
    """Mean row of a tensor or memory-mapped array, read ``chunk`` rows at a time (float64 sums)."""
    import torch

    total = torch.zeros(x.shape[1], dtype=torch.float64)
    for s in range(0, len(x), chunk):
        total += rows(x, s, s + chunk).double().sum(0)
    return (total / max(len(x), 1)).float()


@contextmanager
def exact_float32(device: "torch.device") -> Iterator[None]:
    """Full float32 matmuls on a CUDA device (no TF32), so neighbours match a float32 CPU search."""
    import torch

    if device.type != "cuda":
        yield
        return
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before


def nearest_neighbours(queries: Any, bank: Any, k: int, query_chunk: int = 1024, bank_chunk: int = 65536,
                       center: bool = False, device: "torch.device | str | None" = None
                       ) -> "tuple[torch.Tensor, torch.Tensor]":
    """Cosine similarities and indices (both (Q, min(k, N)), most similar first) of the ``k``
    nearest bank rows of every query; exact ties (duplicate images) go to the lower bank index,
    whatever the chunk sizes.

    ``queries`` and ``bank`` are tensors or numpy arrays, typically memory maps of the feature
    cache: the bank is read once, ``bank_chunk`` rows at a time, and each chunk is l2-normalised
    and compared with every ``query_chunk`` of queries, keeping a running top-k. Memory is
    O(query_chunk x bank_chunk + Q x k), never the full similarity matrix. With ``center``, each
    set is first centred by its own mean (as the thesis's retrieval reference code does). The
    similarities and the top-k run on ``device`` (default CPU), chunk by chunk; the results come
    back on the CPU.
    """
    import torch

    device = torch.device(device or "cpu")
    with exact_float32(device):
        sim, idx = _nearest_neighbours(queries, bank, k, query_chunk, bank_chunk, center, device)
    return sim.cpu(), idx.cpu()


def _nearest_neighbours(queries: Any, bank: Any, k: int, query_chunk: int, bank_chunk: int, center: bool,
                        device: "torch.device") -> "tuple[torch.Tensor, torch.Tensor]":
    import torch
    import torch.nn.functional as F

    from .ties import find_duplicates

    kmax = min(k, len(bank))
    nq = len(queries)
    q_mean = column_mean(queries).to(device) if center else None
    b_mean = column_mean(bank).to(device) if center else None

    def unit_rows(x: Any, mean: "torch.Tensor | None", start: int, stop: int) -> "torch.Tensor":
        r = rows(x, start, stop).to(device)
        return F.normalize(r if mean is None else r - mean, dim=1)

    # identical bank rows (duplicate images) are searched once and expanded afterwards: a float32
    # product can score two copies an ulp apart, depending on their position in the chunk
    duplicates = find_duplicates(lambda s, e: unit_rows(bank, b_mean, s, e), len(bank), bank_chunk)
    kgroups = kmax if duplicates is None else min(kmax, duplicates.groups)
    best_sim = torch.full((nq, 0), float("-inf"), device=device)
    best_idx = torch.zeros((nq, 0), dtype=torch.long, device=device)
    for bs in range(0, len(bank), bank_chunk):
        b = unit_rows(bank, b_mean, bs, bs + bank_chunk)
        # one similarity buffer per bank chunk, reused across query chunks: allocating a fresh
        # (query_chunk x bank_chunk) matrix each time costs page faults comparable to the GEMM
        buffer = torch.empty(min(query_chunk, nq), len(b), device=device)
        sims, idxs = [], []
        for qs in range(0, nq, query_chunk):
            q = unit_rows(queries, q_mean, qs, qs + query_chunk)
            sim_block = torch.mm(q, b.T, out=buffer[:len(q)])
            if duplicates is not None:
                sim_block.masked_fill_(duplicates.repeat[bs:bs + len(b)], float("-inf"))
            top_sim, top_idx = top_k_lowest_index(sim_block, min(kgroups, len(b)))
            sims.append(top_sim)
            idxs.append(top_idx + bs)
        # candidates of earlier chunks have lower bank indices: a lexicographic merge keeps them
        # first among equal similarities, so the chunking never changes which neighbours win a tie
        sim, idx = by_similarity_then_index(torch.cat([best_sim, torch.cat(sims)], 1),
                                            torch.cat([best_idx, torch.cat(idxs)], 1))
        best_sim, best_idx = sim[:, :kgroups], idx[:, :kgroups]
    return (best_sim, best_idx) if duplicates is None else duplicates.expand(best_sim, best_idx, kmax)


def top_k_lowest_index(sim: "torch.Tensor", k: int) -> "tuple[torch.Tensor, torch.Tensor]":
    """The ``k`` largest entries of each row and their columns, ordered by similarity then column:
    of entries tied at the k-th value, the lowest columns are kept (``topk`` alone keeps any)."""
    take = min(k + 1, sim.shape[1])
    top = sim.topk(take, dim=1, sorted=True)
    values, indices = top.values[:, :k], top.indices[:, :k]
    if take > k:  # a tie crosses the cut only where the (k+1)-th value equals the k-th
        crossing = top.values[:, k] == top.values[:, k - 1]
        if crossing.device.type != "meta" and bool(crossing.any()):  # meta tensors hold no values
            import torch

            rows = crossing.nonzero().squeeze(1)
            sub, kth = sim[rows], values[rows, k - 1:]
            # every entry above the k-th value, then the lowest columns equal to it: a key ranks
            # them so (fewer than k lie above, so no tie remains among the chosen)
            n = sim.shape[1]
            lowest_first = torch.arange(n, 0, -1, device=sim.device)
            key = torch.where(sub > kth, 2 * n + 1, torch.where(sub == kth, lowest_first, 0))
            chosen = key.topk(k, dim=1).indices
            values, indices = values.clone(), indices.clone()
            values[rows], indices[rows] = sub.gather(1, chosen), chosen
    return by_similarity_then_index(values, indices)


def by_similarity_then_index(sim: "torch.Tensor", idx: "torch.Tensor") -> "tuple[torch.Tensor, torch.Tensor]":
    """Each row reordered by similarity (descending), then index (ascending) among equal ones."""
    by_index = idx.argsort(dim=1)
    sim, idx = sim.gather(1, by_index), idx.gather(1, by_index)
    order = sim.argsort(dim=1, descending=True, stable=True)
    return sim.gather(1, order), idx.gather(1, order)


def _query_blocks(n: int, chunk: int) -> Iterator[tuple[int, int]]:
    for s in range(0, n, chunk):
        yield s, min(n, s + chunk)


def knn_predict(queries: Any, bank: Any, bank_labels: Any, num_classes: int, ks: list[int], temperature: float,
                query_chunk: int = 1024, bank_chunk: int = 65536, device: "torch.device | str | None" = None
                ) -> "dict[int, torch.Tensor]":
    """Predicted class per query for each k: features l2-normalised, cosine similarity, votes of
    the k nearest bank entries weighted by exp(sim / temperature).

    ``queries`` and ``bank`` may be tensors or (memory-mapped) numpy arrays; both are read in
    chunks (see :func:`nearest_neighbours`, which runs on ``device``), so a bank larger than
    memory works. The predictions are CPU tensors.
    """
    import torch

    bank_labels = torch.as_tensor(np.asarray(bank_labels)).long()
    preds = {k: torch.empty(len(queries), dtype=torch.long) for k in ks}
    # the running top-k of all queries is (Q x k); bound it by splitting very large query sets
    outer = max(query_chunk, 65536)
    for s, e in _query_blocks(len(queries), outer):
        q = queries[s:e]
        sim, idx = nearest_neighbours(q, bank, max(ks), query_chunk, bank_chunk, device=device)
        weights = (sim / temperature).exp()
        neighbour_labels = bank_labels[idx]
        for k in ks:
            kk = min(k, sim.shape[1])
            votes = torch.zeros(len(sim), num_classes)
            votes.scatter_add_(1, neighbour_labels[:, :kk], weights[:, :kk])
            preds[k][s:e] = votes.argmax(1)
    return preds


def k_used(ks: list[int], bank_size: int, protocol: str) -> dict[int, int]:
    """Requested k -> the k actually used, at most the bank size, so a metric is named by the k
    it measured (k=200 on a 150-image bank is ``@k150``); one warning line per clamped k."""
    used = {k: min(k, bank_size) for k in ks}
    for k, u in used.items():
        if u < k:
            logger.warning(f"{protocol}: k={k} is more than the {bank_size} train images; "
                           f"used k={u}, reported under k={u}")
    return used


class KNN(Protocol):
    """kNN top-1 of test features against the train features (InstDisc, DINO).

    Both feature sets come from the shared cache (memory-mapped) and are read in chunks. A k
    larger than the train split uses the whole split and is reported under the k it used.
    Multi-label datasets (VOC07) are rejected with a clear error.
    """

    name = "knn"
    Params = KNNParams
    description = "weighted kNN on l2-normalised frozen features (k=20, 200; T=0.07)"
    single_label = True  # multi-label data (VOC07) is refused before any training

    def evaluate(self, ctx) -> list[Metric]:
        import torch

        ctx.require_single_label(self.name)
        bank, bank_labels = ctx.feature_arrays(ctx.spec.train_split)
        queries, labels = ctx.feature_arrays(ctx.spec.test_split)
        p = self.params
        preds = knn_predict(queries, bank, bank_labels, ctx.num_classes, p.k, p.temperature, p.query_chunk,
                            p.bank_chunk, ctx.device)
        labels = torch.from_numpy(np.asarray(labels)).long()
        used = k_used(p.k, len(bank), self.name)
        metrics = {f"top1@k{used[k]}": 100.0 * float((preds[k] == labels).float().mean()) for k in p.k}
        return [Metric(name, value) for name, value in metrics.items()]
