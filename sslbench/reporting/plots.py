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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import yaml

from ..atomic import atomic_write
from ..contract.errors import SSLBenchError
from .records import (add_dimensions, evaluation_settings, flatten, label, latest, parse_config, sort_key,
                      varying_keys)

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
    try:  # all or nothing: a failed write never leaves half an image
        atomic_write(path, lambda fh: fig.savefig(fh, format=fmt))
    except OSError as exc:
        raise SSLBenchError(f"cannot write a plot to {str(path)!r}: {exc.strerror or exc}") from None
    return path


def _check_by(df: Any, by: str) -> None:
    """A ``--by`` key no result has (a typo) would draw one unlabelled line: refuse it."""
    if df[by].isna().all():
        raise SSLBenchError(f"no result has a value for --by {by!r}: expected a store column such as method, "
                            f"dataset or backbone, or a config key such as moco.temperature")


def _pick(df: Any, column: str, wanted: str | None) -> str:
    values = sorted(set(df[column]))
    if wanted is not None:
        if wanted not in values:
            raise SSLBenchError(f"no results for {column} {wanted!r}: expected one of {', '.join(values) or '(none)'}")
        return wanted
    if len(values) != 1:
        raise SSLBenchError(f"several {column}s in the results ({', '.join(values)}): choose one with --{column}")
    return values[0]


#: store columns that tell results apart besides the method: never averaged over
IDENTITY_DIMENSIONS = ("dataset", "eval_dataset", "backbone")
#: config keys that repeat an identity dimension (the store column names the line)
_MIRRORS = ("dataset", "eval_dataset", "model.backbone")


@dataclass
class Line:
    """One drawn line: its legend label and, per point, x, the mean and std over seeds and n."""

    label: str
    x: list[Any]
    mean: list[float]
    std: list[float]
    n: list[int]


@dataclass
class PlotData:
    """What a figure draws, for tests and other renderers: ``lines``, horizontal ``references``
    (a row without the swept key, e.g. ``random`` beside ``sce.lam``), and ``split``: the
    dimensions and config keys besides ``by`` that separate lines."""

    lines: list[Line]
    references: list[Line]
    by: str
    split: list[str]
    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    categories: list[str] = field(default_factory=list)

    def statistic(self) -> str:
        """``mean ± std over 3 seeds`` only when every point averages 3 seeds."""
        counts = {n for line in self.lines + self.references for n in line.n}
        if counts == {1}:
            return "one seed per point"
        if len(counts) == 1:
            return f"mean ± std over {counts.pop()} seeds"
        return f"mean ± std over {min(counts)} to {max(counts)} seeds per point"

    def grouping(self) -> str:
        """``one line per method, dataset``."""
        return f"one line per {', '.join([self.by, *self.split])}"


def line_labels(df: Any, by: str, protocol: str, exclude: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """The line of every record: its ``by`` value, plus the identity dimensions (dataset, eval
    dataset, backbone) and then the config keys that still differ between records of that value,
    so nothing is averaged but seeds. Returns the labels and the dimensions/keys used."""
    settings = [evaluation_settings(parse_config(c), protocol) for c in df["config_json"]]
    skip = {by, *exclude, *_MIRRORS}
    settings = [{k: v for k, v in s.items() if k not in skip} for s in settings]
    heads = [label(v) for v in df[by]]
    columns = {d: list(df[d]) for d in IDENTITY_DIMENSIONS}
    labels, used = list(heads), []
    for head in dict.fromkeys(heads):
        members = [i for i, h in enumerate(heads) if h == head]
        dims = [d for d in IDENTITY_DIMENSIONS if d != by and len({columns[d][i] for i in members}) > 1]
        if {"dataset", "eval_dataset"} <= set(dims) and all(columns["dataset"][i] == columns["eval_dataset"][i]
                                                            for i in members):
            dims.remove("eval_dataset")  # no transfer: both name the same datasets
        subgroups: dict[tuple, list[int]] = {}
        for i in members:
            subgroups.setdefault(tuple(columns[d][i] for d in dims), []).append(i)
        keys = sorted(set().union(*(varying_keys([settings[i] for i in sub]) for sub in subgroups.values())))
        for i in members:
            parts = [label(columns[d][i]) for d in dims] + [f"{k}={label(settings[i].get(k))}" for k in keys]
            labels[i] = f"{head} ({', '.join(parts)})" if parts else head
        used += [d for d in dims + keys if d not in used]
    return labels, used


def _one_per_seed(df: Any, keys: list[str]) -> Any:
    """The latest record per line, point and seed: a seed counts once in a mean."""
    order = "id" if "id" in df.columns else "created_at"
    return df.sort_values(order, kind="stable").drop_duplicates([*keys, "seed"], keep="last")


def _line(name: str, part: Any) -> Line:
    stats = part.groupby("_x")["value"].agg(["mean", "std", "count"])
    stats = stats.reindex(sorted(stats.index, key=sort_key))
    return Line(name, list(stats.index), stats["mean"].tolist(), stats["std"].fillna(0.0).tolist(),
                [int(c) for c in stats["count"]])


def metric_vs_value_data(df: Any, x: str, protocol: str | None = None, metric: str | None = None,
                         by: str = "method") -> PlotData:
    """The lines of :func:`metric_vs_value`."""
    if df.empty:
        raise SSLBenchError("no results to plot")
    df = latest(df)
    protocol = _pick(df, "protocol", protocol)
    df = df[df["protocol"] == protocol]
    metric = _pick(df, "metric", metric)
    df = add_dimensions(df[df["metric"] == metric], [x, by])
    _check_by(df, by)
    higher = bool(df["higher_is_better"].iloc[0])
    present = [v for v in df[x] if v is not None and v == v]
    if not present:
        raise SSLBenchError(f"no result has a value for {x!r}: is it a config key such as moco.temperature?")
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)
    categories = [] if numeric else sorted({label(v) for v in present}, key=sort_key)
    labels, split = line_labels(df, by, protocol, exclude=[x])
    has_x = [v is not None and v == v for v in df[x]]
    df = df.assign(_line=labels, _x=[(v if numeric else label(v)) if h else None for v, h in zip(df[x], has_x)],
                   _has_x=has_x)
    df = _one_per_seed(df.assign(_xkey=[label(v) for v in df["_x"]]), ["_line", "_xkey"])
    lines, references = [], []
    for name in sorted(set(df["_line"]), key=sort_key):
        part = df[df["_line"] == name]
        with_x, without = part[part["_has_x"]], part[~part["_has_x"]]
        if len(with_x):
            line = _line(name, with_x)
            if not numeric:
                line.x = [categories.index(c) for c in line.x]
            lines.append(line)
        if len(without):
            values = without["value"]
            text = f"{name[:-1]}; no {x})" if name.endswith(")") else f"{name} (no {x})"
            references.append(Line(text, [], [float(values.mean())],
                                   [float(values.std()) if len(values) > 1 else 0.0], [len(values)]))
    data = PlotData(lines, references, by, split, xlabel=x, categories=categories,
                    ylabel=f"{protocol} {metric} ({'higher' if higher else 'lower'} is better)")
    data.title = f"{protocol} {metric} against {x}\n{data.grouping()}; {data.statistic()}"
    return data


