"""The ``sslbench`` command line (click). Heavy imports happen inside the commands."""

from __future__ import annotations

import fnmatch
import sys
from pathlib import Path
from typing import Any

import click

from .contract.errors import SSLBenchError, UnknownNameError
from .output import DEFAULT_OUTPUT
from .output import emit as _emit
from .output import output_dir as _output_dir


class SSLBenchGroup(click.Group):
    """Turn user errors into one line on stderr and exit status 2 (tracebacks only with --debug)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SSLBenchError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            one_line = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
            click.echo(f"Error: {one_line}", err=True)
            ctx.exit(2)
        except click.UsageError as exc:  # a bad option of a subcommand: one line too, not usage + hint + error
            if ctx.obj and ctx.obj.get("debug"):
                raise
            _usage_error(exc)

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:  # a bad option of sslbench itself (before --debug is known)
            _usage_error(exc)


def _usage_error(exc: click.UsageError) -> None:
    """Click's usage error as one line naming the command's --help; exit status 2."""
    if isinstance(exc, getattr(click.exceptions, "NoArgsIsHelpError", ())):  # a bare group: its help, as click does
        raise exc
    where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
    click.echo(f"Error: {exc.format_message()}{where}", err=True)
    sys.exit(exc.exit_code)


@click.group(cls=SSLBenchGroup)
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.version_option(package_name="sslbench")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """sslbench: pretrain self-supervised methods and compare them on shared protocols."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


@cli.command()
@click.option("--method", "-m", required=True, help="Registered method name (see `sslbench list methods`).")
@click.option("--protocol", "-p", "protocols", required=True,
              help="Protocol name(s), comma-separated (see `sslbench list protocols`).")
@click.option("--dataset", "-d", required=True, help="Registered dataset name (see `sslbench list datasets`).")
@click.option("--backbone", help="Override the backbone (e.g. resnet18, timm:vit_tiny_patch16_224).")
@click.option("--eval-dataset", help="Evaluate on this dataset instead of the pretraining one (transfer).")
@click.option("--data-root", type=click.Path(), help="Root folder of the dataset (not needed for digits).")
@click.option("--eval-data-root", type=click.Path(), help="Root folder of the --eval-dataset (transfer).")
@click.option("--epochs", type=int, help="Pretraining epochs.")
@click.option("--batch-size", type=int, help="Pretraining batch size (the lr follows the linear scaling rule).")
@click.option("--seed", type=int, help="Random seed (default 0).")
@click.option("--config", "config_file", type=click.Path(), help="YAML file of config overrides.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override one config value, e.g. --set train.lr=0.1 --set moco.temperature=0.2 (repeatable).")
@click.option("--output-dir", "-o", type=click.Path(), help=f"Where runs and results go (default ./{DEFAULT_OUTPUT}).")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted pretraining from its last checkpoint (implied: a re-run always does).")
@click.option("--checkpoint", "checkpoint_path", type=click.Path(dir_okay=False),
              help="Skip pretraining: evaluate the backbone weights in this file (an sslbench backbone.pt names "
                   "its backbone and options; a plain state_dict needs --backbone).")
