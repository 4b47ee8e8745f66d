"""Plugin loading and the CLI, as a user and a third-party plugin author see them."""

import pytest
from click.testing import CliRunner

from sslbench.contract import loading as plugins
from sslbench.cli import cli

from helpers import TINY, run_cli

TOY_PLUGIN = '''
import torch
from sslbench import hookimpl
from sslbench.method import MomentumMethod


class Toy(MomentumMethod):
    """A throwaway method: cosine alignment of the two views."""
    name = "toy"
    description = "toy alignment loss"

    def loss(self, online, target, queue):
        return 2 - 2 * (online * target).sum(1).mean()


@hookimpl
def register_methods(register):
    register(Toy)
'''


def test_shipped_plugins_come_from_entry_points():
    infos = {i.name: i for i in plugins.plugin_infos()}
    assert infos["moco"].distribution == "sslbench" and infos["moco"].version
    assert infos["baselines"].distribution == "sslbench"
    assert "sslbench.default_plugins.protocols" in infos
    regs = plugins.registries()
    assert {"moco", "random", "supervised"} <= set(regs.methods.list())
    assert regs.methods.entry("moco").plugin == "moco"


@pytest.mark.slow  # long end-to-end: `python -m pytest -m slow`
def test_throwaway_plugin_is_listed_and_usable_from_the_cli(make_plugin_dist, tmp_path):
    site = make_plugin_dist("toy-ssl", "toy_ssl_plugin", TOY_PLUGIN)
    listed = run_cli("list", "methods", pythonpath=site)
    assert listed.returncode == 0, listed.stderr
    assert "toy" in listed.stdout and "toy alignment loss" in listed.stdout
    shown = run_cli("plugins", pythonpath=site)
    assert "toy_ssl_plugin" in shown.stdout and "toy-ssl 0.3" in shown.stdout
    ran = run_cli("run", "--method", "toy", "--protocol", "knn", "--dataset", "digits", *TINY,
                  "--set", "knn.k=[5]", "-o", str(tmp_path / "out"), pythonpath=site)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("toy on digits") and "top1@k5" in ran.stdout


def test_in_process_plugin_registration_is_usable_and_removable():
    import types

    module = types.ModuleType("toy_inproc")
    exec(TOY_PLUGIN, module.__dict__)
    plugins.register_plugin(module, "toy_inproc")
    try:
        result = CliRunner().invoke(cli, ["list", "methods"])
        assert "toy" in result.output
    finally:
        plugins.unregister_plugin("toy_inproc")
    assert "toy" not in plugins.registries().methods


def test_broken_plugin_is_reported_while_list_still_works(make_plugin_dist):
    site = make_plugin_dist("broken-ssl", "broken_ssl_plugin", "raise ImportError('needs libfoo 9')\n")
    shown = run_cli("plugins", pythonpath=site)
    assert shown.returncode == 0, shown.stderr
    assert "broken_ssl_plugin" in shown.stdout and "FAILED" in shown.stdout and "needs libfoo 9" in shown.stdout
    listed = run_cli("list", pythonpath=site)
    assert listed.returncode == 0 and "moco" in listed.stdout


def test_load_plugins_env_allows_none_or_a_list(make_plugin_dist):
    none = run_cli("list", "methods", env={"SSLBENCH_LOAD_PLUGINS": ""})
    assert none.returncode == 0 and "moco" not in none.stdout
    some = run_cli("list", "methods", env={"SSLBENCH_LOAD_PLUGINS": "moco"})
    assert "moco" in some.stdout and "random" not in some.stdout


def test_unknown_method_exits_non_zero_with_one_line_suggestion():
    result = run_cli("run", "--method", "mocoo", "--protocol", "knn", "--dataset", "digits")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "unknown method 'mocoo'" in lines[0] and "did you mean 'moco'" in lines[0]


@pytest.mark.parametrize("args,needle", [
    (["--set", "moco.temperature=-1"], "moco.temperature"),
    (["--set", "train.epochz=3"], "did you mean train.epochs"),
    (["--set", "nosuch.key=1"], "unknown config section 'nosuch'"),
    (["--backbone", "resnet17"], "did you mean 'resnet18'"),
    (["--protocol", "knm"], "unknown protocol 'knm'"),
])
def test_bad_values_are_rejected_before_any_work(args, needle):
    base = {"--method": "moco", "--protocol": "knn", "--dataset": "digits"}
    flat = []
    for key, value in base.items():
        if key not in args:
            flat += [key, value]
    result = CliRunner().invoke(cli, ["run", *flat, *args, "--dry-run"])
    assert result.exit_code == 2
    assert needle in result.output


def test_dry_run_prints_effective_config_with_presets_and_overrides():
    import yaml

    result = CliRunner().invoke(cli, ["run", "-m", "moco", "-p", "knn", "-d", "digits", "--epochs", "7",
                                      "--set", "moco.temperature=0.1", "--dry-run"])
    assert result.exit_code == 0, result.output
    config = yaml.safe_load(result.output)
    assert config["train"]["epochs"] == 7
    assert config["moco"]["temperature"] == 0.1
    assert config["ssl"]["queue_size"] == 256  # the digits preset
    assert config["model"]["backbone"] == "convnet-small"  # the dataset default
    assert config["knn"]["k"] == [20, 200]


def test_every_command_has_help():
    for command in ("run", "list", "plugins", "table"):
        result = CliRunner().invoke(cli, [command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output


def test_a_plugin_dist_named_with_a_dash_keeps_sslbenchs_own_entry_points(make_plugin_dist, monkeypatch):
    from importlib.metadata import DistributionFinder, MetadataPathFinder, entry_points

    site = make_plugin_dist("sslbench-x", "sslbench_x_plugin", "")
    monkeypatch.syspath_prepend(site)
    assert {"moco", "sce", "sslbench_x_plugin"} <= {ep.name for ep in entry_points(group="sslbench")}
    assert list(MetadataPathFinder.find_distributions(DistributionFinder.Context(name="sslbench", path=[site]))) == []
    (found,) = MetadataPathFinder.find_distributions(DistributionFinder.Context(name="sslbench-x", path=[site]))
    assert found.metadata["Name"] == "sslbench-x"
