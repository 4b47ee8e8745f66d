"""The layout keeps its promises (docs/design.md): no import cycles, a plugin contract that imports
nothing heavy, the layers of pyproject.toml's import-linter contracts, and old import paths that
still work for one release but are used nowhere in the repository."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: old module -> where it lives now (issue 16); each old path is an alias that warns
MOVED = {
    "sslbench.hookspecs": "sslbench.contract.hookspecs",
    "sslbench.registry": "sslbench.contract.registry",
    "sslbench.plugins": "sslbench.contract.loading",
    "sslbench.errors": "sslbench.contract.errors",
    "sslbench.protocol": "sslbench.contract.protocol",
    "sslbench.transfer_datasets": "sslbench.image.transfer",
    "sslbench.voc": "sslbench.image.voc",
    "sslbench.coco": "sslbench.image.coco",
    "sslbench.backbones": "sslbench.image.backbones",
    "sslbench.engine.augment": "sslbench.image.augment",
    "sslbench.contracts": "sslbench.engine.plugin_checks",
    "sslbench.augment": "sslbench.contract.augmentations",
    "sslbench.datasets": "sslbench.image.readers",
}

#: cycles allowed to remain (none: the GPU path shares its item plumbing with views through image.items)
KNOWN_CYCLES: list[set[str]] = []


def _import_graph() -> dict[str, set[str]]:
    """sslbench module -> the sslbench modules it imports, at module level or inside functions
    (an import in a function still runs; only ``if TYPE_CHECKING:`` blocks are left out)."""
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("sslbench", exclude_type_checking_imports=True, cache_dir=None)
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def test_cycle_finder_reports_a_two_module_cycle_and_ignores_a_chain():
    graph = {"a": {"b"}, "b": {"a", "c"}, "c": set(), "d": {"c"}}
    assert _cycles(graph) == [{"a", "b"}]


def test_no_module_imports_one_that_imports_it_back():
    graph = _import_graph()
    new = [sorted(c) for c in _cycles(graph) if c not in KNOWN_CYCLES]
    described = ["; ".join(f"{a} -> {b}" for a in c for b in sorted(graph[a]) if b in c) for c in new]
    assert not new, "import cycles (function-level imports count):\n" + "\n".join(described)


def _fresh_python(code: str) -> str:
    """What ``code`` prints in a new interpreter (nothing imported before it)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_the_plugin_contract_loads_without_torch_numpy_or_pandas():
    code = ("import sys\n"
            "import sslbench.contract.loading, sslbench.contract.hookspecs, sslbench.contract.registry\n"
            "import sslbench.contract.protocol, sslbench.contract.params, sslbench.contract.modality\n"
            "import sslbench.contract.errors, sslbench.method, sslbench.contract.dataset\n"
            "from sslbench import hookimpl, Method, MomentumMethod, Protocol, Metric, DatasetSpec, ConfigError\n"
            "print(sorted(m for m in ('torch', 'numpy', 'pandas', 'sklearn') if m in sys.modules))\n")
    assert _fresh_python(code) == "[]"


def test_import_linter_contracts_hold():
    # the running interpreter's import-linter (a venv's lint-imports script may not be on PATH)
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_import_path_warns_and_is_the_moved_module(old, monkeypatch):
    monkeypatch.delitem(sys.modules, old, raising=False)  # an earlier import would not warn again
    with pytest.warns(DeprecationWarning, match=MOVED[old].replace(".", r"\.")):
        module = importlib.import_module(old)
    assert module is importlib.import_module(MOVED[old])


#: an import statement that may name an old module (the exact check parses the file)
_MENTIONS_OLD = re.compile(r"^\s*(from|import)\s.*(?<!contract\.)\b(" + "|".join(m.rsplit(".", 1)[1] for m in MOVED) + r")\b",
                          re.M)


