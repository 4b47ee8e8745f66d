"""One table, four formats: markdown, LaTeX (booktabs), CSV and HTML."""

import csv
import io

import pytest

from sslbench.contract.errors import SSLBenchError
from sslbench.reporting.render import latex_escape, render
from sslbench.reporting.tables import build_table

from reporting_records import add, frame


@pytest.fixture
def table(tmp_path):
    store = tmp_path / "r.sqlite"
    for seed in (0, 1):
        add(store, "moco_v2", 80.0 + seed, seed=seed, metric="top1@k20")
        add(store, "sce", 83.0 + seed, seed=seed, metric="top1@k20")
        add(store, "random", 20.0, seed=seed, metric="top1@k20")
        add(store, "moco_v2", 2.0, seed=seed, metric="err%", higher_is_better=False)
        add(store, "sce", 2.0, seed=seed, metric="err%", higher_is_better=False)
        add(store, "random", 9.0, seed=seed, metric="err%", higher_is_better=False)
    return build_table(frame(store), baseline="random")


def test_markdown_rows_start_with_the_method_and_the_caption_follows(table):
    text = render(table, "markdown")
    lines = text.splitlines()
    assert "knn top1@k20" in lines[0] and lines[0].startswith("| method")
    assert any(line.startswith("| sce") and "**83.50 ± 0.71 (2)**" in line for line in lines)
    assert any(line.startswith("| moco_v2") and "<u>80.50 ± 0.71 (2)</u>" in line for line in lines)
    # tied lower-is-better values are both bold
    assert sum("**2.00 ± 0.00 (2)**" in line for line in lines) == 2
    assert lines[-1].startswith("Table: Protocol: knn")


def test_latex_has_booktabs_rules_escapes_and_marks(table):
    text = render(table, "latex", label="tab:knn")
    for rule in (r"\toprule", r"\midrule", r"\bottomrule", r"\begin{tabular}", r"\end{table}"):
        assert text.count(rule) == 1, rule
    assert text.index(r"\toprule") < text.index(r"\midrule") < text.index(r"\bottomrule")
    assert r"moco\_v2" in text and "moco_v2" not in text.replace(r"moco\_v2", "")
    assert r"knn err\%" in text and "err%" not in text.replace(r"err\%", "")
    assert r"\textbf{83.50 $\pm$ 0.71 (2)}" in text
    assert r"\underline{80.50 $\pm$ 0.71 (2)}" in text
    assert r"$\Delta$ knn top1@k20" in text and "+63.50" in text
    assert r"\caption{Protocol: knn" in text and r"\label{tab:knn}" in text
    body = text[text.index(r"\midrule"):text.index(r"\bottomrule")]
    assert all(line.count("&") == 4 and line.endswith(r"\\") for line in body.splitlines()[1:])


def test_latex_escape_covers_the_special_characters():
    assert latex_escape("a_b 5% $x$ #1 {c} & d") == r"a\_b 5\% \$x\$ \#1 \{c\} \& d"


def test_csv_has_plain_values_without_marks(table):
    rows = list(csv.reader(io.StringIO(render(table, "csv"))))
    assert rows[0] == ["method", "knn err%", "Δ knn err%", "knn top1@k20", "Δ knn top1@k20"]
    assert rows[1:] == [["moco_v2", "2.00 ± 0.00 (2)", "-7.00", "80.50 ± 0.71 (2)", "+60.50"],
                        ["random", "9.00 ± 0.00 (2)", "–", "20.00 ± 0.00 (2)", "–"],
                        ["sce", "2.00 ± 0.00 (2)", "-7.00", "83.50 ± 0.71 (2)", "+63.50"]]


def test_html_marks_escapes_and_captions(table):
    text = render(table, "html")
    assert text.lstrip().startswith("<table") and "<caption>Protocol: knn" in text
    assert "<strong>83.50 ± 0.71 (2)</strong>" in text and "<u>80.50 ± 0.71 (2)</u>" in text
    assert text.count("<tr") == 4  # header + 3 methods


def test_unknown_format_and_empty_table(tmp_path, table):
    with pytest.raises(SSLBenchError, match="unknown table format"):
        render(table, "xlsx")
    assert render(build_table(frame(tmp_path / "none.sqlite")), "markdown") == "(no results)\n"