@click.option("--dry-run", is_flag=True, help="Print the effective config and exit without training.")
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
def run(method: str, protocols: str, dataset: str, backbone: str | None, eval_dataset: str | None,
        data_root: str | None, epochs: int | None, batch_size: int | None, seed: int | None,
        config_file: str | None, sets: tuple[str, ...], output_dir: str | None, resume: bool, dry_run: bool,
        no_progress: bool, checkpoint_path: str | None = None, eval_data_root: str | None = None) -> None:
    """Pretrain METHOD on DATASET (or reuse a finished pretraining), evaluate, store the results."""
    from .config import parse_set
    from .runner import config_as_yaml, resolve_config, run as run_experiment, summary_line

    overrides: dict[str, Any] = {}
    if backbone:
        overrides.setdefault("model", {})["backbone"] = backbone
    if data_root:
        overrides.setdefault("data", {})["root"] = data_root
    if eval_data_root:
        overrides.setdefault("data", {})["eval_root"] = eval_data_root
    if epochs is not None:
        overrides.setdefault("train", {})["epochs"] = epochs
    if batch_size is not None:
        overrides.setdefault("train", {})["batch_size"] = batch_size
    if seed is not None:
        overrides["seed"] = seed
    if eval_dataset:
        overrides["eval_dataset"] = eval_dataset
    names = [p.strip() for p in protocols.split(",") if p.strip()]
    if not names:
        raise SSLBenchError(f"invalid --protocol {protocols!r}: expected at least one protocol name, comma-separated")
    recorded = None
    if checkpoint_path:  # a self-describing backbone.pt names its backbone and options
        from .engine.checkpoint import recorded_backbone

        recorded = recorded_backbone(checkpoint_path)
    try:
        config = resolve_config(method, dataset, names, config_file, parse_set(sets), overrides,
                                recorded_model=recorded)
    except UnknownNameError as exc:
        if method in cli.commands and method != "run" and str(exc).startswith(f"unknown method {method!r}"):
            raise UnknownNameError(f"{exc}; {method!r} is a command with its own pipeline: run "
                                   f"`sslbench {method} --help`") from None
        raise
    if dry_run:
        click.echo(config_as_yaml(config), nl=False)
        return
    from .engine.distributed import cleanup, init_from_env, is_main

    init_from_env()
    main_rank = is_main()
    try:
        outcome = run_experiment(config, _output_dir(output_dir), resume=resume, progress=not no_progress,
                                 checkpoint_path=checkpoint_path)
    except KeyboardInterrupt as exc:
        _interrupted(exc, "finished pretrainings, caches and results are kept; run the same command again to "
                          "continue", echo=main_rank)
    finally:
        cleanup()
    if main_rank:
        click.echo(summary_line(outcome))


@cli.command(name="list")
@click.argument("kind", required=False, type=click.Choice(["methods", "backbones", "datasets", "protocols"]))
@click.argument("pattern", required=False)
def list_(kind: str | None, pattern: str | None) -> None:
    """List registered plugin objects, optionally of one KIND and matching a glob PATTERN."""
    from .contract.loading import registries

    regs = registries()
    kinds = [kind] if kind else ["methods", "backbones", "datasets", "protocols"]
    for k in kinds:
        registry = getattr(regs, k)
        click.echo(f"{k}:")
        for name in registry.list(pattern):
            entry = registry.entry(name)
            desc = getattr(entry.obj, "description", "") or (entry.obj.__doc__ or "").strip().split("\n")[0]
            click.echo(f"  {name:<16} {desc}  [{entry.plugin}]")
        for name, owners in registry.conflicts().items():  # usable once one plugin is chosen
            if not pattern or fnmatch.fnmatchcase(name, pattern):
                click.echo(f"  {name:<16} CONFLICT: registered by {', '.join(map(repr, dict.fromkeys(owners)))} "
                           f"(see `sslbench plugins`)")


@cli.command()
def plugins() -> None:
    """Show loaded plugins (distribution, version, hooks), plugins that failed to load, and names
    two plugins registered (only commands using such a name fail)."""
    from .contract.loading import conflicts, plugin_infos, registries

    registries()
    for info in plugin_infos():
        origin = f"{info.distribution} {info.version}" if info.distribution else "built-in"
        if info.error:
            click.echo(f"{info.name:<36} FAILED ({origin}): {info.error}")
        else:
            click.echo(f"{info.name:<36} {origin:<20} {', '.join(info.hooks)}")
    for line in conflicts():
        click.echo(f"CONFLICT: {line}")


def _interrupted(exc: KeyboardInterrupt, fallback: str, echo: bool = True) -> None:
    """Ctrl-C: one line (where a pretraining stopped, else ``fallback``), exit status 130 (128 + SIGINT)."""
    if echo:
        click.echo(f"\ninterrupted: {str(exc) or fallback}", err=True)
    sys.exit(130)


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _store_path(output_dir: str | None) -> Path:
    return _output_dir(output_dir) / "results.sqlite"


_TABLE_FORMATS = ["markdown", "latex", "csv", "html"]


