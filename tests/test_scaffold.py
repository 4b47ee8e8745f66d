"""`sslbench new-plugin` writes packages that install in a fresh venv and pass their own tests."""

import os
import subprocess
import sys
import venv

import pytest
from click.testing import CliRunner

from sslbench.cli import cli
from sslbench.scaffold import KINDS


def test_scaffold_refuses_bad_names_and_overwrites(tmp_path):
    bad = CliRunner().invoke(cli, ["new-plugin", "Bad Name", "--dir", str(tmp_path)])
    assert bad.exit_code == 2 and "invalid plugin name" in bad.output
    assert CliRunner().invoke(cli, ["new-plugin", "ok", "--dir", str(tmp_path)]).exit_code == 0
    again = CliRunner().invoke(cli, ["new-plugin", "ok", "--dir", str(tmp_path)])
    assert again.exit_code == 2 and "already exists" in again.output


def test_generated_plugins_install_in_a_fresh_venv_and_pass_their_tests(tmp_path):
    for kind in KINDS:
        result = CliRunner().invoke(cli, ["new-plugin", f"my-{kind}", "--kind", kind, "--dir", str(tmp_path)])
        assert result.exit_code == 0, result.output
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True)  # torch & sslbench come from the base environment
    python = str(env_dir / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    pkgs = [str(tmp_path / f"sslbench-my-{kind}") for kind in KINDS]
    install = subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                              *sum((["-e", p] for p in pkgs), [])], capture_output=True, text=True, env=env,
                             timeout=600)
    assert install.returncode == 0, install.stderr
    tests = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            *[os.path.join(p, "tests") for p in pkgs]],
                           capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert tests.returncode == 0, tests.stdout[-3000:]
    run = subprocess.run([python, "-m", "sslbench.cli", "run", "--method", "my-method", "--protocol", "my-protocol",
                          "--dataset", "digits", "--set", "train.max_steps=2", "--set",
                          "model.backbone_options={width: 4}", "--no-progress", "-o", str(tmp_path / "out")],
                         capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith("my-method on digits") and "my-protocol top1" in run.stdout
    # the base environment does not see the venv's plugins
    assert "my-method" not in subprocess.run([sys.executable, "-m", "sslbench.cli", "list", "methods"],
                                             capture_output=True, text=True).stdout
