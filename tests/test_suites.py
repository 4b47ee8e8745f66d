"""Suites: every thesis suite plans, its numbers are the thesis's, the table sets ours against them."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from helpers import repo_root
from sslbench.contract.loading import registries
from sslbench.suites.library import suite_files
from sslbench.suites.plan import Roots, jobs, plan_suite
from sslbench.suites.spec import SuiteError, load_suite
from sslbench.suites.table import check_layout, compare, render_comparison

SUITES = {name: path for name, path in suite_files().items() if path.parent == repo_root() / "benchmarks"}
THESIS = repo_root().parent / "shared" / "seed" / "thesis-denize-2023.txt"


def test_the_repository_ships_the_cpu_suite_and_the_thesis_tables():
    expected = {"cpu-digits", "table-4.2", "table-4.6", "table-4.10", "table-A.3", "table-5.1", "table-5.8",
                "table-6.1", "table-6.8"}
    assert expected <= set(SUITES)


@pytest.mark.parametrize("name", sorted(SUITES))
def test_every_cell_of_every_suite_resolves_and_missing_data_is_reported_not_fatal(name, tmp_path):
    suite = load_suite(SUITES[name])
    unregistered = [m for m in suite.methods() if m not in registries().methods.list()]
    if unregistered:
        pytest.skip(f"method(s) {unregistered} not installed here")
    planned = plan_suite(suite, Roots(tmp_path / "nowhere"))
    check_layout(suite, planned)
    assert planned and len({p.cell_id for p in planned}) == len(planned)
    needs_data = {p.cell.dataset for p in planned if registries().datasets.get(p.cell.dataset).needs_root}
    assert needs_data <= {d for p in planned for d in p.missing_data}
    assert sum(len(group) for group in jobs(planned)) == len(planned)  # every unfinished cell in one job


def _table_text(table: str) -> str:
    """The lines of thesis ``table`` (e.g. ``4.6``): the block of lines right above its caption."""
    lines = THESIS.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(f"Table {table}:"))
    i = at - 1
    while not lines[i].strip():
        i -= 1
    block = []
    while i >= 0 and lines[i].strip():
        block.append(lines[i])
        i -= 1
    return "\n".join(reversed(block))


def _numbers(text: str) -> set[float]:
    return {float(n) for n in re.findall(r"\d+(?:\.\d+)?", re.sub(r"</?u>", " ", text))}


@pytest.mark.skipif(not THESIS.is_file(), reason="the thesis text (../shared/seed) is not beside the repository")
@pytest.mark.parametrize("name", sorted(n for n in SUITES if n.startswith("table-")))
def test_every_transcribed_number_appears_in_its_thesis_table(name):
    suite = load_suite(SUITES[name])
    table = suite.source.removeprefix("Table ")
    assert suite.source == f"Table {table}" and name == f"table-{table}"
    printed = _numbers(_table_text(table))
    values = [(row.row, col, v) for row in suite.paper for col, v in row.values.items()]
    assert values, f"{name} transcribes no number"
    wrong = [(row, col, v) for row, col, v in values if v not in printed]
    assert not wrong, f"{name}: not in the thesis's Table {table}: {wrong}"


def test_transcription_check_catches_a_mistyped_number():
    if not THESIS.is_file():
        pytest.skip("the thesis text (../shared/seed) is not beside the repository")
    printed = _numbers(_table_text("4.6"))
    assert 90.3 in printed and 65.5 in printed and 90.4 not in printed


SMALL = """
    source: Table 0.0
    caption: Two methods on digits.
    notes: [A note.]
    protocols: [knn]
    set: {knn.k: [5], model.backbone_options: {width: 8}}
    grid:
      methods: [moco, random, sce]
      datasets: [digits]
    table:
      rows: [method]
      columns: [metric]
      metrics: [top1@k5]
      names: {moco: MoCo, top1@k5: kNN}
    paper:
      - {ref: "Other [X]", values: {top1@k5: 90.0}}
      - {row: moco, values: {top1@k5: 80.0}}
      - {row: random, values: {top1@k5: 50.0}}
