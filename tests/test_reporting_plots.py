"""`sslbench plot`: a metric against a swept value, and pretraining loss curves."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from sslbench.cli import cli
from sslbench.contract.errors import SSLBenchError
from sslbench.reporting.plots import loss_curves, metric_curve, metric_vs_value, pretrain_dirs, save

from reporting_records import add, add_many, config, frame


def _assert_real_image(path, min_size=(300, 200)):
    image = Image.open(path)
    assert image.size[0] >= min_size[0] and image.size[1] >= min_size[1]
    pixels = np.asarray(image.convert("RGB"), dtype=float)
    assert pixels.std() > 10  # not blank
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20  # lines, text and colours, not one fill


@pytest.fixture
def sweep_store(tmp_path):
    store = tmp_path / "runs" / "results.sqlite"
    for lam, value in [(0.0, 60.0), (0.25, 64.0), (0.5, 66.0), (1.0, 62.0)]:
        for seed in (0, 1):
            add(store, "sce", value + seed, seed=seed, method_params={"lam": lam})
    add(store, "random", 20.0)
    return store


def test_metric_against_swept_value_writes_a_png(tmp_path, sweep_store):
    fig = metric_vs_value(frame(sweep_store), "sce.lam")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "sce.lam" and "knn top1" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["random (no sce.lam)", "sce"]
    path = save(fig, tmp_path / "lambda.png")
    _assert_real_image(path)


def test_plot_cli_writes_png_and_svg(tmp_path, sweep_store):
    runner = CliRunner()
    png = tmp_path / "out" / "lambda.png"
    result = runner.invoke(cli, ["plot", "metric", "--x", "sce.lam", "-o", str(sweep_store.parent),
                                 "--save", str(png), "--where", "method=sce"])
    assert result.exit_code == 0, result.output
    _assert_real_image(png)
    svg = tmp_path / "lambda.svg"
    result = runner.invoke(cli, ["plot", "metric", "--x", "sce.lam", "-o", str(sweep_store.parent), "--save", str(svg)])
    assert result.exit_code == 0 and svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()


def test_metric_plot_needs_a_single_metric_and_a_known_key(sweep_store):
    add(sweep_store, "sce", 1.0, metric="loss", higher_is_better=False, method_params={"lam": 0.5})
    with pytest.raises(SSLBenchError, match="several metrics"):
        metric_vs_value(frame(sweep_store), "sce.lam")
    with pytest.raises(SSLBenchError, match="no result has a value for 'sce.lamb'"):
        metric_vs_value(frame(sweep_store), "sce.lamb", metric="top1")


def _fake_pretraining(root, name, method, temperature, losses):
    folder = root / "pretrain" / name
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(f"method: {method}\ndataset: digits\nseed: 0\n{method}:\n  temperature: {temperature}\n")
    with open(folder / "log.jsonl", "w") as fh:
        for epoch, loss in enumerate(losses, 1):
            fh.write(json.dumps({"epoch": epoch, "step": 11 * epoch, "loss": loss, "lr": 0.1}) + "\n")
    return folder


def test_loss_curves_from_pretraining_logs(tmp_path):
    root = tmp_path / "runs"
    _fake_pretraining(root, "moco-digits-a", "moco", 0.1, [4.2, 3.1, 2.5, 2.2])
    _fake_pretraining(root, "moco-digits-b", "moco", 0.2, [4.0, 3.5, 3.0, 2.8])
    (root / "pretrain" / "random-digits-c").mkdir()  # no log: not a training run
    dirs = pretrain_dirs(root)
    assert [d.name for d in dirs] == ["moco-digits-a", "moco-digits-b"]
    fig = loss_curves(dirs)
    legend = fig.axes[0].get_legend() or fig.legends[0]  # long labels go under the axes
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == ["moco digits (moco.temperature=0.1)", "moco digits (moco.temperature=0.2)"]
    assert list(fig.axes[0].lines[0].get_xdata()) == [11, 22, 33, 44]
    result = CliRunner().invoke(cli, ["plot", "loss", "-o", str(root), "--save", str(tmp_path / "loss.png"),
                                      "--runs", "moco-*"])
    assert result.exit_code == 0 and "2 run(s)" in result.output
    _assert_real_image(tmp_path / "loss.png")


def test_metric_curve_over_a_number_in_the_metric_name(tmp_path):
    store = tmp_path / "runs" / "results.sqlite"
    for method, base in [("sce", 70.0), ("moco", 60.0)]:
        for seed in (0, 1):
            for tolerance in (1, 2, 5):  # the shape a t-AmAP protocol would store: mAP@<delta>s
                add(store, method, base + tolerance + seed, metric=f"mAP@{tolerance}s", protocol="spotting", seed=seed)
    fig = metric_curve(frame(store))
    ax = fig.axes[0]
    assert ax.get_xlabel() == "N (s)" and ax.get_ylabel() == "spotting mAP"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["moco", "sce"]
    result = CliRunner().invoke(cli, ["plot", "curve", "-o", str(store.parent), "--save", str(tmp_path / "c.png")])
    assert result.exit_code == 0, result.output
    _assert_real_image(tmp_path / "c.png")


def _drawn(fig):
    """(legend label, x, y) of every error-bar line in the figure's axes."""
    return [(c.get_label(), list(c.lines[0].get_xdata()), list(c.lines[0].get_ydata())) for c in fig.axes[0].containers]


