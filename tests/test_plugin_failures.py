"""A broken plugin fails in one line naming it; a name two plugins claim blocks only its own users."""

from __future__ import annotations

import math
import re
import types

import pytest
from click.testing import CliRunner
from helpers import one_error_line, run_cli

from sslbench.contract import loading as plugins
from sslbench.cli import cli
from sslbench.contract.errors import PluginError

FAST = ("--set", "model.backbone_options={width: 4}", "--set", "train.max_steps=2", "--set", "knn.k=[5]",
        "--no-progress")

VECTOR_LOSS = '''
from sslbench import hookimpl
from sslbench.method import MomentumMethod


class VectorLoss(MomentumMethod):
    """forgets the .mean(): one loss per sample"""
    name = "vecloss"

    def loss(self, online, target, queue):
        return 2 - 2 * (online * target).sum(1)


@hookimpl
def register_methods(register):
    register(VectorLoss)
'''

BAD_PROTOCOLS = '''
from sslbench import hookimpl
from sslbench.contract.protocol import Metric, Protocol


class NanProbe(Protocol):
    """returns NaN"""
    name = "nanprobe"

    def evaluate(self, ctx):
        return [Metric("acc", float("nan"))]


class DictProbe(Protocol):
    """returns a dict"""
    name = "dictprobe"

    def evaluate(self, ctx):
        return {"acc": 1.0}


class CrashProbe(Protocol):
    """raises"""
    name = "crashprobe"

    def evaluate(self, ctx):
        raise RuntimeError("boom in the probe")


@hookimpl
def register_protocols(register):
    register(NanProbe)
    register(DictProbe)
    register(CrashProbe)
'''

CLONE = '''
from sslbench import hookimpl
from sslbench.method import MomentumMethod


class Clone(MomentumMethod):
    """a third moco"""
    name = "moco"

    def loss(self, online, target, queue):
        return (online * target).sum(1).mean()


@hookimpl
def register_methods(register):
    register(Clone)
'''



@pytest.fixture
def in_process():
    """Register a plugin module from source for the duration of a test."""
    names = []

    def register(source: str, name: str) -> None:
        module = types.ModuleType(name)
        exec(source, module.__dict__)
        plugins.register_plugin(module, name)
        names.append(name)

    yield register
    for name in names:
        plugins.unregister_plugin(name)


def test_non_scalar_loss_is_one_line_naming_plugin_and_distribution(make_plugin_dist, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(make_plugin_dist("vec-ssl", "vec_plugin", VECTOR_LOSS))  # installed, in-process
    plugins.reset()
    result = CliRunner().invoke(cli, ["run", "-m", "vecloss", "-p", "knn", "-d", "digits", "-o", str(tmp_path / "out"),
                                      *FAST])
    assert result.exit_code == 2, result.output
    line = one_error_line(result.stderr)
    assert re.fullmatch(r"Error: plugin 'vec_plugin' from vec-ssl 0\.3 \(method 'vecloss'\): loss must be a "
                        r"scalar, got \(\d+,\)", line), line
    assert not (tmp_path / "out" / "results.sqlite").exists()


@pytest.mark.slow  # long end-to-end: `python -m pytest -m slow`
def test_debug_shows_the_traceback_of_a_plugin_error(make_plugin_dist, tmp_path):
    site = make_plugin_dist("vec-ssl", "vec_plugin", VECTOR_LOSS)
    proc = run_cli("--debug", "run", "-m", "vecloss", "-p", "knn", "-d", "digits", "-o", str(tmp_path / "out"),
                   *FAST, pythonpath=site)
    assert proc.returncode != 0
    assert "Traceback (most recent call last)" in proc.stderr and "PluginError" in proc.stderr


@pytest.mark.parametrize("protocol,needle", [
    ("nanprobe", "(protocol 'nanprobe'): metric 'acc' is nan: expected a finite number"),
    ("dictprobe", "(protocol 'dictprobe'): evaluate() must return a list of Metric, got dict"),
    ("crashprobe", "(protocol 'crashprobe'): raised RuntimeError: boom in the probe"),
])
def test_protocol_breaking_its_contract_is_one_line_and_stores_none_of_its_rows(in_process, tmp_path, protocol,
                                                                                 needle):
    """The broken protocol stores nothing; kNN, which finished before it, keeps its rows (results are
    never lost; a re-run's rows replace them in tables, the latest evaluation wins)."""
    import sqlite3

    in_process(BAD_PROTOCOLS, "bad_probes")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", "-m", "random", "-p", f"knn,{protocol}", "-d", "digits", "-o", str(out),
                                      *FAST])
    assert result.exit_code == 2, result.output
    line = one_error_line(result.stderr)
    assert line == f"Error: plugin 'bad_probes' {needle} (the rows of knn are stored)", line
    with sqlite3.connect(out / "results.sqlite") as conn:
        assert {row[0] for row in conn.execute("SELECT protocol FROM results")} == {"knn"}


