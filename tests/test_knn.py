"""kNN (the field's convention, not in the thesis: docs/design.md) equals a brute-force numpy weighted vote, whatever the chunk sizes."""

import numpy as np
import pytest
import torch

from sslbench.protocols.knn import knn_predict


def brute_force(queries, bank, labels, num_classes, k, t):
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    b = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    preds = []
    for row in q:
        sims = b @ row
        nearest = np.argsort(-sims, kind="stable")[:k]
        votes = np.zeros(num_classes)
        for j in nearest:
            votes[labels[j]] += np.exp(sims[j] / t)
        preds.append(int(np.argmax(votes)))
    return np.array(preds)


@pytest.mark.parametrize("query_chunk,bank_chunk", [(1000, 100000), (7, 13), (1, 5)])
def test_knn_equals_brute_force(query_chunk, bank_chunk):
    rng = np.random.default_rng(0)
    bank = rng.normal(size=(120, 12)).astype(np.float32)
    labels = rng.integers(0, 5, size=120)
    queries = rng.normal(size=(40, 12)).astype(np.float32)
    got = knn_predict(torch.from_numpy(queries), torch.from_numpy(bank), torch.from_numpy(labels), 5,
                      [1, 7, 20], 0.07, query_chunk, bank_chunk)
    for k in (1, 7, 20):
        np.testing.assert_array_equal(got[k].numpy(), brute_force(queries, bank, labels, 5, k, 0.07))


def test_k_larger_than_bank_uses_whole_bank():
    g = torch.Generator().manual_seed(1)
    bank, queries = torch.randn(5, 3, generator=g), torch.randn(4, 3, generator=g)
    labels = torch.tensor([0, 1, 1, 1, 2])
    got = knn_predict(queries, bank, labels, 3, [200], 0.5)
    np.testing.assert_array_equal(got[200].numpy(), brute_force(queries.numpy(), bank.numpy(), labels.numpy(), 3, 5, 0.5))
