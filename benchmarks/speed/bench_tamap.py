"""Speed of sslbench's t-AmAP against the official SoccerNet evaluator, with an equality check.

Writes N synthetic full-length games (2 halves x 45 min, an event every ~80 s, several thousand
predictions per half, the edge cases of :mod:`sslbench.spotting.synthetic` included), then times,
for the tight and the loose metric, ``SoccerNet.Evaluation.ActionSpotting.evaluate`` and
:func:`sslbench.spotting.evaluate_folders` on the same folders (both read and parse the JSON
files), checks that every result key agrees, and prints the speed ratio and the machine.

    pip install SoccerNet
    python benchmarks/speed/bench_tamap.py [--games 50] [--predictions-per-half 4000] [--rounds 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _machine import describe  # noqa: E402


def max_difference(official: dict, ours: dict) -> float:
    from sslbench.spotting.tamap import CLASSES

    worst = 0.0
    for key, value in official.items():
        mine = ours[key]
        if isinstance(mine, dict):
            mine = [mine[name] for name in CLASSES]
        worst = max(worst, float(np.max(np.abs(np.asarray(value, dtype=float) - np.asarray(mine, dtype=float)))))
    return worst


def best_time(fn, repeat: int) -> tuple[float, float, object]:
    """(best wall-clock seconds, best CPU seconds of this process, last result) over ``repeat`` runs.
    CPU time is the steadier measure on a shared machine."""
    wall, cpu, result = float("inf"), float("inf"), None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--games", type=int, default=50)
    parser.add_argument("--predictions-per-half", type=int, default=4000)
    parser.add_argument("--event-period", type=float, default=80.0, help="mean seconds between events")
    parser.add_argument("--repeat", type=int, default=3, help="runs of sslbench's evaluator (best is kept)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of (official, sslbench x repeat); best kept")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    try:
        from SoccerNet.Evaluation.ActionSpotting import evaluate as official_evaluate
        from SoccerNet.Evaluation.utils import EVENT_DICTIONARY_V2
    except ImportError:
        print("the official evaluator is missing: pip install SoccerNet", file=sys.stderr)
        return 1
    from sslbench.spotting import tamap
    from sslbench.spotting.synthetic import synthetic_games, write_games
    from sslbench.spotting.tamap import evaluate_folders

    games = synthetic_games(args.seed, args.games, predictions_per_half=args.predictions_per_half,
                            event_period=args.event_period)
    n_events = sum(len(labels["annotations"]) for labels, _ in games.values())
    n_predictions = sum(len(predictions["predictions"]) for _, predictions in games.values())
    print(f"machine: {describe()}")
    print(f"data: {args.games} games of 2 x 45 min, {n_events} events ({n_events / args.games:.0f} per game), "
          f"{n_predictions} predictions ({n_predictions / args.games / 2:.0f} per half)")

    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        labels_dir, predictions_dir = os.path.join(tmp, "labels"), os.path.join(tmp, "predictions")
        write_games(labels_dir, predictions_dir, games)
        games_found = tamap.find_games(labels_dir)

        def read_all():
            labels = [tamap.parse_labels(json.loads(open(os.path.join(labels_dir, g, tamap.LABELS_FILE)).read()))
                      for g in games_found]
            predictions = [tamap.read_predictions(os.path.join(predictions_dir, g, tamap.PREDICTIONS_FILE))
                           for g in games_found]
            return labels, predictions

        for metric in ("tight", "loose"):
            def official():
                with contextlib.redirect_stderr(io.StringIO()):  # its progress bars
                    return official_evaluate(labels_dir, predictions_dir, dataset=None, metric=metric,
                                             EVENT_DICTIONARY=EVENT_DICTIONARY_V2)

            def ours():
                return evaluate_folders(labels_dir, predictions_dir, metric)

            # rounds alternate the two, so that a busy spell of the machine hits both
            wall_off = cpu_off = wall_ours = cpu_ours = float("inf")
            for _ in range(args.rounds):
                w, c, result_official = best_time(official, 1)
                wall_off, cpu_off = min(wall_off, w), min(cpu_off, c)
                w, c, result_ours = best_time(ours, args.repeat)
                wall_ours, cpu_ours = min(wall_ours, w), min(cpu_ours, c)
            diff = max_difference(result_official, result_ours)
            ok &= diff <= 1e-9
            print(f"{metric}: a_mAP {result_ours['a_mAP']:.4f}, max |difference| to the official {diff:.1e} "
                  f"{'(equal)' if diff <= 1e-9 else '(DIFFERENT)'}")
            print(f"  official {wall_off:7.3f} s wall {cpu_off:7.3f} s CPU | sslbench {wall_ours:6.3f} s wall "
                  f"{cpu_ours:6.3f} s CPU | ratio {wall_off / wall_ours:5.1f}x wall, {cpu_off / cpu_ours:5.1f}x CPU")
            # where sslbench's time goes, and what it is without msgspec (stdlib json)
            _, cpu_read, binned = best_time(read_all, args.repeat)
            _, cpu_metric, _ = best_time(lambda: tamap.evaluate_binned(*binned, metric), args.repeat)
            typed = tamap._typed_decoder
            tamap._typed_decoder = lambda: None
            try:
                _, cpu_stdlib, _ = best_time(ours, args.repeat)
            finally:
                tamap._typed_decoder = typed
            print(f"  sslbench CPU = reading and binning the files {cpu_read:.3f} s + metric {cpu_metric:.3f} s; "
                  f"without msgspec (json module) {cpu_stdlib:.3f} s, ratio {cpu_off / cpu_stdlib:.1f}x")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