@cli.command()
@click.option("--output-dir", "-o", type=click.Path(), help=f"Where results live (default ./{DEFAULT_OUTPUT}).")
@click.option("--dataset", "-d", help="Only results of this pretraining dataset (same as --where dataset=NAME).")
@click.option("--rows", default="method", show_default=True,
              help="Row dimensions, comma-separated: method, dataset, eval_dataset, protocol, metric, backbone, "
                   "seed, or a config key such as moco.temperature.")
@click.option("--columns", default="protocol,metric", show_default=True, help="Column dimensions (as for --rows).")
@click.option("--where", "where", multiple=True, metavar="KEY=V1,V2",
              help="Keep matching results, e.g. --where method=moco,sce --where seed!=2 --where moco.temperature=0.2.")
@click.option("--baseline", metavar="[DIM=]VALUE", help="Add a column of differences to this row (e.g. random).")
@click.option("--format", "-f", "fmt", type=click.Choice(_TABLE_FORMATS),
              help="Output format (default: from --save's extension, else markdown).")
@click.option("--save", type=click.Path(), help="Write the table to this file (.md, .tex, .csv, .html).")
@click.option("--decimals", type=click.IntRange(0, 6), default=2, show_default=True, help="Decimals of every value.")
@click.option("--no-caption", is_flag=True, help="Leave out the caption (protocol, preset, checkpoint rule).")
@click.option("--label", help="LaTeX \\label of the table.")
def table(output_dir: str | None, dataset: str | None, rows: str, columns: str, where: tuple[str, ...],
          baseline: str | None, fmt: str | None, save: str | None, decimals: int, no_caption: bool,
          label: str | None) -> None:
    """Print stored results as a wide table: mean ± std (n) over seeds, best in bold, second best
    underlined (per column and within each dataset, backbone, protocol, metric or seed in the rows,
    respecting whether higher or lower is better)."""
    from .reporting.records import apply_where, protocol_defaults, untrained_methods
    from .reporting.render import format_for_path, render
    from .reporting.tables import build_table
    from .store import read

    filters = [*where, *([f"dataset={dataset}"] if dataset else [])]
    df = apply_where(read(_store_path(output_dir)), filters)
    built = build_table(df, _csv(rows), _csv(columns), decimals=decimals, baseline=baseline,
                        defaults=protocol_defaults(set(df["protocol"])),
                        untrained=untrained_methods(set(df["method"])))
    for note in built.notes:
        click.echo(f"note: {note}", err=True)
    fmt = fmt or (format_for_path(save) if save else "markdown")
    _emit(render(built, fmt, caption=not no_caption, label=label), save)


@cli.command()
@click.option("--methods", "-m", required=True, help="Methods, comma-separated (see `sslbench list methods`).")
@click.option("--protocols", "-p", required=True, help="Protocols, comma-separated.")
@click.option("--datasets", "-d", required=True, help="Datasets, comma-separated.")
@click.option("--seeds", default="0", show_default=True, help="Seeds, comma-separated.")
@click.option("--sweep", "sweeps", multiple=True, metavar="KEY=V1,V2",
              help="Sweep a config value, e.g. --sweep moco.temperature=0.1,0.2 (repeatable: cartesian grid; a "
                   "method's own section only applies to that method).")
@click.option("--config", "config_file", type=click.Path(), help="YAML file of config overrides for every cell.")
@click.option("--data-root", type=click.Path(), help="Root folder of the datasets (the same as --set data.root=PATH).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a config value in every cell.")
@click.option("--output-dir", "-o", type=click.Path(), help=f"Where runs and results go (default ./{DEFAULT_OUTPUT}).")
@click.option("--format", "-f", "fmt", type=click.Choice(_TABLE_FORMATS), default="markdown", show_default=True,
              help="Format of the table printed at the end.")
