"""`sslbench compare`: the grid, its sweeps, skipping finished cells, and a real run on digits."""

import sqlite3
import time

import pytest
from click.testing import CliRunner

from sslbench.cli import cli
from sslbench.contract.errors import SSLBenchError
from sslbench.reporting.grid import Cell, cell_sets, expand, parse_sweeps, plan

# tiny and fast: one optimiser step on small batches, a narrow network, a 1-epoch probe
FAST = ("--set", "train.max_steps=1", "--set", "model.backbone_options={width: 8}", "--set", "train.batch_size=32",
        "--set", "linear.epochs=1", "--set", "knn.k=[5]", "--set", "data.input_size=8", "--no-progress")
METHODS = {"moco", "random", "supervised", "sce"}


def test_sweeps_parse_yaml_values_and_lists():
    assert parse_sweeps(["moco.temperature=0.1,0.2", "knn.k=[10,20],[200]"]) == [
        ("moco.temperature", [0.1, 0.2]), ("knn.k", [[10, 20], [200]])]
    for bad, message in [("moco.temperature", "key=v1,v2"), ("seed=0,1", "--seeds"), ("epochs=1,2", "section.field")]:
        with pytest.raises(SSLBenchError, match=message):
            parse_sweeps([bad])


def test_grid_is_cartesian_and_a_method_section_only_multiplies_that_method():
    sweeps = parse_sweeps(["moco.temperature=0.1,0.2", "train.epochs=1,2"])
    cells = expand(["moco", "random"], ["digits"], [0, 1], sweeps, METHODS)
    assert len(cells) == 2 * 2 * 2 + 2 * 2
    assert cells[0] == Cell("moco", "digits", 0, (("moco.temperature", 0.1), ("train.epochs", 1)))
    assert {c.sweep for c in cells if c.method == "random"} == {(("train.epochs", 1),), (("train.epochs", 2),)}
    assert cells[0].describe() == "moco digits seed 0 moco.temperature=0.1 train.epochs=1"


def test_cell_sets_drop_other_methods_sections_and_add_the_sweep():
    shared = {"moco": {"queue_size": 16}, "train": {"max_steps": 3}}
    assert cell_sets(Cell("random", "digits", 0, (("train.epochs", 2),)), shared, METHODS) == {
        "train": {"max_steps": 3, "epochs": 2}}
    assert cell_sets(Cell("moco", "digits", 0, (("moco.temperature", 0.3),)), shared, METHODS) == {
        "moco": {"queue_size": 16, "temperature": 0.3}, "train": {"max_steps": 3}}


def test_plan_finds_only_the_missing_protocols():
    cells = [Cell("random", "digits", 0)]
    first = plan(cells, ["knn", "linear"], {}, set())
    assert first[0].missing == ["knn", "linear"]
    done = {first[0].keys["knn"]}
    assert plan(cells, ["knn", "linear"], {}, done)[0].missing == ["linear"]
    # a knn evaluation stored by a knn-only run counts for a knn+linear grid too
    assert plan(cells, ["knn"], {}, set())[0].keys["knn"] == first[0].keys["knn"]
    with pytest.raises(SSLBenchError, match="temprature"):
        plan([Cell("moco", "digits", 0)], ["knn"], {"moco": {"temprature": 0.1}}, set())


def test_dry_run_lists_the_sweep_grid(tmp_path):
    result = CliRunner().invoke(cli, ["compare", "-m", "moco,random", "-p", "knn", "-d", "digits", "--seeds", "0",
                                      "--sweep", "moco.temperature=0.1,0.2", "-o", str(tmp_path), "--dry-run", *FAST])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["[1/3] moco digits seed 0 moco.temperature=0.1: knn",
                                          "[2/3] moco digits seed 0 moco.temperature=0.2: knn",
                                          "[3/3] random digits seed 0: knn"]


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """A real compare on digits: 3 methods x 2 protocols x 2 seeds."""
    out = tmp_path_factory.mktemp("compare")
    args = ["compare", "-m", "moco,random,supervised", "-p", "knn,linear", "-d", "digits", "--seeds", "0,1",
            "-o", str(out), *FAST]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return out, args, result


def test_compare_runs_the_grid_with_progress_and_prints_the_table(grid):
    out, _, result = grid
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "[1/6] moco digits seed 0: knn, linear ..."
    assert "[6/6] supervised digits seed 1: knn, linear ..." in lines
    assert "6 cell(s) run, 0 already in the store" in result.output
    for method in ("moco", "random", "supervised"):
        row = next(line for line in lines if line.startswith(f"| {method}"))
        assert row.count("(2)") == 3  # knn top1@k5, linear top1, linear top5: mean ± std over 2 seeds
    rows = sqlite3.connect(out / "results.sqlite").execute("SELECT method, protocol, seed FROM results").fetchall()
    assert len(set(rows)) == 12 and len(rows) == 18


def test_rerunning_compare_trains_nothing_and_is_quick(grid):
    out, args, first = grid
    logs = {p: p.read_text() for p in (out / "pretrain").glob("*/log.jsonl")}
    t0 = time.perf_counter()
    again = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert time.perf_counter() - t0 < 20
    assert again.exit_code == 0 and "0 cell(s) run, 6 already in the store" in again.output
    assert "[3/6] random digits seed 0: in the store, skipped" in again.output
    assert logs == {p: p.read_text() for p in (out / "pretrain").glob("*/log.jsonl")}
    table = lambda text: text[text.index("| method"):]  # noqa: E731
    assert table(again.output) == table(first.output)
    count = sqlite3.connect(out / "results.sqlite").execute("SELECT COUNT(*) FROM results").fetchone()[0]
    assert count == 18


@pytest.mark.parametrize("fmt", ["markdown", "latex", "csv", "html"])
def test_the_compare_store_renders_in_every_format(grid, fmt):
    out, _, _ = grid
    result = CliRunner().invoke(cli, ["table", "-o", str(out), "-f", fmt, "--baseline", "random"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert all(m in text for m in ("moco", "random", "supervised")) and "top1@k5" in text
    if fmt == "latex":
        assert text.index(r"\toprule") < text.index(r"\midrule") < text.index(r"\bottomrule")
        assert r"\textbf{" in text and r"\underline{" in text and r"$\pm$" in text
        assert r"\caption{Protocol: knn (k [5]); linear (epochs 1" in text and "Checkpoint: last epoch" in text
    if fmt == "csv":
        assert text.splitlines()[0].startswith("method,knn top1@k5,Δ knn top1@k5,linear top1")
    if fmt == "html":
        assert "<strong>" in text and "<u>" in text and "<caption>" in text


def test_an_interrupted_compare_continues_where_it_stopped(tmp_path, monkeypatch):
    import sslbench.runner

    real, calls = sslbench.runner.run, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    args = ["compare", "-m", "random", "-p", "knn", "-d", "digits", "--seeds", "0,1", "-o", str(tmp_path), *FAST]
    monkeypatch.setattr(sslbench.runner, "run", interrupted)
    stopped = CliRunner().invoke(cli, args)
    assert stopped.exit_code == 130 and "run the same command again to continue" in stopped.output
    monkeypatch.setattr(sslbench.runner, "run", real)
    resumed = CliRunner().invoke(cli, args)
    assert resumed.exit_code == 0, resumed.output
    assert "[1/2] random digits seed 0: in the store, skipped" in resumed.output
    assert "[2/2] random digits seed 1: knn ..." in resumed.output
    assert "1 cell(s) run, 1 already in the store" in resumed.output
