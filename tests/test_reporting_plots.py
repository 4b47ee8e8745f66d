"""`sslbench plot`: a metric against a swept value, and pretraining loss curves."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from sslbench.cli import cli
from sslbench.errors import SSLBenchError
from sslbench.reporting.plots import loss_curves, metric_vs_value, pretrain_dirs, save

from reporting_records import add, frame


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
            add(store, "sce", value + seed, seed=seed, method_params={"lambda": lam})
    add(store, "random", 20.0)
    return store


def test_metric_against_swept_value_writes_a_png(tmp_path, sweep_store):
    fig = metric_vs_value(frame(sweep_store), "sce.lambda")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "sce.lambda" and "knn top1" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["random (no sce.lambda)", "sce"]
    path = save(fig, tmp_path / "lambda.png")
    _assert_real_image(path)


def test_plot_cli_writes_png_and_svg(tmp_path, sweep_store):
    runner = CliRunner()
    png = tmp_path / "out" / "lambda.png"
    result = runner.invoke(cli, ["plot", "metric", "--x", "sce.lambda", "-o", str(sweep_store.parent),
                                 "--save", str(png), "--where", "method=sce"])
    assert result.exit_code == 0, result.output
    _assert_real_image(png)
    svg = tmp_path / "lambda.svg"
    result = runner.invoke(cli, ["plot", "metric", "--x", "sce.lambda", "-o", str(sweep_store.parent), "--save", str(svg)])
    assert result.exit_code == 0 and svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()


def test_metric_plot_needs_a_single_metric_and_a_known_key(sweep_store):
    add(sweep_store, "sce", 1.0, metric="loss", higher_is_better=False, method_params={"lambda": 0.5})
    with pytest.raises(SSLBenchError, match="several metrics"):
        metric_vs_value(frame(sweep_store), "sce.lambda")
    with pytest.raises(SSLBenchError, match="no result has a value for 'sce.lamda'"):
        metric_vs_value(frame(sweep_store), "sce.lamda", metric="top1")


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
    from sslbench.reporting.plots import metric_curve

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
