"""Every registered method passes the conformance kit that third-party plugins use."""

import pytest

from sslbench.contract.loading import registries, reset
from sslbench.testing import METHOD_CHECKS, check_backbone, run_checks

METHODS = registries().methods.list()
reset()


@pytest.mark.parametrize("check", METHOD_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", METHODS)
def test_method_conformance(name, check):
    check(name)


@pytest.mark.parametrize("name", ["convnet-small", "resnet18"])
def test_backbone_conformance(name):
    check_backbone(name)


def test_check_plugin_reports_failures_without_crashing():
    import types

    from sslbench import hookimpl
    from sslbench.contract import loading as plugins
    from sslbench_moco import MoCo

    class Broken(MoCo):
        name = "broken-loss"

        def loss(self, online, target, queue):
            return (online * 0).sum()  # no gradient signal

    module = types.ModuleType("broken_loss_plugin")
    module.register_methods = hookimpl(lambda register: register(Broken))
    plugins.register_plugin(module, "broken_loss_plugin")
    try:
        results = {r.name: r for r in run_checks("broken-loss")}
    finally:
        plugins.unregister_plugin("broken_loss_plugin")
    assert results["check_registration"].ok
    assert not results["check_loss"].ok and "gradient" in results["check_loss"].message


def test_check_plugin_cli_passes_the_example_plugin_and_names_a_broken_ones_fault(make_plugin_dist):
    from helpers import run_cli

    ok = run_cli("check-plugin", "byol")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "5 passed, 0 failed" in ok.stdout
    site = make_plugin_dist("frozen-loss", "frozen_loss_plugin", '''
from sslbench import hookimpl
from sslbench.method import MomentumMethod

class FrozenLoss(MomentumMethod):
    name = "frozen-loss"
    description = "a loss that ignores its inputs"

    def loss(self, online, target, queue):
        return (online * 0).sum() + 1.0

@hookimpl
def register_methods(register):
    register(FrozenLoss)
''')
    bad = run_cli("check-plugin", "frozen-loss", pythonpath=site)
    assert bad.returncode == 1
    assert "FAIL  check_loss: loss gradient w.r.t. the online embeddings is zero" in bad.stdout
