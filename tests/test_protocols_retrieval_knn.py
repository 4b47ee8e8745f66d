"""Retrieval R@k (thesis 5.4.2) and kNN (not in the thesis: the field's convention, docs/design.md) equal brute-force numpy, on memory-mapped banks."""

import numpy as np
import pytest
import torch

from sslbench.contract.errors import SSLBenchError
from sslbench.protocols.knn import KNN, KNNParams, knn_predict, nearest_neighbours
from sslbench.protocols.retrieval import Retrieval, RetrievalParams, recall_at_k

from protocols_support import digits_context, single_thread  # noqa: F401 (autouse fixture)


def brute_force_recall(queries, query_labels, bank, bank_labels, k, center):
    if center:
        queries, bank = queries - queries.mean(0), bank - bank.mean(0)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    b = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    hits = 0
    for row, label in zip(q, query_labels):
        nearest = np.argsort(-(b @ row), kind="stable")[:k]
        hits += int((bank_labels[nearest] == label).any())
    return 100.0 * hits / len(queries)


def brute_force_knn(queries, bank, labels, num_classes, k, t):
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    b = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    preds = []
    for row in q:
        sims = b @ row
        votes = np.zeros(num_classes)
        for j in np.argsort(-sims, kind="stable")[:k]:
            votes[labels[j]] += np.exp(sims[j] / t)
        preds.append(int(np.argmax(votes)))
    return np.array(preds)


def _data(seed=0, n_bank=150, n_query=60, dim=10, classes=6):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(classes, dim)) * 1.5
    bank_labels = rng.integers(0, classes, n_bank)
    query_labels = rng.integers(0, classes, n_query)
    bank = (centers[bank_labels] + rng.normal(size=(n_bank, dim)) + 2.0).astype(np.float32)
    queries = (centers[query_labels] + rng.normal(size=(n_query, dim)) + 2.0).astype(np.float32)
    return queries, query_labels, bank, bank_labels


def _memmap(tmp_path, name, array):
    np.save(tmp_path / name, array)
    return np.load(tmp_path / name, mmap_mode="r")


@pytest.mark.parametrize("center", [False, True])
@pytest.mark.parametrize("query_chunk,bank_chunk", [(1024, 65536), (7, 13)])
def test_recall_at_k_equals_brute_force(tmp_path, center, query_chunk, bank_chunk):
    queries, query_labels, bank, bank_labels = _data()
    bank_mm = _memmap(tmp_path, "bank.npy", bank)
    got = recall_at_k(queries, query_labels, bank_mm, bank_labels, [1, 5, 10], center, query_chunk, bank_chunk)
    for k in (1, 5, 10):
        assert got[k] == pytest.approx(brute_force_recall(queries, query_labels, bank, bank_labels, k, center))
    assert got[1] <= got[5] <= got[10]


def test_mean_centring_changes_the_neighbours_of_off_centre_features():
    queries, _, bank, _ = _data()
    _, plain = nearest_neighbours(queries, bank, 5)
    _, centred = nearest_neighbours(queries, bank, 5, center=True)
    assert not torch.equal(plain, centred)


@pytest.mark.parametrize("query_chunk,bank_chunk", [(1000, 100000), (9, 11)])
def test_knn_over_a_memory_mapped_bank_equals_brute_force(tmp_path, query_chunk, bank_chunk):
    queries, _, bank, bank_labels = _data(seed=3)
    bank_mm = _memmap(tmp_path, "bank.npy", bank)
    queries_mm = _memmap(tmp_path, "queries.npy", queries)
    got = knn_predict(queries_mm, bank_mm, bank_labels, 6, [1, 10, 20], 0.07, query_chunk, bank_chunk)
    for k in (1, 10, 20):
        np.testing.assert_array_equal(got[k].numpy(), brute_force_knn(queries, bank, bank_labels, 6, k, 0.07))


def test_retrieval_and_knn_protocols_on_digits(tmp_path):
    ctx, _ = digits_context(tmp_path / "features")
    recall = {m.name: m.value for m in Retrieval(RetrievalParams()).evaluate(ctx)}
    assert set(recall) == {"R@1", "R@5", "R@10"} and recall["R@1"] <= recall["R@5"] <= recall["R@10"]
    assert recall["R@1"] > 50.0  # chance is ~10%
    knn = {m.name: m.value for m in KNN(KNNParams(k=[1, 20])).evaluate(ctx)}
    # kNN with k=1 predicts the nearest neighbour's class: its top-1 is exactly R@1 (uncentred)
    uncentred = {m.name: m.value for m in Retrieval(RetrievalParams(k=[1], center=False)).evaluate(ctx)}
    assert knn["top1@k1"] == pytest.approx(uncentred["R@1"])


def test_single_label_protocols_reject_a_multilabel_dataset(tmp_path):
    from voc_fixture import make_voc2007

    make_voc2007(tmp_path / "voc", n_trainval=20, n_test=10)
    ctx, _ = digits_context(None, dataset="voc2007",
                            sets={"data": {"root": str(tmp_path / "voc"), "input_size": 16}})
    for protocol in (KNN(KNNParams()), Retrieval(RetrievalParams())):
        with pytest.raises(SSLBenchError, match="multi-label"):
            protocol.evaluate(ctx)


def test_the_search_runs_on_the_device_it_is_given():
    """Every tensor of the chunked search lives on ``device`` ("meta" checks the placement on a
    machine without a GPU: mixing devices raises); the default device gives CPU results."""
    from sslbench.protocols.knn import _nearest_neighbours

    queries, bank = torch.randn(50, 8), torch.randn(300, 8)
    sim, idx = _nearest_neighbours(queries, bank, 5, 16, 128, True, torch.device("meta"))
    assert sim.device.type == idx.device.type == "meta" and sim.shape == (50, 5)
    sim, idx = nearest_neighbours(queries, bank, 5, 16, 128, center=True, device="cpu")
    assert sim.device.type == idx.device.type == "cpu"
