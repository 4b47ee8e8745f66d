"""``sslbench new-plugin``: write a pip-installable plugin package that passes its own tests."""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from string import Template

from ..contract.errors import SSLBenchError

KINDS = ("method", "backbone", "dataset", "protocol")
#: method templates: a MomentumMethod (EMA target, queue) or a SiameseMethod (no momentum branch)
METHOD_TEMPLATES = ("momentum", "siamese")
TEMPLATES = Path(__file__).parent / "templates"


def module_name(name: str) -> str:
    """``my-method`` -> ``sslbench_my_method``."""
    return "sslbench_" + re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()


def class_name(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^0-9a-zA-Z]+", name) if part) or "Plugin"


def new_plugin(name: str, kind: str, directory: Path, template: str = "momentum") -> Path:
    """Write ``directory/sslbench-<name>/`` for a plugin of ``kind`` (a method from ``template``);
    refuses to overwrite."""
    if kind not in KINDS:
        raise SSLBenchError(f"unknown plugin kind {kind!r}: expected one of {', '.join(KINDS)}")
    if template not in METHOD_TEMPLATES:
        raise SSLBenchError(f"unknown method template {template!r}: expected one of {', '.join(METHOD_TEMPLATES)}")
    if not re.fullmatch(r"[a-z][a-z0-9-]*", name) or keyword.iskeyword(name):
        raise SSLBenchError(f"invalid plugin name {name!r}: expected lower-case letters, digits and '-'")
    root = directory / f"sslbench-{name}"
    if root.exists():
        raise SSLBenchError(f"{str(root)!r} already exists: choose another name or directory")
    module = module_name(name)
    values = {"name": name, "module": module, "cls": class_name(name), "kind": kind}
    files = {
        "pyproject.toml": "pyproject.toml.tmpl",
        f"{module}/__init__.py": f"{kind}_{template}.py.tmpl" if kind == "method" and template != "momentum"
        else f"{kind}.py.tmpl",
        f"tests/test_{module}.py": f"test_{kind}.py.tmpl",
        "README.md": "README.md.tmpl",
    }
    for target, source in files.items():
        path = root / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template((TEMPLATES / source).read_text()).substitute(values))
    return root
