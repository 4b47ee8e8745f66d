"""Wide comparison tables generated from the tidy results store (never edited by hand)."""

from __future__ import annotations

from typing import Any


def _cell(values: Any) -> str:
    n = len(values)
    mean = float(values.mean())
    if n == 1:
        return f"{mean:.2f}"
    return f"{mean:.2f} ± {float(values.std(ddof=1)):.2f} ({n})"


def method_protocol_table(df: Any, dataset: str | None = None, metrics: str = "all") -> Any:
    """Rows = method, columns = ``protocol metric`` (grouped by dataset), cells = mean ± std (n)
    over seeds, using the latest result of each (method, dataset, protocol, metric, seed)."""
    import pandas as pd

    if dataset:
        df = df[df["dataset"] == dataset]
    if df.empty:
        return pd.DataFrame()
    latest = df.sort_values("id").groupby(["method", "dataset", "eval_dataset", "backbone", "protocol", "metric",
                                            "seed"], as_index=False).last()
    latest["column"] = latest["protocol"] + " " + latest["metric"]
    multi = latest["dataset"].nunique() > 1 or (latest["eval_dataset"] != latest["dataset"]).any()
    if multi:
        latest["column"] = latest["eval_dataset"] + " " + latest["column"]
    table = latest.groupby(["method", "column"])["value"].apply(_cell).unstack("column")
    table = table.reindex(sorted(table.columns), axis=1).sort_index()
    table.index.name = "method"
    return table.fillna("–")


def to_markdown(table: Any) -> str:
    if table.empty:
        return "(no results)"
    return table.to_markdown()
