"""A venv for tests that sees the packages of the interpreter running them, not the base interpreter's.

``venv.create(system_site_packages=True)`` inside a project venv links the *base* interpreter's
site-packages (``sys._base_executable``): a fresh ``python -m venv`` would then test against
whatever old setuptools, torch or nothing the base has.
"""

import importlib.util
import os
import re
import subprocess
import sys
import venv
from pathlib import Path


def purelib(python: str) -> Path:
    """Where ``python`` installs pure-Python packages."""
    return Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())


def _site_dirs() -> list[str]:
    """The running interpreter's site-packages folders (a venv's own, not its base interpreter's)."""
    return list(dict.fromkeys(p for p in sys.path if os.path.basename(p) in ("site-packages", "dist-packages")
                              and os.path.isdir(p)))


def venv_on_this_environment(env_dir: Path) -> str:
    """A fresh venv at ``env_dir`` that also sees the site-packages of the interpreter running the
    tests (torch, sslbench, pip, setuptools); returns its python."""
    venv.create(env_dir, with_pip=False)
    python = str(env_dir / ("Scripts" if os.name == "nt" else "bin") / "python")
    lines = "; ".join(f"site.addsitedir({d!r})" for d in _site_dirs())  # also runs their .pth (editable installs)
    (purelib(python) / "_running_environment.pth").write_text(f"import site; {lines}\n")
    return python


def builds_without_isolation() -> bool:
    """Whether this environment's setuptools builds a wheel alone (>= 70.1, or older with ``wheel``):
    else pip builds in isolation, fetching setuptools as the project's own install did."""
    spec = importlib.util.find_spec("setuptools")
    if spec is None:
        return False
    from importlib.metadata import version

    major, minor = (int(x) for x in re.findall(r"\d+", version("setuptools"))[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None
