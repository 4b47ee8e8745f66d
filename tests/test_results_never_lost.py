"""A finished run's results are never lost; a damaged store or a bad import file is one line, exit 2."""

from __future__ import annotations

import json
import os
import re
import shlex
import sqlite3
import types

import pytest
from click.testing import CliRunner
from helpers import one_error_line
from reporting_records import add

from sslbench.contract import loading as plugins
from sslbench.cli import cli
from sslbench.contract.errors import StoreError
from sslbench.store import ResultRow, check, insert, read

FAST = ("--set", "model.backbone_options={width: 4}", "--set", "knn.k=[5]", "--no-progress")

#: a protocol that damages the results store while the run evaluates, as a crash of another writer,
#: a full disk or a bad copy would: the store cannot be written at the very end of the run
CORRUPTER = '''
from sslbench import hookimpl
from sslbench.contract.protocol import Metric, Protocol


class Corrupter(Protocol):
    """overwrites the results store"""
    name = "corrupter"

    def evaluate(self, ctx):
        (ctx.cache_dir.parent / "results.sqlite").write_bytes(b"this is not a database " * 400)
        return [Metric("score", 0.5)]


@hookimpl
def register_protocols(register):
    register(Corrupter)
'''



def _garbage_store(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.sqlite").write_bytes(os.urandom(8192))
    return folder / "results.sqlite"


def _row(value: float = 1.0, metric: str = "top1") -> ResultRow:
    return ResultRow(method="random", dataset="digits", eval_dataset="digits", backbone="convnet-small",
                     protocol="knn", metric=metric, value=value, higher_is_better=True, seed=0, config_hash="c",
                     pretrain_hash="p", config={"method": "random"}, git_commit=None, versions={"torch": "2"},
                     hardware="test", pretrain_seconds=0.0, eval_seconds=1.0)


def _count(store) -> int:
    return sqlite3.connect(store).execute("SELECT COUNT(*) FROM results").fetchone()[0]


@pytest.fixture
def corrupter():
    module = types.ModuleType("store_corrupter")
    exec(CORRUPTER, module.__dict__)
    plugins.register_plugin(module, "store_corrupter")
    yield
    plugins.unregister_plugin("store_corrupter")


def test_results_of_a_run_whose_store_breaks_at_the_end_are_saved_and_importable(corrupter, tmp_path):
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(cli, ["run", "-m", "random", "-p", "knn,corrupter", "-d", "digits", "-o", str(out), *FAST])
    assert result.exit_code == 2, result.output
    line = one_error_line(result.stderr)
    assert f"cannot write the results store {str(out / 'results.sqlite')!r}" in line and "damaged" in line
    command = re.search(r"`(sslbench results import [^`]+)`", line).group(1)
    spilled = [p for p in (out / "pretrain").rglob("results-*.jsonl")]
    assert len(spilled) == 1 and str(spilled[0]) in line
    records = [json.loads(text) for text in spilled[0].read_text().splitlines()]
    assert {(r["protocol"], r["metric"]) for r in records} == {("knn", "top1@k5"), ("corrupter", "score")}

    (out / "results.sqlite").rename(tmp_path / "damaged.sqlite")  # what the message tells the user to do
    imported = runner.invoke(cli, shlex.split(command)[1:])
    assert imported.exit_code == 0, imported.output
    assert "imported 2 result(s)" in imported.output
    stored = read(out / "results.sqlite")
    assert sorted(stored["metric"]) == ["score", "top1@k5"] and set(stored["method"]) == {"random"}


def test_rows_go_to_the_temp_folder_when_the_run_folder_cannot_take_them(tmp_path, monkeypatch):
    store = _garbage_store(tmp_path / "out")
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    with pytest.raises(StoreError, match=r"saved in '.*/tmp/results-\w+\.jsonl'"):
        insert(store, [_row()], spill_dir=blocked / "run")
    assert len(list((tmp_path / "tmp").glob("results-*.jsonl"))) == 1


def test_when_no_folder_takes_the_rows_the_error_shows_the_values(tmp_path, monkeypatch):
    store = _garbage_store(tmp_path / "out")
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(blocked / "tmp"))
    with pytest.raises(StoreError, match=r"they were: knn/top1=0\.734, knn/top5=0\.91$"):
        insert(store, [_row(0.734), _row(0.91, "top5")], spill_dir=blocked / "run")


