"""No file read from a data root or given as a checkpoint runs code; refusing one is one line."""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers import repo_root

from sslbench import safe_pickle
from sslbench.cli import cli
from sslbench.image.readers import load_cifar
from sslbench.contract.errors import DatasetError


class _Touch:
    """Unpickling this runs ``touch <marker>``: what a hostile data file would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _batch(n: int = 4, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), "labels": [int(x) for x in rng.integers(0, 10, n)]}


def _cifar10(root: Path, first_batch: object) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        obj = first_batch if name == "data_batch_1" else _batch()
        (folder / name).write_bytes(pickle.dumps(obj, protocol=2))  # the protocol of the real files
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"c{i}" for i in range(10)]}, protocol=2))
    return folder / "data_batch_1"


@pytest.mark.parametrize("hostile", [
    lambda marker: _Touch(marker),
    lambda marker: {**_batch(), "labels": _Touch(marker)},  # nested in an otherwise valid batch
    lambda marker: {**_batch(), "filenames": np.array([_Touch(marker)], dtype=object)},  # inside an array
])
def test_hostile_cifar_batch_never_runs_and_fails_in_one_line(tmp_path, hostile):
    marker = tmp_path / "pwned"
    batch = _cifar10(tmp_path / "data", hostile(marker))
    with pytest.raises(DatasetError) as caught:
        load_cifar(str(tmp_path / "data"), "train", 10)
    message = str(caught.value)
    assert not marker.exists()
    assert str(batch) in message and "\n" not in message
    assert re.search(r"refers to (posix|os|nt)\.system", message), message


def test_hostile_cifar_root_from_the_cli_is_one_line_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    _cifar10(tmp_path / "data", _Touch(marker))
    result = CliRunner().invoke(cli, ["run", "-m", "random", "-p", "knn", "-d", "cifar10", "--data-root",
                                      str(tmp_path / "data"), "-o", str(tmp_path / "out"), "--backbone", "convnet-small",
                                      "--set", "model.backbone_options={width: 4}", "--no-progress"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot read CIFAR batch"), result.stderr[-2000:]
    assert not marker.exists()


def test_cifar_batches_written_by_numpy_1_and_python_2_still_load(tmp_path):
    batch = _batch(6, seed=3)
    data = pickle.dumps(batch, protocol=2)
    old = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")  # numpy 1's module name
    assert old != data
    assert np.array_equal(pickle.loads(old)["data"], batch["data"])  # still a valid numpy 1 pickle
    for blob in (data, old, pickle.dumps(batch, protocol=4), pickle.dumps(batch, protocol=5)):
        loaded = safe_pickle.load_file(__import__("io").BytesIO(blob), encoding="latin1")
        assert np.array_equal(loaded["data"], batch["data"]) and loaded["labels"] == batch["labels"]


def test_numpy_scalars_and_bytes_load_but_other_codecs_are_refused():
    import io

    value = {"labels": [np.int64(3)], "name": b"batch 1", "shape": (2, 3)}
    assert safe_pickle.load_file(io.BytesIO(pickle.dumps(value, protocol=2))) == value
    rot13 = b"\x80\x02c_codecs\nencode\nq\x00X\x03\x00\x00\x00abcq\x01X\x05\x00\x00\x00rot13q\x02\x86q\x03Rq\x04."
    with pytest.raises(pickle.UnpicklingError, match="codec"):
        safe_pickle.load_file(io.BytesIO(rot13))


def test_random_bytes_checkpoint_is_one_line_without_torchs_unsafe_advice(tmp_path):
    path = tmp_path / "weights.pt"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    result = CliRunner().invoke(cli, ["run", "-m", "random", "-p", "knn", "-d", "digits", "--checkpoint", str(path),
                                      "-o", str(tmp_path / "out"), "--no-progress"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: cannot load checkpoint {str(path)!r}"), result.stderr
    assert "weights_only" not in lines[0] and "trusted source" not in lines[0]


def test_hostile_checkpoint_never_runs(tmp_path):
    from sslbench.engine import checkpoint
    from sslbench.contract.errors import SSLBenchError

    marker = tmp_path / "pwned"
    path = tmp_path / "backbone.pt"
    path.write_bytes(pickle.dumps({"backbone": _Touch(marker)}, protocol=2))
    with pytest.raises(SSLBenchError, match="cannot load") as caught:
        checkpoint.load(path)
    assert not marker.exists()
    assert "weights_only=False" not in str(caught.value) and "\n" not in str(caught.value)
    torch.save({"w": torch.ones(2)}, tmp_path / "fine.pt")
    assert torch.equal(checkpoint.load(tmp_path / "fine.pt")["w"], torch.ones(2))


def _python_files() -> list[Path]:
    root = repo_root()
    return [p for folder in ("sslbench", "plugins", "examples", "benchmarks") for p in (root / folder).rglob("*.py")]


def test_every_unpickling_in_the_project_is_restricted():
    """Audit: pickle/torch.load only in the two modules that restrict them; numpy never unpickles."""
    allowed = {"sslbench/safe_pickle.py": r"\bUnpickler\(", "sslbench/engine/checkpoint.py": r"torch\.load\("}
    offenders = []
    for path in _python_files():
        rel = path.relative_to(repo_root()).as_posix()
        text = path.read_text(encoding="utf-8")
        for pattern in (r"\bpickle\.loads?\(", r"torch\.load\(", r"\bUnpickler\(", r"allow_pickle\s*=\s*True",
                        r"weights_only\s*=\s*False", r"read_pickle\(", r"torch\.jit\.load\("):
            for match in re.finditer(pattern, text):
                if allowed.get(rel) == pattern:
                    continue
                line = text[: match.start()].count("\n") + 1
                if text.splitlines()[line - 1].lstrip().startswith(("#", '"""')) or "``" in text.splitlines()[line - 1]:
                    continue  # documentation of the rule, not a call
                offenders.append(f"{rel}:{line}: {match.group(0)}")
    assert offenders == []
    checkpoint_text = (repo_root() / "sslbench/engine/checkpoint.py").read_text()
    assert all("weights_only=True" in call for call in re.findall(r"torch\.load\([^)]*\)", checkpoint_text))