"""


def _suite(tmp_path: Path, text: str = SMALL):
    path = tmp_path / "small.yaml"
    path.write_text(textwrap.dedent(text))
    return load_suite(path)


def _stored(planned, values: dict[tuple[str, int], float]) -> pd.DataFrame:
    rows = [{"eval_key": p.keys["knn"], "metric": "top1@k5", "value": values[(p.cell.method, p.cell.seed)],
             "higher_is_better": 1} for p in planned if (p.cell.method, p.cell.seed) in values]
    return pd.DataFrame(rows, columns=["eval_key", "metric", "value", "higher_is_better"])


def test_suite_table_sets_ours_next_to_the_paper_with_differences_marks_and_missing_cells(tmp_path):
    suite = _suite(tmp_path)
    planned = plan_suite(suite)
    comp = compare(suite, planned, _stored(planned, {("moco", 0): 82.25, ("random", 0): 48.0}))
    markdown = render_comparison(comp, "markdown")
    lines = {line.split("|")[1].strip(): line for line in markdown.splitlines() if line.startswith("| ")}
    assert list(lines)[1:] == ["Other [X]", "MoCo", "random", "sce"]  # the paper's order, then ours
    assert "**82.2**" in lines["MoCo"] and "+2.2" in lines["MoCo"]  # ours best, Δ = 82.25 - 80.0
    assert "<u>48.0</u>" in lines["random"] and "-2.0" in lines["random"]
    assert "**90.0**" in lines["Other [X]"] and "<u>80.0</u>" in lines["MoCo"]  # the paper's marks over all rows
    assert "missing" in lines["sce"] and " - " in lines["sce"]  # not run yet; not in the paper
    assert "Table 0.0: Two methods on digits." in markdown and "- A note." in markdown
    latex = render_comparison(comp, "latex")
    assert r"\textbf{82.2}" in latex and r"\underline{48.0}" in latex and r"\caption{Table 0.0" in latex
    assert r"\toprule" in latex and "% A note." in latex and r"$\Delta$ kNN" in latex


def test_seeds_aggregate_to_mean_std_n_and_lower_is_better_marks_the_smallest(tmp_path):
    suite = _suite(tmp_path, SMALL.replace("protocols: [knn]", "protocols: [knn]\n    seeds: [0, 1]"))
    planned = plan_suite(suite)
    stored = _stored(planned, {("moco", 0): 70.0, ("moco", 1): 72.0, ("random", 0): 60.0, ("random", 1): 60.0})
    text = render_comparison(compare(suite, planned, stored), "markdown")
    assert "71.0 ± 1.4 (2)" in text and "60.0 ± 0.0 (2)" in text
    stored["higher_is_better"] = 0
    comp = compare(suite, planned, stored)
    assert "**60.0 ± 0.0 (2)**" in render_comparison(comp, "markdown")


@pytest.mark.parametrize("old, new, message", [
    ("    grid:", "    gird:", "unknown key 'gird'; did you mean 'grid'?"),
    ("{row: random,", "{row: ressl,", "row ['ressl'] is not a row of the grid"),
    ("rows: [method]", "rows: [method, sce.tau]", "unknown dimension 'sce.tau'"),
    ("{top1@k5: 80.0}", "{top1@k6: 80.0}", "column 'top1@k6' of row ['moco'] is not a column"),
])
def test_a_suite_mistake_is_one_line_naming_the_file_and_the_key(tmp_path, old, new, message):
    assert SMALL.count(old) == 1
    with pytest.raises(SuiteError) as info:
        suite = _suite(tmp_path, SMALL.replace(old, new))
        planned = plan_suite(suite)
        compare(suite, planned, _stored(planned, {}))
    assert "small.yaml" in str(info.value) and message in str(info.value) and "\n" not in str(info.value)


def test_cells_that_would_print_in_one_table_cell_are_refused(tmp_path):
    suite = _suite(tmp_path, SMALL.replace("      datasets: [digits]",
                                           "      datasets: [digits]\n      sweeps: {knn.temperature: [0.07, 0.1]}"))
    with pytest.raises(SuiteError, match="same table cell"):
        check_layout(suite, plan_suite(suite))


def test_cells_sharing_a_pretraining_form_one_job_and_a_method_section_applies_to_its_method_only(tmp_path):
    no_paper = SMALL.split("    paper:")[0]
    suite = _suite(tmp_path, no_paper.replace("protocols: [knn]", "protocols: [knn]\n    seeds: [0]").replace(
        "      datasets: [digits]", "      datasets: [digits]\n      sweeps: {knn.temperature: [0.07, 0.1], "
                                   "sce.tau_m: [0.05, 0.07]}").replace("rows: [method]",
                                                                        "rows: [method, knn.temperature, sce.tau_m]"))
    planned = plan_suite(suite)
    assert len(planned) == 2 + 2 + 4  # moco, random: 2 knn temperatures; sce: x 2 tau_m
    groups = jobs(planned)
    assert len(groups) == 1 + 1 + 2 and all(len(g) == 2 for g in groups)  # the two kNN temperatures share weights
    assert {p.config.method_params.tau_m for p in planned if p.cell.method == "sce"} == {0.05, 0.07}


def test_run_refuses_missing_data_and_a_world_size_its_launcher_does_not_start_before_any_work(tmp_path):
    from click.testing import CliRunner

    from sslbench.cli import cli

    out = ["-o", str(tmp_path / "runs"), "--data-dir", str(tmp_path / "data")]
    missing = CliRunner().invoke(cli, ["suite", "run", "table-4.6", *out])
    assert missing.exit_code == 2 and "18 cell(s) of table-4.6 need data that is not there" in missing.output
    assert "--skip-missing" in missing.output and len(missing.output.strip().splitlines()) == 1
    wrong = CliRunner().invoke(cli, ["suite", "run", "cpu-digits", "--launcher", "slurm", "--nodes", "2",
                                     "--gpus-per-node", "4", "--world-size", "4", *out])
    assert wrong.exit_code == 2 and "expected --world-size 8 or none" in wrong.output
    assert not (tmp_path / "runs").exists()


def test_a_failed_cell_is_reported_with_its_error_line_and_the_run_exits_non_zero(tmp_path):
    from click.testing import CliRunner

    from sslbench.cli import cli

    (tmp_path / "data" / "imagefolder" / "train").mkdir(parents=True)  # a root without a single image
    path = tmp_path / "broken.yaml"
    path.write_text("protocols: [knn]\ngrid: {methods: [random], datasets: [imagefolder]}\n")
    args = [str(path), "-o", str(tmp_path / "runs"), "--data-dir", str(tmp_path / "data")]
    ran = CliRunner().invoke(cli, ["suite", "run", *args])
    assert ran.exit_code == 1 and "random imagefolder seed 0: failed" in ran.output
    status = CliRunner().invoke(cli, ["suite", "status", *args])
    assert status.exit_code == 0
    line = next(line for line in status.output.splitlines() if line.startswith("failed"))
    assert "DatasetError" in line and "imagefolder" in line
    assert status.output.splitlines()[-1] == "1 cell(s): 1 failed"


FLAKY_PROBE = '''
from sslbench import hookimpl
from sslbench.contract.errors import TrainingError
from sslbench.contract.protocol import Metric, Protocol


class FlakyProbe(Protocol):
    """fails while FAIL is set"""
    name = "flakyprobe"
    FAIL = True

    def evaluate(self, ctx):
        if FlakyProbe.FAIL:
            raise TrainingError("flakyprobe diverged")
        return [Metric("acc", 50.0)]


@hookimpl
def register_protocols(register):
    register(FlakyProbe)
'''


def test_a_cell_whose_second_protocol_fails_keeps_the_first_ones_rows_and_reruns_only_the_failed_one(tmp_path):
    """knn finished, then the next protocol failed: the cell is failed (with the error line), its kNN
    rows reach the store anyway, and running the suite again evaluates the failed protocol only."""
    import sqlite3
    import types

    from click.testing import CliRunner

    from sslbench.cli import cli
    from sslbench.contract import loading as plugins
    from sslbench.suites.results import PARTIAL_ROWS, ROWS

    module = types.ModuleType("flaky_probe")
    exec(FLAKY_PROBE, module.__dict__)
    plugins.register_plugin(module, "flaky_probe")
    try:
        path = tmp_path / "flaky.yaml"
        path.write_text("protocols: [knn, flakyprobe]\nset: {knn.k: [5]}\n"
                        "grid: {methods: [random], datasets: [digits]}\n")
        args = [str(path), "-o", str(tmp_path / "runs"), "--set", "model.backbone_options={width: 4}"]
        ran = CliRunner().invoke(cli, ["suite", "run", *args, "--no-progress"])
        assert ran.exit_code == 1 and "random digits seed 0: failed" in ran.output, ran.output
        cell = next((tmp_path / "runs" / "cells").iterdir())
        assert (cell / PARTIAL_ROWS).is_file() and not (cell / ROWS).exists()
        status = CliRunner().invoke(cli, ["suite", "status", *args])
        assert "flakyprobe diverged (the rows of knn are kept)" in status.output
        with sqlite3.connect(tmp_path / "runs" / "results.sqlite") as conn:
            assert {r[0] for r in conn.execute("SELECT protocol FROM results")} == {"knn"}

        module.FlakyProbe.FAIL = False
        again = CliRunner().invoke(cli, ["suite", "run", *args, "--no-progress"])
        assert again.exit_code == 0, again.output
        assert "1 in the store" not in again.output  # the cell was not complete: it ran again ...
        lines = (cell / ROWS).read_text().splitlines()
        assert len(lines) == 1 and '"protocol": "flakyprobe"' in lines[0]  # ... for flakyprobe only
        with sqlite3.connect(tmp_path / "runs" / "results.sqlite") as conn:
            stored = sorted(r[0] for r in conn.execute("SELECT protocol FROM results"))
        assert stored == ["flakyprobe", "knn"]
    finally:
        plugins.unregister_plugin("flaky_probe")