@pytest.mark.parametrize("args", [
    ["table"],
    ["results", "export", "x.csv"],
    ["plot", "metric", "--x", "seed", "--save", "p.png"],
    ["compare", "-m", "random", "-p", "knn", "-d", "digits", "--dry-run"],
])
def test_commands_reading_a_damaged_store_print_one_line_naming_it(tmp_path, args):
    store = _garbage_store(tmp_path / "out")
    result = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    line = one_error_line(result.stderr)
    assert str(store) in line and "damaged" in line
    assert result.stdout == ""


def test_import_into_a_damaged_store_is_one_line(tmp_path):
    good = tmp_path / "good" / "results.sqlite"
    add(good, "moco", 80.0)
    CliRunner().invoke(cli, ["results", "export", str(tmp_path / "r.jsonl"), "-o", str(good.parent)])
    store = _garbage_store(tmp_path / "out")
    result = CliRunner().invoke(cli, ["results", "import", str(tmp_path / "r.jsonl"), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert str(store) in one_error_line(result.stderr)


def test_store_check_accepts_a_healthy_or_missing_store_and_refuses_a_damaged_one(tmp_path):
    missing = tmp_path / "new" / "results.sqlite"
    check(missing)
    assert not missing.exists() and not missing.parent.exists()  # a check never creates the store
    healthy = tmp_path / "ok" / "results.sqlite"
    add(healthy, "moco", 80.0)
    check(healthy)
    with pytest.raises(StoreError, match="results.sqlite.*damaged"):
        check(_garbage_store(tmp_path / "bad"))


def test_store_check_runs_quick_check_on_a_store_with_a_damaged_page(tmp_path):
    store = tmp_path / "results.sqlite"
    insert(store, [_row(float(i), f"m{i}") for i in range(300)])  # several pages of rows and index entries
    conn = sqlite3.connect(store)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(store.read_bytes())
    data[3 * page: 3 * page + 200] = b"\xff" * 200  # a leaf page in the middle of the table
    store.write_bytes(bytes(data))
    with pytest.raises(StoreError) as caught:
        check(store)
    assert str(store) in str(caught.value) and "damaged" in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.fixture
def exported(tmp_path):
    """A valid two-record export and a store already holding one other record."""
    source = tmp_path / "source" / "results.sqlite"
    add(source, "moco", 80.0)
    add(source, "sce", 83.0)
    path = tmp_path / "r.jsonl"
    assert CliRunner().invoke(cli, ["results", "export", str(path), "-o", str(source.parent)]).exit_code == 0
    local = tmp_path / "local" / "results.sqlite"
    add(local, "random", 20.0)
    return path, local


def _import(path, local):
    return CliRunner().invoke(cli, ["results", "import", str(path), "-o", str(local.parent)])


@pytest.mark.parametrize("corrupt,needle", [
    (None, "is not UTF-8 text"),  # binary garbage instead of the export
    (lambda records: records[1].update(config_json="{not json"), "record 2: config_json is not JSON"),
    (lambda records: records[1].update(config_json="[1, 2]"), "record 2: config_json is not a JSON object"),
    (lambda records: records[1].update(versions_json="nope"), "record 2: versions_json is not JSON"),
    (lambda records: records[1].update(value=float("nan")), "record 2: value is nan"),
    (lambda records: records.append([1, 2, 3]), ":3: not a JSON record: expected an object"),
])
def test_a_bad_import_file_is_one_line_and_imports_nothing(exported, corrupt, needle):
    path, local = exported
    records = [json.loads(line) for line in path.read_text().splitlines()]
    if corrupt is None:
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    else:
        corrupt(records)
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = _import(path, local)
    assert result.exit_code == 2, result.output
    assert needle in one_error_line(result.stderr)
    assert _count(local) == 1  # the first, valid record was not imported either
    table = CliRunner().invoke(cli, ["table", "-o", str(local.parent)])
    assert table.exit_code == 0, table.output


def test_binary_garbage_named_csv_is_one_line(exported, tmp_path):
    _, local = exported
    path = tmp_path / "r.csv"
    path.write_bytes(os.urandom(4096))
    result = _import(path, local)
    assert result.exit_code == 2
    assert str(path) in one_error_line(result.stderr)
    assert _count(local) == 1
