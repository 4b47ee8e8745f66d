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


# --------------------------------------------------------------------------- every public name documented


def _documented(name: str, text: str) -> bool:
    """``name`` appears in code of the docs: a fenced block or a `code span` (alone or as part of a
    call or a path)."""
    import re

    fenced = re.findall(r"```.*?```", text, re.S)
    spans = re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    word = re.compile(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])")
    return any(word.search(code) for code in [*fenced, *spans])


def _public_attributes(cls: type) -> list[str]:
    import dataclasses

    names = [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else []
    return [n for n in dict.fromkeys([*names, *vars(cls)]) if not n.startswith("_")]


def test_every_public_field_and_method_of_the_plugin_classes_is_documented():
    from sslbench import DatasetSpec, Method, Metric, MomentumMethod, Protocol, SiameseMethod
    from sslbench.contract.augmentations import AugSpec
    from sslbench.engine.evaluation import EvalContext

    text = DOCS.read_text()
    missing = [f"{cls.__name__}.{name}" for cls in (Method, MomentumMethod, SiameseMethod, DatasetSpec, Protocol,
                                                    Metric, AugSpec, EvalContext)
               for name in _public_attributes(cls) if not _documented(name, text)]
    assert not missing, f"docs/plugins.md does not document {', '.join(missing)}"


def test_every_name_a_plugin_module_exports_is_documented():
    import sslbench
    import sslbench.testing
    from sslbench.engine import checkpoint, heads

    text = DOCS.read_text()
    missing = [f"{module.__name__}.{name}" for module in (sslbench, sslbench.testing, heads, checkpoint)
               for name in module.__all__ if not _documented(name, text)]
    assert not missing, f"docs/plugins.md does not document {', '.join(missing)}"


def test_every_named_augmentation_is_documented():
    from sslbench.contract.augmentations import AUGMENTATIONS

    text = DOCS.read_text()
    assert [n for n in AUGMENTATIONS if not _documented(n, text)] == []


def test_the_meta_test_notices_an_undocumented_name():
    assert _documented("pretrain_split", "the `pretrain_split` field") and not _documented("split", "`pretrain_split`")


def test_simclr_tutorial_is_the_example_plugin_in_under_60_lines():
    import re

    text = DOCS.read_text()
    example = (DOCS.parents[1] / "examples" / "sslbench-simclr" / "sslbench_simclr" / "__init__.py").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert example in blocks, "the SimCLR tutorial's code is not examples/sslbench-simclr/sslbench_simclr/__init__.py"
    assert len(example.splitlines()) < 60
