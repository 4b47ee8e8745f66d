"""Low-shot VOC07 SVMs (thesis 4.4.4, Table 4.9): mAP per class (the envelope AP by default,
scikit-learn's on request), the SVM cost chosen on the training samples only, the VOCdevkit reader."""

import numpy as np
import pytest
from click.testing import CliRunner

from sslbench.cli import cli
from sslbench.contract.errors import DatasetError
from sslbench.protocols.lowshot import (LowShotParams, interpolated_ap, l2_normalize, lowshot_multilabel,
                                        lowshot_singlelabel, mean_ap, run_lowshot, sample_multilabel, voc07_ap)
from sslbench.image.voc import VOC_CLASSES, VOCClassification

from protocols_support import single_thread  # noqa: F401 (autouse fixture)
from voc_fixture import make_voc2007


def test_voc07_eleven_point_ap_by_hand():
    # ranks: hit, miss, hit, miss -> precision 1, 1/2, 2/3, 1/2 at recall 1/2, 1/2, 1, 1
    ap = voc07_ap(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 0, 1, 0]))
    assert ap == pytest.approx((6 * 1.0 + 5 * 2 / 3) / 11)
    assert voc07_ap(np.array([3.0, 2.0, 1.0]), np.array([1, 1, 0])) == pytest.approx(1.0)
    # the envelope: precision 1 up to recall 1/2, then 2/3 up to recall 1
    assert interpolated_ap(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 0, 1, 0])) == pytest.approx(0.5 + 0.5 * 2 / 3)


def test_mean_ap_equals_scikit_learn_average_precision_per_class_ignoring_difficult():
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(0)
    labels = rng.choice([1, 0, 0, -1], size=(50, 4))
    scores = rng.normal(size=(50, 4)) + labels
    expected = [average_precision_score(labels[labels[:, c] >= 0, c], scores[labels[:, c] >= 0, c]) for c in range(4)]
    assert mean_ap(scores, labels, "sklearn") == pytest.approx(100 * np.mean(expected))
    assert mean_ap(scores, labels, "voc07") == pytest.approx(
        100 * np.mean([voc07_ap(scores[labels[:, c] >= 0, c], labels[labels[:, c] >= 0, c]) for c in range(4)]))


def _multilabel_problem(seed=0, n=200, nt=80, classes=5, dim=12):
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(classes, dim))

    def draw(m):
        y = (rng.random((m, classes)) < 0.3).astype(np.int64)
        y[np.arange(m), rng.integers(0, classes, m)] = 1
        y[rng.random((m, classes)) < 0.05] = -1  # difficult-only: ignored
        x = (np.clip(y, 0, 1) @ directions) + rng.normal(size=(m, dim))
        return x, y

    (x, y), (xt, yt) = draw(n), draw(nt)
    return l2_normalize(x), y, l2_normalize(xt), yt


@pytest.mark.parametrize("k", [4, None])
def test_lowshot_map_equals_scikit_learn_svms_and_average_precision(k):
    from sklearn.metrics import average_precision_score
    from sklearn.svm import LinearSVC

    x, y, xt, yt = _multilabel_problem()
    p = LowShotParams(costs=[0.1, 1.0, 10.0], ap="sklearn")
    got, costs, _ = lowshot_multilabel(x, y, xt, yt, k, p, np.random.default_rng(42))
    rng = np.random.default_rng(42)
    aps = []
    for c in range(y.shape[1]):
        idx = sample_multilabel(y, c, k, rng)
        assert set(np.unique(y[idx, c])) == {0, 1}  # difficult-only images never train
        if k is not None:
            assert (y[idx, c] == 1).sum() == k and (y[idx, c] == 0).sum() == (y.shape[1] - 1) * k
        svm = LinearSVC(C=costs[c], class_weight={1: 2.0, 0: 1.0}, max_iter=2000, random_state=0).fit(x[idx], y[idx, c])
        keep = yt[:, c] >= 0
        aps.append(average_precision_score(yt[keep, c], svm.decision_function(xt[keep])))
    assert got == pytest.approx(100 * np.mean(aps))
    assert got > 60.0


def test_svm_cost_is_chosen_on_the_training_samples_never_the_test_split():
    x, y, xt, yt = _multilabel_problem(seed=1)
    p = LowShotParams(costs=[0.01, 0.1, 1.0, 10.0])
    _, costs, _ = lowshot_multilabel(x, y, xt, yt, 8, p, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    flipped = np.where(yt >= 0, 1 - yt, yt)  # the opposite test labels: a test-tuned cost would move
    _, costs_flipped, _ = lowshot_multilabel(x, y, rng.normal(size=xt.shape), flipped, 8, p, np.random.default_rng(0))
    assert costs == costs_flipped


def test_single_label_lowshot_reports_top1_with_k_images_per_class():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(4, 8)) * 3
    y, yt = rng.integers(0, 4, 120), rng.integers(0, 4, 60)
    x, xt = centers[y] + rng.normal(size=(120, 8)), centers[yt] + rng.normal(size=(60, 8))
    p = LowShotParams(k=[3], samples=2, costs=[0.1, 1.0])
    results = run_lowshot(x, y, xt, yt, p)
    assert set(results) == {"top1@k3", "top1@all"} and results["top1@all"] > 80.0
    top1, _ = lowshot_singlelabel(l2_normalize(x), y, l2_normalize(xt), yt, 3, p, np.random.default_rng(0))
    assert 0.0 <= top1 <= 100.0


def test_voc_reader_builds_label_vectors_from_the_xml_with_difficult_ignored(tmp_path):
    expected = make_voc2007(tmp_path, n_trainval=30, n_test=10)
    for split in ("trainval", "test"):
        for root in (tmp_path, tmp_path / "VOCdevkit", tmp_path / "VOCdevkit" / "VOC2007"):
            ds = VOCClassification(str(root), split, 20)
            assert ds.multilabel and ds.classes == list(VOC_CLASSES)
            np.testing.assert_array_equal(ds.labels.numpy(), expected[split][1])
        image, label = ds[0]
        assert image.shape == (3, 20, 20) and label.shape == (20,)
    assert (expected["trainval"][1] == -1).any()  # the fixture does exercise difficult-only classes
    assert len(VOCClassification(str(tmp_path), "train", 20)) == 15
    with pytest.raises(DatasetError, match="ImageSets/Main"):
        VOCClassification(str(tmp_path / "VOCdevkit" / "VOC2007" / "JPEGImages"), "test", 20)
    with pytest.raises(DatasetError, match="unknown split"):
        VOCClassification(str(tmp_path), "minival", 20)


def test_run_lowshot_on_a_vocdevkit_tree_and_knn_refuses_it(tmp_path):
    make_voc2007(tmp_path / "data")
    args = ["run", "-m", "random", "-d", "voc2007", "--data-root", str(tmp_path / "data"), "-o", str(tmp_path / "o"),
            "--no-progress", "--set", "data.input_size=16", "--set", "model.backbone=convnet-small",
            "--set", "model.backbone_options={width: 8}"]
    result = CliRunner().invoke(cli, [*args, "-p", "lowshot", "--set", "lowshot.k=[2]", "--set", "lowshot.samples=2",
                                      "--set", "lowshot.costs=[0.1, 1.0]"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "lowshot map@k2" in result.output and "map@all" in result.output
    refused = CliRunner().invoke(cli, [*args, "-p", "knn"])
    assert refused.exit_code == 2 and "multi-label" in refused.output
