"""Declared field rules (issue 18): a plugin's Params get ranges and types checked by the core, from
``Annotated[float, Range(gt=0)]`` or ``field(metadata={"range": ...})``, without a __post_init__."""

import types
from dataclasses import dataclass, field
from typing import Annotated

import pytest
from click.testing import CliRunner

from sslbench import hookimpl
from sslbench.cli import cli
from sslbench.config import Check, Range, build_dataclass
from sslbench.contract import loading as plugins
from sslbench.contract.errors import ConfigError
from sslbench.contract.protocol import Metric, Protocol


@dataclass
class Params:
    temperature: Annotated[float, Range(gt=0)] = 0.5
    momentum: float = field(default=0.9, metadata={"range": Range(ge=0, lt=1)})
    ks: list[Annotated[int, Range(ge=1)]] = field(default_factory=lambda: [1, 5])
    mode: Annotated[str, Check(lambda v: v in ("a", "b"), "'a' or 'b'")] = "a"
    scale: Annotated[float | None, Range(gt=0, le=10)] = None


def test_a_value_outside_a_declared_range_names_the_key_and_the_bounds():
    with pytest.raises(ConfigError, match=r"^invalid value -1.0 for p.temperature: expected a number > 0$"):
        build_dataclass(Params, {"temperature": -1}, "p")
    with pytest.raises(ConfigError, match=r"invalid value 1.0 for p.momentum: expected a number >= 0 and < 1"):
        build_dataclass(Params, {"momentum": 1}, "p")
    with pytest.raises(ConfigError, match=r"invalid value 0 for p.ks: expected a number >= 1"):
        build_dataclass(Params, {"ks": [3, 0]}, "p")
    with pytest.raises(ConfigError, match=r"invalid value 'c' for p.mode: expected 'a' or 'b'"):
        build_dataclass(Params, {"mode": "c"}, "p")
    with pytest.raises(ConfigError, match=r"invalid value 11.0 for p.scale"):
        build_dataclass(Params, {"scale": 11}, "p")


def test_values_inside_the_ranges_are_coerced_to_the_declared_types():
    p = build_dataclass(Params, {"temperature": "1e-3", "momentum": 0, "ks": 7, "scale": None}, "p")
    assert p.temperature == 0.001 and isinstance(p.momentum, float) and p.ks == [7] and p.scale is None
    with pytest.raises(ConfigError, match="invalid value 'x' for p.temperature: expected a number"):
        build_dataclass(Params, {"temperature": "x"}, "p")
    with pytest.raises(ConfigError, match="invalid value 1.5 for p.ks: expected an integer"):
        build_dataclass(Params, {"ks": [1.5]}, "p")


def test_a_default_outside_its_declared_range_is_refused_too():
    @dataclass
    class BadDefault:
        rate: Annotated[float, Range(gt=0)] = 0.0

    with pytest.raises(ConfigError, match="invalid value 0.0 for q.rate: expected a number > 0"):
        build_dataclass(BadDefault, {}, "q")


def test_nan_is_outside_every_range():
    with pytest.raises(ConfigError, match="p.temperature"):
        build_dataclass(Params, {"temperature": float("nan")}, "p")


def test_set_on_a_plugin_protocol_without_post_init_is_one_line_exit_2():
    @dataclass
    class CentroidParams:
        shrink: Annotated[float, Range(ge=0, le=1)] = 0.0

    class Centroid(Protocol):
        name = "declared-centroid"
        Params = CentroidParams
        description = "test protocol"

        def evaluate(self, ctx):
            return [Metric("top1", 1.0)]

    module = types.ModuleType("declared_plugin")
    module.register_protocols = hookimpl(lambda register: register(Centroid))
    plugins.register_plugin(module, "declared_plugin")
    result = CliRunner().invoke(cli, ["run", "-m", "random", "-p", "declared-centroid", "-d", "digits", "--dry-run",
                                      "--set", "declared-centroid.shrink=2"])
    assert result.exit_code == 2
    assert result.output.strip() == ("Error: invalid value 2.0 for declared-centroid.shrink: expected a number >= 0 "
                                     "and <= 1")