@click.option("--dry-run", is_flag=True, help="List the cells and what each still needs, then exit.")
@click.option("--no-progress", is_flag=True, help="Hide progress bars (the per-cell lines stay).")
def compare(methods: str, protocols: str, datasets: str, seeds: str, sweeps: tuple[str, ...],
            config_file: str | None, sets: tuple[str, ...], output_dir: str | None, fmt: str, dry_run: bool,
            no_progress: bool, data_root: str | None = None) -> None:
    """Run a methods x datasets x sweeps x seeds grid and print its table. Finished cells (same
    config and protocol in the store) are skipped, so re-running continues an interrupted grid."""
    from .config import parse_set
    from .contract.loading import registries
    from .reporting.grid import expand, parse_sweeps, plan, run_grid
    from .reporting.records import latest, protocol_defaults, untrained_methods, with_eval_keys
    from .reporting.render import render
    from .reporting.tables import build_table
    from .store import read

    for option, value in (("--methods", methods), ("--protocols", protocols), ("--datasets", datasets),
                          ("--seeds", seeds)):
        if not _csv(value):
            raise SSLBenchError(f"invalid {option} {value!r}: expected at least one value, comma-separated")
    try:
        seed_list = [int(s) for s in _csv(seeds)]
    except ValueError:
        raise SSLBenchError(f"invalid --seeds {seeds!r}: expected integers, e.g. 0,1,2") from None
    sweep_list = parse_sweeps(sweeps)
    regs = registries()
    cells = expand(_csv(methods), _csv(datasets), seed_list, sweep_list, set(regs.methods.list()))
    shared = parse_set(sets)
    if data_root:
        shared.setdefault("data", {})["root"] = data_root
    store = _store_path(output_dir)
    stored = with_eval_keys(read(store))
    planned = plan(cells, _csv(protocols), shared, set(stored["eval_key"]), config_file, regs=regs)
    if dry_run:
        for i, item in enumerate(planned, 1):
            todo = ", ".join(item.missing) if item.missing else "in the store"
            click.echo(f"[{i}/{len(planned)}] {item.cell.describe()}: {todo}")
        return
    try:
        outcome = run_grid(planned, _output_dir(output_dir), shared, config_file, echo=click.echo,
                           progress=not no_progress, regs=regs)
    except KeyboardInterrupt as exc:
        _interrupted(exc, "finished cells are stored; run the same command again to continue")
    click.echo(f"{outcome.ran} cell(s) run, {outcome.skipped} already in the store\n")
    grid_rows = latest(with_eval_keys(read(store)))
    grid_rows = grid_rows[grid_rows["eval_key"].isin(outcome.keys)]
    built = build_table(grid_rows, ["method", *(k for k, _ in sweep_list)],
                        defaults=protocol_defaults(_csv(protocols)), untrained=untrained_methods(_csv(methods)))
    click.echo(render(built, fmt), nl=False)


@cli.group()
def plot() -> None:
    """Plots (PNG, SVG or PDF) from stored results and pretraining logs."""


@plot.command(name="metric")
@click.option("--x", "x", required=True, help="Config key on the x axis, e.g. moco.temperature or sce.lam.")
@click.option("--protocol", "-p", help="Protocol (needed when several are stored).")
@click.option("--metric", help="Metric name, e.g. top1@k20 (needed when the protocol has several).")
@click.option("--by", default="method", show_default=True,
              help="One line per value of this dimension (and of whatever else differs).")
@click.option("--where", multiple=True, metavar="KEY=V1,V2", help="Keep matching results (as for `table`).")
@click.option("--output-dir", "-o", type=click.Path(), help=f"Where results live (default ./{DEFAULT_OUTPUT}).")
@click.option("--save", required=True, type=click.Path(), help="Image file to write (.png, .svg or .pdf).")
def plot_metric(x: str, protocol: str | None, metric: str | None, by: str, where: tuple[str, ...],
                output_dir: str | None, save: str) -> None:
    """A metric (mean ± std over seeds) against a swept config value, one line per method and per
    dataset, backbone or config value that differs (only seeds are averaged)."""
    from .reporting.plots import metric_vs_value, save as save_figure
    from .reporting.records import apply_where
    from .store import read

    df = apply_where(read(_store_path(output_dir)), where)
    click.echo(f"wrote {save_figure(metric_vs_value(df, x, protocol, metric, by), save)}")


