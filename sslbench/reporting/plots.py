"""Figures from stored results and training logs (matplotlib, no display needed).

Figures are built on :class:`matplotlib.figure.Figure` directly, never through pyplot, so no GUI
backend is touched (saving uses the Agg canvas) and nothing global leaks between calls.
:func:`metric_curve` draws metrics indexed by a number in their name (``R@1/5/10``,
``top1@k20/k200``); mAP against tolerance for t-AmAP uses it once a spotting protocol stores one
row per tolerance (named like ``mAP@5s``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Sequence

import yaml

from ..errors import SSLBenchError
from .records import add_dimensions, flatten, label, latest, sort_key, varying_keys

IMAGE_FORMATS = ("png", "svg", "pdf")


def _figure(width: float = 6.0, height: float = 4.0) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def save(fig: Any, path: str | Path) -> Path:
    """Write ``fig`` to ``path``; the format comes from the extension (png, svg or pdf)."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in IMAGE_FORMATS:
        raise SSLBenchError(f"cannot write a plot to {str(path)!r}: expected a .png, .svg or .pdf file")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format=fmt)
    return path


def _pick(df: Any, column: str, wanted: str | None) -> str:
    values = sorted(set(df[column]))
    if wanted is not None:
        if wanted not in values:
            raise SSLBenchError(f"no results for {column} {wanted!r}: expected one of {', '.join(values) or '(none)'}")
        return wanted
    if len(values) != 1:
        raise SSLBenchError(f"several {column}s in the results ({', '.join(values)}): choose one with --{column}")
    return values[0]


def metric_vs_value(df: Any, x: str, protocol: str | None = None, metric: str | None = None,
                    by: str = "method") -> Any:
    """One line per ``by`` value: mean over seeds of one metric against config value ``x`` (e.g.
    ``sce.lambda``), with ±std error bars. Rows without ``x`` (an untrained baseline beside a
    ``moco.temperature`` sweep) are drawn as a dashed horizontal reference line."""
    if df.empty:
        raise SSLBenchError("no results to plot")
    df = latest(df)
    protocol = _pick(df, "protocol", protocol)
    df = df[df["protocol"] == protocol]
    metric = _pick(df, "metric", metric)
    df = add_dimensions(df[df["metric"] == metric], [x, by])
    higher = bool(df["higher_is_better"].iloc[0])
    present = [v for v in df[x] if v is not None and v == v]
    if not present:
        raise SSLBenchError(f"no result has a value for {x!r}: is it a config key such as moco.temperature?")
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)
    categories = sorted({label(v) for v in present}, key=lambda s: sort_key(s))
    fig = _figure()
    ax = fig.add_subplot()
    for group in sorted(set(map(label, df[by])), key=sort_key):
        part = df[[label(v) == group for v in df[by]]]
        has_x = [v is not None and v == v for v in part[x]]
        with_x, without = part[has_x], part[[not h for h in has_x]]
        if len(with_x):
            stats = with_x.assign(_x=[v if numeric else label(v) for v in with_x[x]]).groupby("_x")["value"]
            stats = stats.agg(["mean", "std"]).fillna(0.0)
            stats = stats.reindex(sorted(stats.index, key=sort_key))
            xs = list(stats.index) if numeric else [categories.index(c) for c in stats.index]
            ax.errorbar(xs, stats["mean"], yerr=stats["std"], marker="o", capsize=3, label=group)
        if len(without):
            line = ax.axhline(float(without["value"].mean()), linestyle="--", linewidth=1)
            line.set_label(f"{group} (no {x})")
    if not numeric:
        ax.set_xticks(range(len(categories)), categories)
    ax.set_xlabel(x)
    ax.set_ylabel(f"{protocol} {metric} ({'higher' if higher else 'lower'} is better)")
    ax.set_title(f"{protocol} {metric} against {x} (mean ± std over seeds)")
    ax.grid(True, alpha=0.3)
    _legend(fig, ax)
    return fig


#: ``top1@k20`` -> (top1, k, 20, ""); ``R@5`` -> (R, "", 5, ""); ``mAP@5s`` -> (mAP, "", 5, "s")
INDEXED_METRIC = re.compile(r"^(?P<name>[^@]+)@(?P<key>[A-Za-z]*)(?P<x>\d+(?:\.\d+)?)(?P<unit>[A-Za-z%]*)$")