def metric_vs_value(df: Any, x: str, protocol: str | None = None, metric: str | None = None,
                    by: str = "method") -> Any:
    """One line per ``by`` value and whatever else differs (dataset, backbone, other config
    values): the mean over seeds of one metric against config value ``x`` (e.g. ``sce.lam``),
    ±std error bars. Rows without ``x`` (an untrained baseline beside a ``moco.temperature``
    sweep) are drawn as dashed horizontal reference lines. The data is in ``fig.sslbench_data``."""
    return draw(metric_vs_value_data(df, x, protocol, metric, by))


#: ``top1@k20`` -> (top1, k, 20, ""); ``R@5`` -> (R, "", 5, ""); ``mAP@5s`` -> (mAP, "", 5, "s")
INDEXED_METRIC = re.compile(r"^(?P<name>[^@]+)@(?P<key>[A-Za-z]*)(?P<x>\d+(?:\.\d+)?)(?P<unit>[A-Za-z%]*)$")


def metric_curve_data(df: Any, protocol: str | None = None, name: str | None = None, by: str = "method") -> PlotData:
    """The lines of :func:`metric_curve`."""
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
    _check_by(df, by)
    match = next(m for m in parsed if m and m["name"] == name)
    # the setting listing the indices (knn.k = [20, 200]) is the x axis, not a reason to split lines
    labels, split = line_labels(df, by, protocol, exclude=[f"{protocol}.{match['key']}"] if match["key"] else [])
    df = _one_per_seed(df.assign(_line=labels), ["_line", "_x"])
    lines = [_line(line, df[df["_line"] == line]) for line in sorted(set(df["_line"]), key=sort_key)]
    unit = f" ({match['unit']})" if match["unit"] else ""
    data = PlotData(lines, [], by, split, xlabel=(match["key"] or "N") + unit, ylabel=f"{protocol} {name}")
    data.title = f"{protocol} {name} against {match['key'] or 'N'}{unit}\n{data.grouping()}; {data.statistic()}"
    return data


def metric_curve(df: Any, protocol: str | None = None, name: str | None = None, by: str = "method") -> Any:
    """One line per ``by`` value and whatever else differs (dataset, backbone, config values)
    over the metrics of one protocol that share a name and differ in a number (``R@1``, ``R@5``,
    ``R@10`` -> recall against N), mean ± std over seeds. The data is in ``fig.sslbench_data``."""
    return draw(metric_curve_data(df, protocol, name, by))


def draw(data: PlotData) -> Any:
    """The figure of ``data``: error bars where a point averages several seeds."""
    fig = _figure()
    ax = fig.add_subplot()
    for line in data.lines:
        ax.errorbar(line.x, line.mean, yerr=line.std, marker="o", capsize=3, label=line.label)
    for i, ref in enumerate(data.references, len(data.lines)):
        ax.axhline(ref.mean[0], linestyle="--", linewidth=1, color=f"C{i % 10}", label=ref.label)
    if data.categories:
        ax.set_xticks(range(len(data.categories)), data.categories)
    ax.set_xlabel(data.xlabel)
    ax.set_ylabel(data.ylabel)
    ax.set_title(data.title, fontsize="medium")
    ax.grid(True, alpha=0.3)
    _legend(fig, ax)
    fig.sslbench_data = data
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