def _imported_modules(path: Path) -> list[tuple[str, int]]:
    """(absolute module name, line) of every import statement in a Python file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    parts = path.relative_to(REPO).with_suffix("").parts
    package = parts[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            found.append((module, node.lineno))
            found += [(f"{module}.{alias.name}", node.lineno) for alias in node.names]
    return found


def test_no_file_in_the_repository_imports_an_old_path():
    shims = {REPO / (old.replace(".", "/") + ".py") for old in MOVED}
    offenders = []
    for folder in ("sslbench", "plugins", "examples", "tests", "benchmarks"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path in shims:
                continue
            if _MENTIONS_OLD.search(path.read_text(encoding="utf-8")):  # parse only the candidates: fast
                offenders += [f"{path.relative_to(REPO)}:{line}: {name}" for name, line in _imported_modules(path)
                              if name in MOVED]
    for template in sorted((REPO / "sslbench" / "scaffold").rglob("*.tmpl")):
        for line_no, line in enumerate(template.read_text(encoding="utf-8").splitlines(), 1):
            words = line.replace(",", " ").split()
            if words[:1] in (["from"], ["import"]) and len(words) > 1 and words[1] in MOVED:
                offenders.append(f"{template.relative_to(REPO)}:{line_no}: {words[1]}")
    assert not offenders, "old import paths (use sslbench.contract.*):\n" + "\n".join(offenders)


def _design() -> str:
    return (REPO / "docs" / "design.md").read_text(encoding="utf-8")


def test_design_doc_names_only_files_that_exist():
    named = set(re.findall(r"`((?:sslbench|plugins|tests|benchmarks|examples)/[^`\s]*)`", _design()))
    missing = []
    for path in sorted(named):
        for choice in re.findall(r"\{([^}]*)\}", path)[:1]:  # plugins/{moco,sce}/x -> each of them
            expanded = [path.replace("{" + choice + "}", part) for part in choice.split(",")]
            break
        else:
            expanded = [path]
        missing += [p for p in expanded if not any(REPO.glob(p.rstrip("/")))]
    assert not missing, f"docs/design.md names paths that do not exist: {missing}"


def test_design_doc_shows_every_layer_of_the_import_contract():
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    layers = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")["layers"]
    modules = {m.strip() for layer in layers for m in re.split(r"[|:]", layer)}
    old_paths = {old.rsplit(".", 1)[1] for old in MOVED}  # aliases that warn: not a layer of their own
    text = _design()
    assert not [m for m in sorted(modules - old_paths) if f"`{m}`" not in text]


def test_no_file_cites_the_spec_digest_that_is_not_in_the_repository():
    needle = "\x53PEC \N{SECTION SIGN}"  # escaped: this file neither cites it nor matches a grep for it
    files = [REPO / "README.md"] + [p for folder in ("sslbench", "plugins", "examples", "tests", "benchmarks", "docs")
                                    for p in sorted((REPO / folder).rglob("*"))
                                    if p.suffix in (".py", ".md", ".yaml", ".tmpl")]
    citing = [f"{p.relative_to(REPO)}:{n}" for p in files
              for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if needle in line]
    assert not citing, f"cite the thesis (section, equation, table) or docs/design.md instead: {citing}"


def test_the_old_data_module_warns_and_gives_the_spec_and_the_split_checks(monkeypatch):
    monkeypatch.delitem(sys.modules, "sslbench.data", raising=False)
    with pytest.warns(DeprecationWarning, match=r"sslbench\.contract\.dataset"):
        old = importlib.import_module("sslbench.data")
    from sslbench.contract.dataset import DatasetSpec
    from sslbench.engine.splits import check_dataset, open_split

    assert (old.DatasetSpec, old.open_split, old.check_dataset) == (DatasetSpec, open_split, check_dataset)


def test_the_crop_rule_in_pretraining_identities_keeps_its_name_below_the_image_package():
    import sslbench.image
    from sslbench.config import RunConfig
    from sslbench.contract.augmentations import CROP_PIPELINE

    assert sslbench.image.PIPELINE == CROP_PIPELINE == "torchvision-rrc-full-image"  # renaming it changes every hash
    assert RunConfig("random", "digits", ["knn"]).pretrain_dict()["data"]["crops"] == CROP_PIPELINE


def test_the_engine_method_classes_keep_their_public_paths_and_load_the_engine_only_when_used():
    code = ("import sys\n"
            "import sslbench.method\n"
            "before = sorted(m for m in sys.modules if m.startswith('sslbench.engine'))\n"
            "from sslbench.method import MomentumMethod, SiameseMethod\n"
            "import sslbench, sslbench.engine.momentum_method as mm, sslbench.engine.siamese_method as sm\n"
            "same = MomentumMethod is sslbench.MomentumMethod is mm.MomentumMethod and "
            "SiameseMethod is sslbench.SiameseMethod is sm.SiameseMethod\n"
            "print(before, same, 'torch' in sys.modules)\n")
    assert _fresh_python(code) == "[] True False"


def test_the_old_datasets_path_still_gives_the_folder_helpers_the_video_readers_share(monkeypatch):
    import sslbench.folders as folders
    import sslbench.video.datasets as video

    monkeypatch.delitem(sys.modules, "sslbench.datasets", raising=False)
    with pytest.warns(DeprecationWarning, match=r"sslbench\.image\.readers"):
        old = importlib.import_module("sslbench.datasets")  # a plugin's `from sslbench.datasets import ...`
    from sslbench.engine.data import TensorImageDataset

    helpers = ("require_root", "split_folder", "train_classes")
    assert [getattr(old, name) for name in helpers] == [getattr(folders, name) for name in helpers]
    assert [getattr(video, name) for name in helpers] == [getattr(folders, name) for name in helpers]
    assert old.TensorImageDataset is TensorImageDataset


def test_the_old_view_maker_path_warns_and_is_the_image_view_maker():
    import sslbench.engine.data as data
    from sslbench.image.views import ViewMaker

    with pytest.warns(DeprecationWarning, match=r"sslbench\.image\.views\.ViewMaker"):
        assert data.ViewMaker is ViewMaker