@plot.command(name="curve")
@click.option("--protocol", "-p", help="Protocol (needed when several are stored).")
@click.option("--name", help="Metric name before the '@' (needed when several are indexed, e.g. top1 or R).")
@click.option("--by", default="method", show_default=True,
              help="One line per value of this dimension (and of whatever else differs).")
@click.option("--where", multiple=True, metavar="KEY=V1,V2", help="Keep matching results (as for `table`).")
@click.option("--output-dir", "-o", type=click.Path(), help=f"Where results live (default ./{DEFAULT_OUTPUT}).")
@click.option("--save", required=True, type=click.Path(), help="Image file to write (.png, .svg or .pdf).")
def plot_curve(protocol: str | None, name: str | None, by: str, where: tuple[str, ...], output_dir: str | None,
               save: str) -> None:
    """Metrics indexed by a number (R@1/5/10, top1@k20/k200, mAP@<tolerance>s) against that number,
    one line per method and per dataset, backbone or config value that differs."""
    from .reporting.plots import metric_curve, save as save_figure
    from .reporting.records import apply_where
    from .store import read

    df = apply_where(read(_store_path(output_dir)), where)
    click.echo(f"wrote {save_figure(metric_curve(df, protocol, name, by), save)}")


@plot.command(name="loss")
@click.option("--runs", default="*", show_default=True,
              help="Glob over pretraining folder names (<method>-<dataset>-<backbone>-<hash>), e.g. 'moco-*'.")
@click.option("--x", "x", type=click.Choice(["step", "epoch"]), default="step", show_default=True)
@click.option("--output-dir", "-o", type=click.Path(), help=f"Where runs live (default ./{DEFAULT_OUTPUT}).")
@click.option("--save", required=True, type=click.Path(), help="Image file to write (.png, .svg or .pdf).")
def plot_loss(runs: str, x: str, output_dir: str | None, save: str) -> None:
    """Training loss curves from the log.jsonl of pretraining folders."""
    from .reporting.plots import loss_curves, pretrain_dirs, save as save_figure

    dirs = pretrain_dirs(_output_dir(output_dir), runs)
    click.echo(f"wrote {save_figure(loss_curves(dirs, x), save)} ({len(dirs)} run(s))")


@cli.group()
def results() -> None:
    """Move stored results between machines (CSV or JSON lines)."""


@results.command(name="export")
@click.argument("file", type=click.Path())
@click.option("--where", multiple=True, metavar="KEY=V1,V2", help="Export only matching results.")
@click.option("--output-dir", "-o", type=click.Path(), help=f"Where results live (default ./{DEFAULT_OUTPUT}).")
def results_export(file: str, where: tuple[str, ...], output_dir: str | None) -> None:
    """Write the stored results to FILE (.csv or .jsonl), provenance included."""
    from .reporting.exchange import export_store

    click.echo(f"exported {export_store(_store_path(output_dir), file, where)} result(s) to {file}")


@results.command(name="import")
@click.argument("file", type=click.Path())
@click.option("--output-dir", "-o", type=click.Path(), help=f"Where results live (default ./{DEFAULT_OUTPUT}).")
def results_import(file: str, output_dir: str | None) -> None:
    """Merge the results in FILE (.csv or .jsonl) into the store; records already there (same
    run_id, protocol, metric) are skipped."""
    from .reporting.exchange import import_file

    added, skipped = import_file(_store_path(output_dir), file)
    click.echo(f"imported {added} result(s), skipped {skipped} already in {_store_path(output_dir)}")


