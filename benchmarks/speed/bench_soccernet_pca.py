"""SoccerNet PCA (``sslbench soccernet-pca``, thesis 6.4.1: 8,576-d Baidu features to 512) at both
ends: a few games (952 vectors) against scikit-learn's PCA on the bank held in memory, and a
larger bank streamed through the scatter path, whose rate and peak memory say what the train
split of the 500-game bank (about 1.6 M of its 2.7 M vectors) costs.

Each side runs in a fresh process (its peak resident memory is its own, ``ru_maxrss``).

    python benchmarks/speed/bench_soccernet_pca.py [--dims 8576] [--few 952] [--many 16384]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _machine import describe

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import numpy as np
root, side, dim = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
files = sorted(root.rglob("*_feat.npy"))
start = time.perf_counter()
solver = [0.0]
if side == "sslbench":
    import scipy.linalg
    from sslbench.spotting.pca import fit_pca
    eigh = scipy.linalg.eigh
    def timed(*args, **kwargs):
        t = time.perf_counter()
        try:
            return eigh(*args, **kwargs)
        finally:
            solver[0] += time.perf_counter() - t
    scipy.linalg.eigh = timed
    mean, components = fit_pca(files, dim)
else:
    from sklearn.decomposition import PCA
    bank = np.concatenate([np.load(f) for f in files]).astype(np.float64)
    model = PCA(dim, svd_solver="full").fit(bank)
    mean, components = model.mean_, model.components_
seconds = time.perf_counter() - start
np.save(root / f"{side}.npy", components)
print(json.dumps({"seconds": seconds, "solver": solver[0], "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""


def write_bank(root: Path, vectors: int, dims: int, seed: int = 0) -> None:
    """Halves of 476 vectors (two 45-min halves at 1 fps is 5,400; 476 keeps files small) with a decaying spectrum."""
    rng = np.random.default_rng(seed)
    scale = np.exp(-np.arange(dims) / 300.0).astype(np.float32)
    for k, start in enumerate(range(0, vectors, 476)):
        n = min(476, vectors - start)
        folder = root / "train" / "league" / "season" / f"game{k // 2}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "Labels-v2.json").write_text("{}")
        np.save(folder / f"{k % 2 + 1}_feat.npy", rng.standard_normal((n, dims), dtype=np.float32) * scale)


def run(root: Path, side: str, dim: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(root), side, str(dim)], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, default=8576)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--few", type=int, default=952)
    parser.add_argument("--many", type=int, default=16384)
    args = parser.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory() as tmp:
        few = Path(tmp) / "few"
        write_bank(few, args.few, args.dims)
        ours, theirs = run(few, "sslbench", args.dim), run(few, "sklearn", args.dim)
        a, b = np.load(few / "sslbench.npy"), np.load(few / "sklearn.npy")
        cos = np.abs(np.sum(a * b, axis=1))
        print(f"few games ({args.few} x {args.dims} -> {args.dim}): sslbench {ours['seconds']:.1f} s, peak "
              f"{ours['peak_gb']:.2f} GB; scikit-learn PCA(full) on the bank in memory {theirs['seconds']:.1f} s, peak "
              f"{theirs['peak_gb']:.2f} GB = {theirs['seconds'] / ours['seconds']:.2f}x the time, "
              f"{theirs['peak_gb'] / ours['peak_gb']:.2f}x the memory; axes agree (|cos| min {cos.min():.6f})")
        many = Path(tmp) / "many"
        write_bank(many, args.many, args.dims)
        big = run(many, "sslbench", args.dim)
        rate = args.many / (big["seconds"] - big["solver"])
        print(f"streamed bank ({args.many} x {args.dims} -> {args.dim}, scatter path): {big['seconds']:.1f} s "
              f"({big['solver']:.1f} s of it the top-{args.dim} eigensolver, once per fit), peak {big['peak_gb']:.2f} GB; "
              f"{rate:.0f} vectors/s accumulated: the 500-game train split (~1.6 M vectors) would take "
              f"~{(1.6e6 / rate + big['solver']) / 3600:.1f} h here in the same bounded memory")
