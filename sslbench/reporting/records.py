"""Tidy result records as a DataFrame: config values, experiment keys, filters, deduplication.

Every table, plot and grid starts here; nothing in this module renders or trains.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

import yaml

from ..config import identity, stable_hash
from ..contract.errors import SSLBenchError

#: columns of the store a table can group by directly; anything else is looked up in config_json
DIMENSIONS = ("method", "dataset", "eval_dataset", "backbone", "protocol", "metric", "seed")
MISSING = "–"


def parse_config(text: Any) -> dict[str, Any]:
    """The config of one record (``config_json``) as a dict ({} when absent or unreadable)."""
    if isinstance(text, dict):
        return text
    try:
        value = json.loads(text) if isinstance(text, str) and text else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def config_value(config: Mapping[str, Any], key: str) -> Any:
    """``config_value(cfg, "moco.temperature")`` -> 0.2; None when the key is absent. A key naming
    a section or a mapping returns it as canonical JSON so it can be grouped on."""
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    if isinstance(node, (dict, list)):
        return json.dumps(node, sort_keys=True)
    return node


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"moco": {"temperature": 0.2}}`` -> ``{"moco.temperature": 0.2}``; lists stay leaves."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value
    return out


def eval_key(config: Mapping[str, Any], protocol: str) -> str:
    """Identity of one evaluation: the whole config except which *other* protocols ran alongside
    (and the settings that cannot change a number: data.num_workers, data.decode, train.device,
    train.keep_checkpoint, train.tensorboard).

    ``config_hash`` covers the protocol list, so ``run -p knn`` and ``run -p knn,linear`` differ;
    this key lets a grid skip a (config, protocol) cell whichever way it was run before.
    """
    d = identity(config)  # a method that does not train: its training settings cannot matter
    others = [p for p in d.pop("protocols", []) or [] if p != protocol]
    for name in others:
        d.pop(name, None)
    d.get("data", {}).pop("num_workers", None)
    d.get("data", {}).pop("decode", None)
    d.get("train", {}).pop("device", None)
    d.get("train", {}).pop("keep_checkpoint", None)
    d.get("train", {}).pop("tensorboard", None)
    d["protocol"] = protocol
    return stable_hash(d)


#: config keys that cannot change a number: bookkeeping, hardware, memory bounds (``*_chunk``),
#: ``trains`` (a fact of the method, recorded by newer versions only)
NEUTRAL_KEYS = ("seed", "protocols", "trains", "data.num_workers", "data.decode", "train.device",
                "train.keep_checkpoint", "train.tensorboard")


def evaluation_settings(config: Mapping[str, Any], protocol: str) -> dict[str, Any]:
    """The flattened settings that can change ``protocol``'s numbers, seed excluded: what tells two
    results of one protocol apart besides the seed they are averaged over (a method that does not
    train: without its training settings, as in :func:`~sslbench.config.identity`)."""
    others = {p for p in config.get("protocols") or [] if p != protocol}
    return {k: v for k, v in flatten(identity(config)).items()
            if k not in NEUTRAL_KEYS and not k.endswith("_chunk") and k.split(".", 1)[0] not in others}


def with_eval_keys(df: Any) -> Any:
    """``df`` plus an ``eval_key`` column (see :func:`eval_key`)."""
    df = df.copy()
    df["eval_key"] = [eval_key(parse_config(c), p) for c, p in zip(df["config_json"], df["protocol"])]
    return df


def add_dimensions(df: Any, keys: Iterable[str]) -> Any:
    """Make every key in ``keys`` a column: store columns pass through, dotted config keys
    (``moco.temperature``, ``train.epochs``) are read from ``config_json``."""
    df = df.copy()
    configs = None
    for key in keys:
        if key in df.columns:
            continue
        if configs is None:
            configs = [parse_config(c) for c in df["config_json"]]
        df[key] = [config_value(c, key) for c in configs]
    return df


def _matches(value: Any, wanted: list[str]) -> bool:
    for raw in wanted:
        if value is None or (isinstance(value, float) and value != value):
            if raw in ("", "none", "None", "null", MISSING):
                return True
            continue
        if str(value) == raw:
            return True
        try:
            parsed = yaml.safe_load(raw)
        except yaml.YAMLError:
            continue
        if isinstance(parsed, bool) or isinstance(value, bool):
            if parsed is value or str(parsed).lower() == str(value).lower():
                return True
        elif isinstance(parsed, (int, float)) and isinstance(value, (int, float)):
            if float(parsed) == float(value):
                return True
    return False


def parse_where(items: Iterable[str]) -> list[tuple[str, bool, list[str]]]:
    """``["method=moco,sce", "seed!=2"]`` -> [(key, negate, values)]."""
    out = []
    for item in items:
        negate = "!=" in item
        sep = "!=" if negate else "="
        if sep not in item:
            raise SSLBenchError(f"invalid filter {item!r}: expected key=value or key!=value, e.g. method=moco")
        key, raw = item.split(sep, 1)
        key = key.strip()
        if not key:
            raise SSLBenchError(f"invalid filter {item!r}: the key is empty")
        out.append((key, negate, [v.strip() for v in split_top_level(raw)]))
    return out


def apply_where(df: Any, items: Iterable[str]) -> Any:
    """Keep the records matching every filter (``key=v1,v2`` any of, ``key!=v`` none of)."""
    filters = parse_where(items)
    if not filters:
        return df
    known = set(df.columns)
    df = add_dimensions(df, [key for key, _, _ in filters])
    for key in (k for k, _, _ in filters if k not in known):
        if ("." not in key or len(df)) and df[key].isna().all():  # a typo filters everything out: say so
            _unknown_filter_key(df, key)
    mask = [True] * len(df)
    for key, negate, values in filters:
        hits = [_matches(v, values) for v in df[key]]
        mask = [m and (h != negate) for m, h in zip(mask, hits)]
    return df.loc[mask]  # df[[]] would select no columns of an empty store


def _unknown_filter_key(df: Any, key: str) -> None:
    """The one-line error of a ``--where`` key no stored result has, with close matches."""
    import difflib

    config_keys = {k for c in df["config_json"] for k in flatten(parse_config(c))}
    close = difflib.get_close_matches(key, [*DIMENSIONS, *sorted(config_keys)], n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ":"
    raise SSLBenchError(f"unknown filter key {key!r} (no stored result has it){hint} expected one of "
                        f"{', '.join(DIMENSIONS)} or a config key such as moco.temperature")


def split_top_level(raw: str) -> list[str]:
    """Split on commas outside brackets/braces: ``"[10,20],[5]"`` -> ``["[10,20]", "[5]"]``."""
    parts, depth, current = [], 0, []
    for ch in raw:
        if ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in (p.strip() for p in parts) if p]


def latest(df: Any) -> Any:
    """One record per (evaluation, metric): a repeated evaluation counts once, the latest wins."""
    if df.empty:
        return df
    if "eval_key" not in df.columns:
        df = with_eval_keys(df)
    order = "id" if "id" in df.columns else "created_at"
    return df.sort_values(order, kind="stable").drop_duplicates(["eval_key", "metric"], keep="last")


def protocol_defaults(names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Default settings (flattened) of each registered protocol in ``names``; protocols that are
    not installed here (imported results) are left out."""
    import dataclasses

    from ..contract.loading import registries

    regs = registries()
    out = {}
    for name in names:
        try:
            params = regs.protocols.get(name).Params()
            out[name] = flatten(dataclasses.asdict(params)) if dataclasses.is_dataclass(params) else {}
        except Exception:  # an unknown protocol or Params needing arguments: describe it in full
            continue
    return out


