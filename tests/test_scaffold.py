"""`sslbench new-plugin` writes packages that install in a fresh venv and pass their own tests."""

import os
import subprocess
import sys

import pytest

from click.testing import CliRunner

from sslbench.cli import cli
from sslbench.scaffold import KINDS, new_plugin

from nested_venv import builds_without_isolation, purelib, venv_on_this_environment


def test_scaffold_refuses_bad_names_and_overwrites(tmp_path, plugin_commands):
    bad = CliRunner().invoke(cli, ["new-plugin", "Bad Name", "--dir", str(tmp_path)])
    assert bad.exit_code == 2 and "invalid plugin name" in bad.output
    assert CliRunner().invoke(cli, ["new-plugin", "ok", "--dir", str(tmp_path)]).exit_code == 0
    again = CliRunner().invoke(cli, ["new-plugin", "ok", "--dir", str(tmp_path)])
    assert again.exit_code == 2 and "already exists" in again.output


def test_new_plugin_writes_a_siamese_method_from_its_template(tmp_path, plugin_commands):
    result = CliRunner().invoke(cli, ["new-plugin", "contrast", "--template", "siamese", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    source = (tmp_path / "sslbench-contrast" / "sslbench_contrast" / "__init__.py").read_text()
    assert "class Contrast(SiameseMethod):" in source and "Range(gt=0)" in source and "queue" not in source
    bad = CliRunner().invoke(cli, ["new-plugin", "other", "--template", "queue", "--dir", str(tmp_path)])
    assert bad.exit_code == 2 and "'queue' is not one of 'momentum', 'siamese'" in bad.output


def test_a_venv_made_inside_a_venv_sees_the_outer_venvs_packages_not_the_base_interpreters(tmp_path):
    outer = venv_on_this_environment(tmp_path / "outer")  # stands for a fresh project venv
    (purelib(outer) / "only_in_the_outer_venv.py").write_text("VALUE = 1\n")
    script = ("import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); import subprocess; "
              "from nested_venv import venv_on_this_environment as make; "
              "inner = make(Path(sys.argv[2])); "
              "sys.exit(subprocess.run([inner, '-c', 'import only_in_the_outer_venv']).returncode)")
    result = subprocess.run([outer, "-c", script, os.path.dirname(__file__), str(tmp_path / "inner")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.slow  # long end-to-end: `python -m pytest -m slow`
def test_generated_plugins_install_in_a_fresh_venv_and_pass_their_tests(tmp_path):
    for kind in KINDS:
        new_plugin(f"my-{kind}", kind, tmp_path)
    new_plugin("my-siamese", "method", tmp_path, template="siamese")
    python = venv_on_this_environment(tmp_path / "venv")  # torch & sslbench come from this environment
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    pkgs = [str(tmp_path / f"sslbench-my-{kind}") for kind in (*KINDS, "siamese")]
    isolation = ["--no-build-isolation"] if builds_without_isolation() else []
    install = subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", *isolation,
                              *sum((["-e", p] for p in pkgs), [])], capture_output=True, text=True, env=env,
                             timeout=600)
    assert install.returncode == 0, install.stderr
    tests = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            *[os.path.join(p, "tests") for p in pkgs]],
                           capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert tests.returncode == 0, tests.stdout[-3000:]
    run = subprocess.run([python, "-m", "sslbench.cli", "run", "--method", "my-siamese", "--protocol", "my-protocol",
                          "--dataset", "digits", "--set", "train.max_steps=2", "--set",
                          "model.backbone_options={width: 4}", "--no-progress", "-o", str(tmp_path / "out")],
                         capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith("my-siamese on digits") and "my-protocol top1" in run.stdout
    # the base environment does not see the venv's plugins
    assert "my-method" not in subprocess.run([sys.executable, "-m", "sslbench.cli", "list", "methods"],
                                             capture_output=True, text=True).stdout
