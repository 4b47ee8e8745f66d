"""`sslbench results export/import`: a cluster's results merge into a local store, once."""

import json
import sqlite3

import pytest
from click.testing import CliRunner

from sslbench.cli import cli
from sslbench.contract.errors import SSLBenchError
from sslbench.reporting.exchange import export_store, import_file
from sslbench.reporting.render import render
from sslbench.reporting.tables import build_table

from reporting_records import add, frame


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "cluster" / "results.sqlite"
    for seed in (0, 1):
        add(path, "moco", 80.0 + seed, seed=seed, method_params={"temperature": 0.2})
        add(path, "sce", 83.0 + seed, seed=seed, method_params={"lambda": 0.5})
        add(path, "moco", 3.0 - seed, seed=seed, metric="loss", higher_is_better=False,
            method_params={"temperature": 0.2})
    return path


def _table(path):
    return render(build_table(frame(path), rows=["method", "moco.temperature"]), "markdown")


@pytest.mark.parametrize("name", ["results.csv", "results.jsonl"])
def test_export_then_import_into_an_empty_store_reproduces_the_table(tmp_path, store, name):
    exported = tmp_path / name
    assert export_store(store, exported) == 6
    local = tmp_path / "local" / "results.sqlite"
    assert import_file(local, exported) == (6, 0)
    assert _table(local) == _table(store)
    a, b = frame(store).drop(columns="id"), frame(local).drop(columns="id")
    assert a.astype(str).equals(b.astype(str))


def test_reimport_adds_no_duplicate_rows(tmp_path, store):
    exported = tmp_path / "results.jsonl"
    export_store(store, exported)
    local = tmp_path / "local.sqlite"
    add(local, "random", 20.0)
    assert import_file(local, exported) == (6, 0)
    assert import_file(local, exported) == (0, 6)
    count = sqlite3.connect(local).execute("SELECT COUNT(*) FROM results").fetchone()[0]
    assert count == 7


def test_export_filters_and_cli_round_trip(tmp_path, store):
    out = tmp_path / "moco.csv"
    runner = CliRunner()
    result = runner.invoke(cli, ["results", "export", str(out), "-o", str(store.parent), "--where", "method=moco"])
    assert result.exit_code == 0, result.output
    assert "exported 4 result(s)" in result.output
    result = runner.invoke(cli, ["results", "import", str(out), "-o", str(tmp_path / "local")])
    assert result.exit_code == 0 and "imported 4 result(s), skipped 0" in result.output
    again = runner.invoke(cli, ["results", "import", str(out), "-o", str(tmp_path / "local")])
    assert "imported 0 result(s), skipped 4" in again.output


def test_bad_files_are_clear_errors(tmp_path, store):
    with pytest.raises(SSLBenchError, match=r"expected a \.csv or \.jsonl"):
        export_store(store, tmp_path / "results.xlsx")
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps({"run_id": "x", "method": "moco"}) + "\n")
    with pytest.raises(SSLBenchError, match="missing created_at"):
        import_file(tmp_path / "local.sqlite", broken)
    with pytest.raises(SSLBenchError, match="no results store"):
        export_store(tmp_path / "nothing.sqlite", tmp_path / "x.csv")
