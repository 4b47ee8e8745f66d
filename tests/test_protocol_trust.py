"""No silent wrong number from a protocol (issue 14): exact ties in kNN and retrieval go to the lower
bank index whatever the chunking, a metric is named by the k it used, top-5 needs more than five
classes, low-shot AP is the benchmark's envelope AP, and every SVM fit converges or says so."""

import logging
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from sslbench.protocols.knn import KNN, KNNParams, knn_predict, nearest_neighbours
from sslbench.protocols.linear import Linear, LinearParams
from sslbench.protocols.lowshot import (LowShot, LowShotParams, average_precision, interpolated_ap, l2_normalize,
                                        run_lowshot)
from sslbench.protocols.retrieval import Retrieval, RetrievalParams, recall_at_k

from protocols_support import single_thread  # noqa: F401 (autouse fixture)

CHUNKS = [(1000, 100000), (7, 13), (16, 64), (40, 1), (1, 50)]


def _bank_with_duplicates(seed=0, distinct=9, n_bank=120, n_query=40, dim=6, classes=4):
    """A bank made of a few distinct rows repeated with different labels, so most neighbours tie
    exactly; a third of the queries are bank rows themselves."""
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(distinct, dim)).astype(np.float32)
    bank = rows[rng.integers(0, distinct, n_bank)]
    labels = rng.integers(0, classes, n_bank)
    queries = np.concatenate([rng.normal(size=(n_query - n_query // 3, dim)), bank[:n_query // 3] * 2.0])
    return queries.astype(np.float32), bank, labels


def brute_force_neighbours(queries, bank, k):
    """Indices of the k most cosine-similar bank rows, exact ties to the lower index (stable sort)."""
    q = queries.astype(np.float64) / np.linalg.norm(queries.astype(np.float64), axis=1, keepdims=True)
    b = bank.astype(np.float64) / np.linalg.norm(bank.astype(np.float64), axis=1, keepdims=True)
    return np.stack([np.argsort(-(b * row).sum(1), kind="stable")[:k] for row in q])


@pytest.mark.parametrize("query_chunk,bank_chunk", CHUNKS)
def test_knn_breaks_ties_by_lower_bank_index_whatever_the_chunking(query_chunk, bank_chunk):
    queries, bank, labels = _bank_with_duplicates()
    _, idx = nearest_neighbours(torch.from_numpy(queries), torch.from_numpy(bank), 30, query_chunk, bank_chunk)
    expected = brute_force_neighbours(queries, bank, 30)
    np.testing.assert_array_equal(idx.numpy(), expected)
    preds = knn_predict(torch.from_numpy(queries), torch.from_numpy(bank), labels, 4, [1, 5, 13, 30], 0.07,
                        query_chunk, bank_chunk)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    b = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    for k in (1, 5, 13, 30):
        votes = np.zeros((len(q), 4))
        for i, nearest in enumerate(expected[:, :k]):
            np.add.at(votes[i], labels[nearest], np.exp(b[nearest] @ q[i] / 0.07))
        np.testing.assert_array_equal(preds[k].numpy(), votes.argmax(1))


@pytest.mark.parametrize("bank_chunk", [100, 7, 1])
def test_knn_keeps_the_lowest_indices_when_distinct_rows_tie_at_the_cut(bank_chunk):
    # one-hot rows are distinct, yet each is exactly as similar to the all-ones query as the others
    bank = np.concatenate([np.eye(12, dtype=np.float32), -np.eye(12, dtype=np.float32)])[::-1].copy()
    queries = np.ones((3, 12), dtype=np.float32)
    _, idx = nearest_neighbours(torch.from_numpy(queries), torch.from_numpy(bank), 5, 2, bank_chunk)
    np.testing.assert_array_equal(idx.numpy(), np.tile(np.arange(12, 17), (3, 1)))


@pytest.mark.parametrize("query_chunk,bank_chunk", CHUNKS)
@pytest.mark.parametrize("center", [False, True])
def test_retrieval_breaks_ties_by_lower_bank_index_whatever_the_chunking(query_chunk, bank_chunk, center):
    queries, bank, labels = _bank_with_duplicates(seed=1)
    query_labels = np.random.default_rng(2).integers(0, 4, len(queries))
    got = recall_at_k(queries, query_labels, bank, labels, [1, 2, 5], center, query_chunk, bank_chunk)
    reference = recall_at_k(queries, query_labels, bank, labels, [1, 2, 5], center, 1000, 100000)
    assert got == reference
    if not center:
        nearest = brute_force_neighbours(queries, bank, 5)
        hits = labels[nearest] == query_labels[:, None]
        assert got == pytest.approx({k: 100.0 * hits[:, :k].any(1).mean() for k in (1, 2, 5)})


def _context(train, train_labels, test, test_labels, num_classes):
    """The part of an EvalContext the feature protocols read: two feature splits."""
    splits = {"train": (train, train_labels), "test": (test, test_labels)}
    return SimpleNamespace(spec=SimpleNamespace(name="features", train_split="train", test_split="test"),
                           num_classes=num_classes,
                           device=torch.device("cpu"), progress=False, require_single_label=lambda name: None,
                           feature_arrays=lambda split: splits[split],
                           features=lambda split: tuple(torch.as_tensor(a).clone() for a in splits[split]))


def test_knn_and_retrieval_name_a_metric_by_the_k_they_used_on_a_small_bank(caplog):
    rng = np.random.default_rng(0)
    bank, queries = rng.normal(size=(150, 8)).astype(np.float32), rng.normal(size=(20, 8)).astype(np.float32)
    ctx = _context(bank, rng.integers(0, 3, 150), queries, rng.integers(0, 3, 20), 3)
    with caplog.at_level(logging.WARNING, logger="sslbench"):
        knn = {m.name: m.value for m in KNN(KNNParams(k=[20, 200])).evaluate(ctx)}
    assert set(knn) == {"top1@k20", "top1@k150"}
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "k=200" in warnings[0] and "150" in warnings[0] and "\n" not in warnings[0]
    whole = knn_predict(queries, bank, ctx.feature_arrays("train")[1], 3, [150], 0.07)[150]
    assert knn["top1@k150"] == pytest.approx(100.0 * float((whole.numpy() == ctx.feature_arrays("test")[1]).mean()))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sslbench"):
        recall = [m.name for m in Retrieval(RetrievalParams(k=[1, 150, 500])).evaluate(ctx)]
    assert recall == ["R@1", "R@150"] and len(caplog.records) == 1


def test_plot_curve_reads_a_metric_named_by_the_k_it_used():
    from sslbench.reporting.plots import INDEXED_METRIC

    match = INDEXED_METRIC.match("top1@k150")
    assert match["name"] == "top1" and match["key"] == "k" and float(match["x"]) == 150.0


@pytest.mark.parametrize("num_classes,top5", [(4, False), (5, False), (6, True)])
def test_linear_reports_top5_only_with_more_than_five_classes(num_classes, top5):
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(num_classes, 8)) * 4
    y, yt = np.arange(60) % num_classes, np.arange(30) % num_classes
    x = (centers[y] + rng.normal(size=(60, 8))).astype(np.float32)
    xt = (centers[yt] + rng.normal(size=(30, 8))).astype(np.float32)
    ctx = _context(x, y, xt, yt, num_classes)
    names = [m.name for m in Linear(LinearParams(epochs=3, lr=0.5)).evaluate(ctx)]
    assert names == (["top1", "top5"] if top5 else ["top1"])


def test_finetune_on_a_four_class_subset_reports_top1_only(tmp_path):
    from sslbench.image.readers import TensorImageDataset
    from sslbench.protocols.finetune import Finetune, FinetuneParams

    from protocols_support import digits_context

    ctx, _ = digits_context(tmp_path / "features")
    for split in (ctx.spec.train_split, ctx.spec.test_split):
        full = ctx.dataset(split)
        keep = full.labels < 4
        ctx._datasets[split] = TensorImageDataset(full.images[keep][:96], full.labels[keep][:96], list("0123"))
    assert ctx.num_classes == 4
    metrics = Finetune(FinetuneParams(epochs=1, batch_size=32)).evaluate(ctx)
    assert [m.name for m in metrics] == ["top1"]


# --------------------------------------------------------------------------- low-shot AP


def brute_force_envelope_ap(scores, labels):
    """VOC2010+ AP from first principles: at every distinct score t, the images scoring >= t give a
    (recall, precision) point; AP = sum over the distinct recalls r of (r - previous r) x the best
    precision of any point whose recall is >= r."""
    positives = sum(1 for v in labels if v == 1)
    points = []
    for t in set(scores.tolist()):
        chosen = [v for s, v in zip(scores.tolist(), labels.tolist()) if s >= t]
        tp = sum(1 for v in chosen if v == 1)
        points.append((tp / positives, tp / len(chosen)))
    ap, previous = 0.0, 0.0
    for r in sorted({r for r, _ in points}):
        ap += (r - previous) * max(p for rr, p in points if rr >= r)
        previous = r
    return ap


@pytest.mark.parametrize("seed", range(8))
def test_envelope_ap_equals_brute_force_on_random_scores_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    labels = rng.integers(0, 2, n)
    labels[rng.integers(0, n)] = 1
    scores = rng.integers(0, 6, n).astype(float) if seed % 2 == 0 else rng.normal(size=n)
    assert interpolated_ap(scores, labels) == pytest.approx(brute_force_envelope_ap(scores, labels), abs=1e-12)


def test_ap_does_not_depend_on_the_order_of_tied_images():
    scores, labels = np.array([0.9, 0.5, 0.5, 0.5, 0.1]), np.array([1, 0, 1, 0, 1])
    aps = {kind: {average_precision(scores[order], labels[order], kind) for order in
                  (np.arange(5), np.array([0, 2, 1, 3, 4]), np.array([4, 3, 2, 1, 0]))}
           for kind in ("interpolated", "voc07", "sklearn")}
    assert all(len(values) == 1 for values in aps.values())
    # the tie is one threshold: precision 1/1, 2/4, 3/5 at recall 1/3, 2/3, 1; envelope 1, 3/5, 3/5
    # (ranking the tied positive first would give precision 2/2 at recall 2/3 instead)
    assert aps["interpolated"].pop() == pytest.approx((1 + 0.6 + 0.6) / 3)


def test_lowshot_default_is_the_benchmark_envelope_ap_and_the_config_records_it():
    from sslbench.runner import resolve_config

    assert LowShotParams().ap == "interpolated"
    config = resolve_config("random", "digits", ["lowshot"], sets={})
    assert config.to_dict()["lowshot"]["ap"] == "interpolated"
    assert resolve_config("random", "digits", ["lowshot"], sets={"lowshot": {"ap": "sklearn"}}).config_hash() \
        != config.config_hash()


# --------------------------------------------------------------------------- SVM convergence


def _hard_binary_problem(n=320, dim=16, seed=0):
    """Non-negative, l2-normalised, far from separable: the dual solver stops at max_iter at C=100."""
    rng = np.random.default_rng(seed)
    directions = np.abs(rng.normal(size=(20, dim)))
    y = rng.integers(0, 20, n)
    x = np.maximum(0.3 * directions[y] + rng.normal(size=(n, dim)), 0)
    return l2_normalize(x), (y == 0).astype(np.int64)


def test_primal_svm_is_the_dual_svm_of_the_benchmark_where_the_dual_converges():
    from sklearn.svm import LinearSVC

    from sslbench.protocols.lowshot import FitLog

    x, y = _hard_binary_problem(n=200, dim=12, seed=3)
    dual = LinearSVC(C=1.0, class_weight={1: 2.0, 0: 1.0}, dual=True, max_iter=100000, tol=1e-8).fit(x, y)
    primal = FitLog().fit(1.0, LowShotParams(), True, x, y)
    np.testing.assert_allclose(primal.decision_function(x), dual.decision_function(x), atol=1e-3)


def test_lowshot_svms_converge_at_every_cost_where_the_dual_stops_at_max_iter(caplog):
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    x, y = _hard_binary_problem()
    labels = np.stack([y, 1 - y], 1)
    xt, yt = x[:80], labels[:80]
    p = LowShotParams(k=[], all=True, costs=[0.01, 1.0, 100.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        results = run_lowshot(x, labels, xt, yt, p)
    assert set(results) == {"map@all"}
    with caplog.at_level(logging.WARNING, logger="sslbench"), pytest.warns(ConvergenceWarning):
        dual = run_lowshot(x, labels, xt, yt, LowShotParams(k=[], all=True, costs=[0.01, 1.0, 100.0], dual=True))
    assert dual["svm_unconverged"] > 0
    (line,) = [r.getMessage() for r in caplog.records]
    assert "max_iter=2000" in line and "C=100" in line and "C=0.01" not in line and "\n" not in line


def test_an_unconverged_svm_is_reported_never_silenced(caplog):
    from sklearn.exceptions import ConvergenceWarning

    x, y = _hard_binary_problem(n=120)
    labels = np.stack([y, 1 - y], 1)
    ctx = _context(x, labels, x[:40], labels[:40], 2)
    with caplog.at_level(logging.WARNING, logger="sslbench"), pytest.warns(ConvergenceWarning):
        metrics = LowShot(LowShotParams(k=[], costs=[100.0], max_iter=1, dual=True)).evaluate(ctx)
    unconverged = [m for m in metrics if m.name == "svm_unconverged"]
    assert len(unconverged) == 1 and unconverged[0].value >= 1 and not unconverged[0].higher_is_better
    assert len(caplog.records) == 1 and "lowshot.max_iter" in caplog.records[0].getMessage()