def test_debug_chains_the_exception_raised_inside_a_plugin(in_process, tmp_path):
    in_process(BAD_PROTOCOLS, "bad_probes")
    result = CliRunner().invoke(cli, ["--debug", "run", "-m", "random", "-p", "crashprobe", "-d", "digits",
                                      "-o", str(tmp_path / "out"), *FAST])
    assert result.exit_code != 0
    assert isinstance(result.exception, PluginError)
    assert isinstance(result.exception.__cause__, RuntimeError)


def test_method_of_a_plugin_that_failed_to_import_says_so_and_why(make_plugin_dist):
    site = make_plugin_dist("simclr-ssl", "simclr", "raise ImportError('needs libfoo 9')\n")
    proc = run_cli("run", "-m", "simclr", "-p", "knn", "-d", "digits", "--dry-run", pythonpath=site)
    assert proc.returncode == 2
    line = one_error_line(proc.stderr)
    assert "plugin 'simclr' from simclr-ssl 0.3 failed to load (ImportError: needs libfoo 9)" in line, line
    other = run_cli("run", "-m", "simsiam", "-p", "knn", "-d", "digits", "--dry-run", pythonpath=site)
    assert "plugins that failed to load and may provide it: 'simclr' (ImportError: needs libfoo 9)" in \
        one_error_line(other.stderr)


def test_a_name_two_plugins_register_blocks_only_the_commands_that_use_it(make_plugin_dist):
    site = make_plugin_dist("moco-clone", "moco_clone", CLONE)
    shown = run_cli("plugins", pythonpath=site)
    assert shown.returncode == 0, shown.stderr
    conflict = [line for line in shown.stdout.splitlines() if line.startswith("CONFLICT: method 'moco'")]
    assert len(conflict) == 1 and "'moco_clone'" in conflict[0], shown.stdout
    listed = run_cli("list", "methods", pythonpath=site)
    assert listed.returncode == 0 and "sce" in listed.stdout and "CONFLICT" in listed.stdout
    assert run_cli("run", "-m", "sce", "-p", "knn", "-d", "digits", "--dry-run", pythonpath=site).returncode == 0

    blocked = run_cli("run", "-m", "moco", "-p", "knn", "-d", "digits", "--dry-run", pythonpath=site)
    assert blocked.returncode == 2
    line = one_error_line(blocked.stderr)
    assert "method 'moco' is registered by plugins" in line and "'moco_clone'" in line and "'moco'" in line
    # the advice works: the allow-list that keeps the shipped moco resolves the conflict
    allow = re.search(r"for 'moco' SSLBENCH_LOAD_PLUGINS=([\w,.-]+)", line).group(1)
    chosen = run_cli("run", "-m", "moco", "-p", "knn", "-d", "digits", "--dry-run", pythonpath=site,
                     env={"SSLBENCH_LOAD_PLUGINS": allow})
    assert chosen.returncode == 0, chosen.stderr
    assert "temperature" in chosen.stdout


def test_metric_checks_accept_numpy_numbers():
    import numpy as np

    from sslbench.engine.plugin_checks import checked_metrics
    from sslbench.contract.protocol import Metric

    metrics = [Metric("acc", np.float32(0.5)), Metric("err", 3, higher_is_better=np.bool_(False))]
    assert checked_metrics(metrics, "knn") == metrics
    with pytest.raises(PluginError, match="metric 'acc' is inf"):
        checked_metrics([Metric("acc", math.inf)], "knn")