def untrained_methods(names: Iterable[str]) -> set[str]:
    """The methods in ``names`` that do not pretrain (``random``): their training settings are
    never used, so captions say "no pretraining" instead. Unknown (imported) methods count as
    training."""
    from ..contract.loading import registries

    regs = registries()
    out = set()
    for name in names:
        try:
            if not regs.methods.get(name).trains:
                out.add(name)
        except Exception:  # not installed here
            continue
    return out


def varying_keys(configs: Iterable[Mapping[str, Any]], ignore: Iterable[str] = ()) -> list[str]:
    """Config keys (dotted) whose value differs between ``configs``, sorted."""
    flats = [flatten(c) for c in configs]
    if len(flats) < 2:
        return []
    keys = set().union(*flats)
    skip = tuple(ignore)
    out = []
    for key in keys:
        if key.startswith(skip) if skip else False:
            continue
        values = {json.dumps(f.get(key), sort_keys=True, default=str) for f in flats}
        if len(values) > 1:
            out.append(key)
    return sorted(out)


def sort_key(value: Any) -> tuple:
    """Natural order for mixed labels: numbers by value, then strings, missing last."""
    if value is None or (isinstance(value, float) and value != value) or value == MISSING:
        return (2, 0.0, "")
    if isinstance(value, bool):
        return (1, 0.0, str(value))
    if isinstance(value, (int, float)):
        return (0, float(value), "")
    try:
        return (0, float(value), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(value))


def label(value: Any) -> str:
    """How a dimension value is printed (missing -> ``–``; 0.1 stays ``0.1``)."""
    if value is None or (isinstance(value, float) and value != value):
        return MISSING
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