def _cache_filters(command: Any) -> Any:
    """The options `cache list` and `cache rm` share: where to look and which entries."""
    options = [
        click.option("--output-dir", "-o", type=click.Path(), help=f"Where runs live (default ./{DEFAULT_OUTPUT})."),
        click.option("--kind", "kinds", help="Only these kinds, comma-separated: pretrain, features, spotting, temp."),
        click.option("--method", "-m", "methods", help="Only entries of these methods, comma-separated."),
        click.option("--dataset", "-d", "datasets",
                     help="Only these datasets, comma-separated (a feature cache's is the dataset it encodes)."),
        click.option("--older-than", metavar="AGE", help="Only entries not written for AGE, e.g. 36h, 7d, 2w."),
        click.option("--orphaned", is_flag=True,
                     help="Only leftovers: feature caches whose pretraining is gone, temp files of killed writes."),
        click.option("--unfinished", is_flag=True, help="Only pretrainings that stopped before their last epoch."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _cache_select(output_dir: str | None, kinds: str | None, methods: str | None, datasets: str | None,
                  older_than: str | None, orphaned: bool, unfinished: bool) -> tuple[Path, Any, list[Any]]:
    from .housekeeping import KINDS, Filters, parse_age, scan, select

    bad = [k for k in _csv(kinds) if k not in KINDS]
    if bad:
        raise SSLBenchError(f"invalid --kind {bad[0]!r}: expected one of {', '.join(KINDS)}")
    filters = Filters(_csv(kinds), _csv(methods), _csv(datasets), parse_age(older_than) if older_than else None,
                      orphaned, unfinished)
    root = _output_dir(output_dir)
    return root, filters, select(scan(root), filters)


@cli.group()
def cache() -> None:
    """Disk use: list pretrainings and feature caches, delete them by filter."""


@cache.command(name="list")
@_cache_filters
def cache_list(output_dir: str | None, kinds: str | None, methods: str | None, datasets: str | None,
               older_than: str | None, orphaned: bool, unfinished: bool) -> None:
    """List pretrainings, feature caches, spotting outputs and leftovers with size, date and owner."""
    from .housekeeping import format_table

    root, _, entries = _cache_select(output_dir, kinds, methods, datasets, older_than, orphaned, unfinished)
    click.echo(format_table(entries, root), nl=False)


@cache.command(name="rm")
@_cache_filters
@click.option("--all", "all_", is_flag=True, help="Match everything (when no other filter is given).")
@click.option("--yes", "-y", is_flag=True, help="Really delete; without it, only show what would be deleted.")
def cache_rm(output_dir: str | None, kinds: str | None, methods: str | None, datasets: str | None,
             older_than: str | None, orphaned: bool, unfinished: bool, all_: bool, yes: bool) -> None:
    """Delete the matching entries (dry run unless --yes); a running pretraining is never deleted."""
    from .housekeeping import format_table, human_size, remove

    root, filters, entries = _cache_select(output_dir, kinds, methods, datasets, older_than, orphaned, unfinished)
    if not filters.any() and not all_:
        raise SSLBenchError("cache rm needs a filter (--older-than, --method, --dataset, --kind, --orphaned, "
                            "--unfinished) or --all")
    click.echo(format_table(entries, root), nl=False)
    total = human_size(sum(e.size for e in entries))
    if not yes:
        click.echo(f"dry run: would delete {len(entries)} item(s), {total}; add --yes to delete them")
        return
    busy = [e for e in entries if e.in_use or not remove(e)]
    freed = human_size(sum(e.size for e in entries if e not in busy))
    click.echo(f"deleted {len(entries) - len(busy)} item(s), freed {freed}"
               + (f"; kept {len(busy)} in use by a running process" if busy else ""))


from .suites.cli import suite as _suite_group  # noqa: E402 - `sslbench suite ...` (sslbench/suites)

cli.add_command(_suite_group)


def _add_plugin_commands() -> None:
    """Each plugin's commands; one that fails is named once on stderr and the others still load."""
    from .contract.loading import get_plugin_manager

    for impl in reversed(get_plugin_manager().hook.register_commands.get_hookimpls()):  # registration order
        try:
            impl.function(**({"cli": cli} if "cli" in impl.argnames else {}))  # pluggy lets impls take fewer
        except Exception as exc:  # a broken plugin's command must not break the CLI
            click.echo(f"warning: plugin {impl.plugin_name!r} failed to add its commands: "
                       f"{type(exc).__name__}: {exc}", err=True)


def main() -> None:
    """Entry point of the ``sslbench`` script."""
    _add_plugin_commands()
    cli(prog_name="sslbench")


if __name__ == "__main__":
    main()
    sys.exit(0)
