"""P7: peak memory of kNN on a 1.28M x 2048 float32 bank (ImageNet-sized) streamed from disk.

Writes the bank as a ``.npy`` file the way the feature cache does (10.5 GB at full size), then
runs sslbench's kNN over it, memory-mapped, in a child process whose peak resident set size is
read from the kernel. Prints the peak RSS, the ratio to the bank's size on disk (what loading it
would cost) and the time. Goal: peak RSS < 2 GB. ``--rows`` shrinks the bank for a quick check.

    python benchmarks/speed/bench_knn_memory.py [--rows 1281167] [--dim 2048] [--queries 256]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

CHILD = r"""
import json, resource, sys, time
import numpy as np, torch
from sslbench.protocols.knn import knn_predict
path, labels_path, queries, chunk = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
bank = np.load(path, mmap_mode="r")
labels = np.load(labels_path)
q = torch.from_numpy(np.random.default_rng(1).standard_normal((queries, bank.shape[1]), dtype=np.float32))
start = time.perf_counter()
preds = knn_predict(q, bank, labels, 1000, [20, 200], 0.07, query_chunk=queries, bank_chunk=chunk)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
print(json.dumps({"seconds": time.perf_counter() - start, "peak_rss_kb": int(hwm.split()[1]),
                  "predicted": int(preds[20].numel())}))
"""


def write_bank(path: Path, rows: int, dim: int, chunk: int = 65536) -> None:
    """Write the bank with the feature cache's own streaming writer."""
    import numpy as np

    from sslbench.engine.evaluation import _StreamedArray

    rng = np.random.default_rng(0)
    sink = _StreamedArray(path, (rows, dim), np.float32)
    for s in range(0, rows, chunk):
        sink.write(rng.standard_normal((min(chunk, rows - s), dim), dtype=np.float32))
    sink.commit()


def main() -> None:
    import numpy as np

    from _machine import describe

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_281_167)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--queries", type=int, default=256)
    parser.add_argument("--bank-chunk", type=int, default=32768)
    parser.add_argument("--dir", default=None, help="where to write the bank (default: a temp folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        bank, labels = Path(tmp) / "bank.npy", Path(tmp) / "labels.npy"
        t0 = time.perf_counter()
        write_bank(bank, args.rows, args.dim)
        np.save(labels, np.random.default_rng(2).integers(0, 1000, args.rows))
        written = time.perf_counter() - t0
        proc = subprocess.run([sys.executable, "-c", CHILD, str(bank), str(labels), str(args.queries),
                               str(args.bank_chunk)], capture_output=True, text=True, check=True)
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        size_gb = bank.stat().st_size / 1e9
    rss_gb = result["peak_rss_kb"] * 1024 / 1e9
    print(f"machine: {describe()}")
    print(f"P7 kNN memory: bank {args.rows:,} x {args.dim} float32 = {size_gb:.2f} GB on disk (written in "
          f"{written:.0f} s), {args.queries} queries, k = 20 and 200, bank chunks of {args.bank_chunk:,} rows")
    print(f"  peak RSS {rss_gb:.2f} GB | ratio peak RSS / bank size = {rss_gb / size_gb:.3f} | kNN "
          f"{result['seconds']:.0f} s (goal: peak RSS < 2 GB)")


if __name__ == "__main__":
    main()
