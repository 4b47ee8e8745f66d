"""P9: start-up — seconds from launching ``sslbench run`` to the end of its first training step
(digits, MoCo, the bundled CPU demo), and to the end of ``sslbench --help``.

Each figure is the median of ``--rounds`` fresh processes, measured against the floor measured
in the same run: ``python -c "import torch"`` for the run (no training step can start before
torch is imported) and ``python -c "import click"`` for ``--help``. The first step's end is read
from the child's ``time.monotonic()`` (one clock for every process on Linux), printed by a
wrapper around :meth:`sslbench.engine.steptime.StepTimer.step_done` (which then ends the process).
Goals (issue 17): <= 2 s to the first step, < 0.5 s for ``--help``, on a quiet machine; the load
average and each process's CPU time (user + system) are printed because a loaded machine
stretches wall-clock figures.

    python benchmarks/speed/bench_startup.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _machine import describe

FIRST_STEP = r"""
import os, sys, time
import sslbench.engine.steptime as steptime
def step_done(self, images):
    print(f"FIRST_STEP {time.monotonic():.6f}", file=sys.stderr, flush=True)
    os._exit(0)  # the process ends with its first step: its CPU time is the start-up's
steptime.StepTimer.step_done = step_done
sys.argv = ["sslbench", *sys.argv[1:]]
from sslbench.cli import main
main()
"""


CPU: dict[str, list[float]] = {}


def _elapsed(cmd: list[str], marker: str | None = None, name: str = "") -> float:
    """Seconds from launching ``cmd`` to its exit, or to the monotonic time it prints after ``marker``;
    the child's CPU time (user + system, less sensitive to the machine's load) goes to ``CPU[name]``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    end = time.monotonic()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.setdefault(name, []).append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed:\n{proc.stderr[-2000:]}")
    if marker is None:
        return end - start
    line = next(line for line in proc.stderr.splitlines() if line.startswith(marker))
    return float(line.split()[1]) - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    py = sys.executable
    times: dict[str, list[float]] = {"torch": [], "run": [], "click": [], "help": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):  # alternate the sides, so that the machine's load hits both
            out = Path(tmp) / f"run{r}"
            times["torch"].append(_elapsed([py, "-c", "import torch"], name="torch"))
            times["run"].append(_elapsed([py, "-c", FIRST_STEP, "run", "-m", "moco", "-d", "digits", "-p", "knn",
                                          "--set", "train.max_steps=1", "--no-progress", "-o", str(out)],
                                         "FIRST_STEP", name="run"))
            times["click"].append(_elapsed([py, "-c", "import click"], name="click"))
            times["help"].append(_elapsed([py, "-m", "sslbench.cli", "--help"], name="help"))
    med = {k: statistics.median(v) for k, v in times.items()}
    cpu = {k: statistics.median(v) for k, v in CPU.items()}
    print(describe())
    print(f"P9 first training step (digits, moco): {med['run']:.2f} s median of {args.rounds} "
          f"(rounds {min(times['run']):.2f}-{max(times['run']):.2f}); import torch alone {med['torch']:.2f} s "
          f"= {med['run'] / med['torch']:.2f}x the floor; goal <= 2 s; CPU time {cpu['run']:.2f} s "
          f"(import torch {cpu['torch']:.2f} s)")
    print(f"P9 sslbench --help: {med['help']:.2f} s median (rounds {min(times['help']):.2f}-{max(times['help']):.2f}); "
          f"import click alone {med['click']:.2f} s = {med['help'] / med['click']:.2f}x the floor; goal < 0.5 s; "
          f"CPU time {cpu['help']:.2f} s (import click {cpu['click']:.2f} s)")


if __name__ == "__main__":
    main()
