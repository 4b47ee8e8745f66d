"""The plugin API cannot drift from its docs: every hook spec has a reference section."""

import inspect
from pathlib import Path

from sslbench.contract import hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def _hooks():
    return [(n, f) for n, f in vars(hookspecs).items() if n.startswith("register_") and callable(f)]


def test_every_hook_spec_has_a_documented_heading_from_its_signature():
    text = DOCS.read_text()
    for name, fn in _hooks():
        params = ", ".join(inspect.signature(fn).parameters)
        assert f"### {name}({params})" in text, f"docs/plugins.md lacks a '### {name}({params})' section"


def test_every_hook_spec_has_a_docstring_with_its_parameters():
    for name, fn in _hooks():
        doc = inspect.getdoc(fn) or ""
        for param in inspect.signature(fn).parameters:
            assert f":param {param}:" in doc, f"hookspec {name} does not document :param {param}:"


def test_tutorial_example_is_the_example_plugin():
    text = DOCS.read_text()
    example = (DOCS.parents[1] / "examples" / "sslbench-byol" / "sslbench_byol" / "__init__.py").read_text()
    line = "return 2 - 2 * (online * target).sum(1).mean()"
    assert line in text and line in example