def _knn_on_two_datasets(store, seeds=(0, 1)):
    for dataset, base in [("digits", 90.0), ("cifar10", 60.0)]:
        for method, offset in [("moco", 0.0), ("sce", 2.0)]:
            for seed in seeds:
                add_many(store, config(method, dataset, "knn", seed),
                         {"top1@k20": (base + offset + seed, True), "top1@k200": (base + offset - 5 + seed, True)})


def test_curve_over_two_datasets_draws_one_line_per_method_and_dataset(tmp_path):
    store = tmp_path / "r.sqlite"
    _knn_on_two_datasets(store)
    fig = metric_curve(frame(store))
    assert _drawn(fig) == [("moco (cifar10)", [20.0, 200.0], [60.5, 55.5]),
                           ("moco (digits)", [20.0, 200.0], [90.5, 85.5]),
                           ("sce (cifar10)", [20.0, 200.0], [62.5, 57.5]),
                           ("sce (digits)", [20.0, 200.0], [92.5, 87.5])]
    title = fig.axes[0].get_title()
    assert "one line per method, dataset" in title and "mean ± std over 2 seeds" in title
    assert fig.sslbench_data.split == ["dataset"] and all(line.n == [2, 2] for line in fig.sslbench_data.lines)


def test_curve_of_one_seed_does_not_claim_a_mean_over_seeds(tmp_path):
    store = tmp_path / "r.sqlite"
    _knn_on_two_datasets(store, seeds=(0,))
    title = metric_curve(frame(store), by="dataset").axes[0].get_title()
    assert "one line per dataset, method" in title and "one seed per point" in title and "±" not in title


def test_curve_splits_lines_on_config_values_that_differ_within_a_method(tmp_path):
    store = tmp_path / "r.sqlite"
    for t, value in [(0.1, 70.0), (0.2, 80.0)]:
        add_many(store, config("moco", method_params={"temperature": t}, protocol_params={"k": [20, 200]}),
                 {"top1@k20": (value, True), "top1@k200": (value - 1, True)})
    add_many(store, config("random", protocol_params={"k": [20, 200]}),
             {"top1@k20": (20.0, True), "top1@k200": (19.0, True)})
    assert [label for label, _, _ in _drawn(metric_curve(frame(store)))] == [
        "moco (moco.temperature=0.1)", "moco (moco.temperature=0.2)", "random"]


def test_metric_against_value_keeps_datasets_apart_with_their_own_references(tmp_path):
    store = tmp_path / "r.sqlite"
    for dataset, base in [("digits", 80.0), ("cifar10", 50.0)]:
        for lam in (0.0, 0.5):
            add(store, "sce", base + 10 * lam, dataset=dataset, method_params={"lam": lam})
        add(store, "random", base - 40, dataset=dataset)
    fig = metric_vs_value(frame(store), "sce.lam")
    assert _drawn(fig) == [("sce (cifar10)", [0.0, 0.5], [50.0, 55.0]), ("sce (digits)", [0.0, 0.5], [80.0, 85.0])]
    references = {line.get_label(): line.get_ydata()[0] for line in fig.axes[0].lines if line.get_linestyle() == "--"}
    assert references == {"random (cifar10; no sce.lam)": 10.0, "random (digits; no sce.lam)": 40.0}
    assert "one line per method, dataset; one seed per point" in fig.axes[0].get_title()


def test_an_untrained_row_is_one_line_whatever_its_unused_training_settings(tmp_path):
    store = tmp_path / "r.sqlite"
    for epochs, seed in [(100, 0), (200, 1)]:  # random evaluated beside two moco runs, seeds 0 and 1
        add_many(store, config("random", seed=seed, trains=False, train={"epochs": epochs}),
                 {"top1@k20": (20.0 + seed, True), "top1@k200": (18.0 + seed, True)})
    assert _drawn(metric_curve(frame(store))) == [("random", [20.0, 200.0], [20.5, 18.5])]