def metric_curve(df: Any, protocol: str | None = None, name: str | None = None, by: str = "method") -> Any:
    """One line per ``by`` value over the metrics of one protocol that share a name and differ in
    a number (``R@1``, ``R@5``, ``R@10`` -> recall against N), mean ± std over seeds."""
    if df.empty:
        raise SSLBenchError("no results to plot")
    df = latest(df)
    protocol = _pick(df, "protocol", protocol)
    df = df[df["protocol"] == protocol]
    parsed = [INDEXED_METRIC.match(m) for m in df["metric"]]
    df = df.assign(_name=[m["name"] if m else None for m in parsed], _x=[float(m["x"]) if m else None for m in parsed])
    df = df[df["_name"].notna()]
    if df.empty:
        raise SSLBenchError(f"no metric of {protocol!r} is indexed by a number (like R@5 or top1@k20)")
    name = _pick(df.rename(columns={"_name": "name"}), "name", name)
    df = add_dimensions(df[df["_name"] == name], [by])
    match = next(m for m in parsed if m and m["name"] == name)
    fig = _figure()
    ax = fig.add_subplot()
    for group in sorted(set(map(label, df[by])), key=sort_key):
        stats = df[[label(v) == group for v in df[by]]].groupby("_x")["value"].agg(["mean", "std"]).fillna(0.0)
        ax.errorbar(stats.index, stats["mean"], yerr=stats["std"], marker="o", capsize=3, label=group)
    unit = f" ({match['unit']})" if match["unit"] else ""
    ax.set_xlabel((match["key"] or "N") + unit)
    ax.set_ylabel(f"{protocol} {name}")
    ax.set_title(f"{protocol} {name} against {match['key'] or 'N'}{unit} (mean ± std over seeds)")
    ax.grid(True, alpha=0.3)
    _legend(fig, ax)
    return fig


def read_log(run_dir: str | Path) -> list[dict[str, Any]]:
    """The per-epoch records of a pretraining folder's ``log.jsonl`` (bad lines skipped)."""
    path = Path(run_dir) / "log.jsonl"
    out = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and record.get("loss") is not None:
                out.append(record)
    return out


def pretrain_dirs(output_dir: str | Path, pattern: str = "*") -> list[Path]:
    """Pretraining folders under ``<output_dir>/pretrain`` whose name matches ``pattern`` and
    that logged at least one epoch."""
    root = Path(output_dir) / "pretrain"
    return sorted(d for d in root.glob(pattern) if d.is_dir() and read_log(d))


def _run_labels(run_dirs: Sequence[Path]) -> list[str]:
    configs = []
    for d in run_dirs:
        path = d / "config.yaml"
        try:
            configs.append(yaml.safe_load(path.read_text()) or {} if path.is_file() else {})
        except yaml.YAMLError:
            configs.append({})
    labels = []
    for d, config in zip(run_dirs, configs):
        # only what tells apart runs of the same method and dataset (presets differ between methods)
        peers = [c for c in configs if (c.get("method"), c.get("dataset")) == (config.get("method"), config.get("dataset"))]
        keys = [k for k in varying_keys(peers) if k not in ("method", "dataset")]
        flat = flatten(config)
        head = " ".join(str(config[k]) for k in ("method", "dataset") if k in config) or d.name
        extra = ", ".join(f"{k}={label(flat.get(k))}" for k in keys[:3])
        labels.append(f"{head} ({extra})" if extra else head)
    return labels


def _legend(fig: Any, ax: Any) -> None:
    """Inside the axes when the labels are short, else under them (never over the curves)."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    if max(map(len, labels)) <= 28 and len(labels) <= 6:
        ax.legend(fontsize="small")
    else:
        fig.legend(handles, labels, loc="outside lower center", fontsize="small", ncols=1 if len(labels) < 5 else 2)


def loss_curves(run_dirs: Sequence[str | Path], x: str = "step") -> Any:
    """Training loss of each pretraining folder against ``step`` or ``epoch``, labelled by
    method, dataset and the config values that differ between the folders."""
    run_dirs = [Path(d) for d in run_dirs]
    if not run_dirs:
        raise SSLBenchError("no pretraining logs to plot: expected <output>/pretrain/*/log.jsonl")
    if x not in ("step", "epoch"):
        raise SSLBenchError(f"invalid x axis {x!r}: expected step or epoch")
    fig = _figure()
    ax = fig.add_subplot()
    for name, d in sorted(zip(_run_labels(run_dirs), run_dirs), key=lambda pair: pair[0]):
        records = read_log(d)
        ax.plot([r.get(x, i + 1) for i, r in enumerate(records)], [r["loss"] for r in records], marker=".", label=name)
    ax.set_xlabel(x)
    ax.set_ylabel("training loss (epoch mean)")
    ax.set_title("Pretraining loss")
    ax.grid(True, alpha=0.3)
    _legend(fig, ax)
    return fig
