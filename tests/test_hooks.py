"""One test per hook: a throwaway plugin implementing it is picked up and usable."""

import types
from dataclasses import dataclass

import pytest
import torch
from click.testing import CliRunner

from sslbench import hookimpl
from sslbench.contract import hookspecs, loading as plugins
from sslbench.cli import cli
from sslbench.contract.dataset import DatasetSpec
from sslbench.contract.protocol import Metric, Protocol


@pytest.fixture
def plugin():
    registered = []

    def register(**hooks):
        module = types.ModuleType(f"throwaway_{len(registered)}")
        for name, fn in hooks.items():
            setattr(module, name, hookimpl(fn))
        plugins.register_plugin(module, module.__name__)
        registered.append(module.__name__)
        return module

    yield register
    for name in registered:
        plugins.unregister_plugin(name)


def test_hook_register_methods(plugin):
    from sslbench_moco import MoCo

    class Clone(MoCo):
        name = "moco-clone"

    plugin(register_methods=lambda register: register(Clone))
    entry = plugins.registries().methods.entry("moco-clone")
    assert entry.obj is Clone and entry.plugin.startswith("throwaway_")


def test_hook_register_backbones(plugin):
    def build(variant, in_chans):
        net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(7))
        net.num_features = 7
        return net

    plugin(register_backbones=lambda register: register("flat7", build))
    from sslbench.engine.trainer import build_backbone

    assert build_backbone(plugins.registries(), "flat7", 1, {})(torch.randn(2, 1, 4, 4)).shape == (2, 7)


def test_hook_register_datasets(plugin):
    from sslbench.image.readers import TensorImageDataset

    def load(root, split, image_size):
        return TensorImageDataset(torch.zeros(4, 1, 8, 8, dtype=torch.uint8), torch.arange(4) % 2)

    plugin(register_datasets=lambda register: register(
        DatasetSpec(name="zeros", load=load, num_classes=2, channels=1, needs_root=False, mean=(0.5,), std=(0.5,))))
    assert len(plugins.registries().datasets.get("zeros").load(None, "train", 8)) == 4


def test_hook_register_protocols(plugin):
    @dataclass
    class ConstantParams:
        value: float = 1.0

    class Constant(Protocol):
        name = "constant"
        Params = ConstantParams

        def evaluate(self, ctx):
            return [Metric("value", self.params.value, higher_is_better=False)]

    plugin(register_protocols=lambda register: register(Constant))
    result = CliRunner().invoke(cli, ["run", "-m", "random", "-p", "constant", "-d", "digits", "--set",
                                      "constant.value=3.5", "--set", "model.backbone_options={width: 4}",
                                      "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "constant value 3.50" in result.output


def test_hook_register_commands(plugin):
    import click

    def register_commands(cli):
        @cli.command(name="hello-plugin")
        def hello():
            click.echo("hello from a plugin")

    plugin(register_commands=register_commands)
    plugins.get_plugin_manager().hook.register_commands(cli=cli)
    try:
        assert CliRunner().invoke(cli, ["hello-plugin"]).output == "hello from a plugin\n"
    finally:
        cli.commands.pop("hello-plugin", None)


def test_every_hook_has_a_test_here():
    hooks = [n for n in dir(hookspecs) if n.startswith("register_")]
    missing = [h for h in hooks if f"test_hook_{h}" not in globals()]
    assert not missing, f"hooks without a test_hook_<name> test: {missing}"


def test_trace_prints_each_hook_call(monkeypatch, capsys):
    monkeypatch.setenv("SSLBENCH_TRACE_PLUGINS", "1")
    plugins.reset()
    plugins.registries()
    err = capsys.readouterr().err
    assert "register_methods: plugin 'moco' registers 'moco'" in err
    assert "calling register_protocols of plugin 'sslbench.default_plugins.protocols'" in err
