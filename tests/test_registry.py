"""Registries: duplicates raise naming both plugins, unknowns suggest, globs filter."""

import pytest

from sslbench.contract.errors import DuplicateNameError, UnknownNameError
from sslbench.contract.registry import Registry


def test_duplicate_name_raises_naming_both_registrants():
    reg = Registry("method")
    reg.register("moco", object(), plugin="first_plugin")
    with pytest.raises(DuplicateNameError, match="'moco'.*'first_plugin'.*'second_plugin'"):
        reg.register("moco", object(), plugin="second_plugin")


def test_unknown_name_lists_close_matches():
    reg = Registry("method")
    for name in ("moco", "ressl", "sce"):
        reg.register(name, object(), plugin="p")
    with pytest.raises(UnknownNameError, match="unknown method 'mocco'; did you mean 'moco'"):
        reg.get("mocco")


def test_list_filters_by_glob_with_natural_sort():
    reg = Registry("backbone")
    for name in ("resnet50", "resnet18", "vit", "resnet101"):
        reg.register(name, object(), plugin="p")
    assert reg.list("res*") == ["resnet18", "resnet50", "resnet101"]
    assert reg.list() == ["resnet18", "resnet50", "resnet101", "vit"]


def test_namespace_entries_resolve_prefixed_names():
    reg = Registry("backbone")
    marker = object()
    reg.register("timm:", marker, plugin="p")
    assert reg.get("timm:vit_tiny_patch16_224") is marker
    with pytest.raises(UnknownNameError):
        reg.get("other:thing")


def test_unregister_removes_a_name():
    reg = Registry("dataset")
    reg.register("x", 1, plugin="p")
    reg.unregister("x")
    assert "x" not in reg


def test_invalid_names_are_rejected():
    with pytest.raises(ValueError, match="invalid method name"):
        Registry("method").register("has space", object())


def test_a_contested_name_fails_only_when_asked_for_naming_every_registrant():
    reg = Registry("method")
    reg.register("moco", object(), plugin="moco")
    reg.register("sce", object(), plugin="sce")
    reg.contest("moco", plugin="moco_clone")
    reg.conflict_hint = lambda owners: f"; pick one of {len(owners)}"
    assert reg.list() == ["sce"] and "moco" not in reg and reg.get("sce") is not None
    assert reg.conflicts() == {"moco": ["moco", "moco_clone"]}
    with pytest.raises(DuplicateNameError, match="method 'moco' is registered by plugins 'moco' and 'moco_clone'; "
                                                 "pick one of 2"):
        reg.get("moco")
    with pytest.raises(DuplicateNameError, match="'moco'.*'moco'.*'third'"):
        reg.register("moco", object(), plugin="third")  # a contested name stays contested


def test_unknown_name_error_carries_the_loaders_hint():
    reg = Registry("method")
    reg.register("moco", object(), plugin="p")
    reg.unknown_hint = lambda name: f": plugin {name!r} failed to load"
    with pytest.raises(UnknownNameError, match="unknown method 'simclr': plugin 'simclr' failed to load"):
        reg.get("simclr")
