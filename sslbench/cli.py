"""The ``sslbench`` command line (click). Heavy imports happen inside the commands."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from .errors import SSLBenchError

DEFAULT_OUTPUT = "sslbench-runs"


def _output_dir(value: str | None) -> Path:
    return Path(value or os.environ.get("SSLBENCH_OUTPUT_DIR") or DEFAULT_OUTPUT)


class SSLBenchGroup(click.Group):
    """Turn user errors into one line on stderr and exit status 2 (tracebacks only with --debug)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SSLBenchError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(2)


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
@click.option("--epochs", type=int, help="Pretraining epochs.")
@click.option("--batch-size", type=int, help="Pretraining batch size (the lr follows the linear scaling rule).")
@click.option("--seed", type=int, help="Random seed (default 0).")
@click.option("--config", "config_file", type=click.Path(), help="YAML file of config overrides.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override one config value, e.g. --set train.lr=0.1 --set moco.temperature=0.2 (repeatable).")
@click.option("--output-dir", "-o", type=click.Path(), help=f"Where runs and results go (default ./{DEFAULT_OUTPUT}).")
@click.option("--resume", is_flag=True, help="Continue an interrupted pretraining from its last checkpoint.")
@click.option("--dry-run", is_flag=True, help="Print the effective config and exit without training.")
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
def run(method: str, protocols: str, dataset: str, backbone: str | None, eval_dataset: str | None,
        data_root: str | None, epochs: int | None, batch_size: int | None, seed: int | None,
        config_file: str | None, sets: tuple[str, ...], output_dir: str | None, resume: bool, dry_run: bool,
        no_progress: bool) -> None:
    """Pretrain METHOD on DATASET (or reuse a finished pretraining), evaluate, store the results."""
    from .config import parse_set
    from .runner import config_as_yaml, resolve_config, run as run_experiment, summary_line

    overrides: dict[str, Any] = {}
    if backbone:
        overrides.setdefault("model", {})["backbone"] = backbone
    if data_root:
        overrides.setdefault("data", {})["root"] = data_root
    if epochs is not None:
        overrides.setdefault("train", {})["epochs"] = epochs
    if batch_size is not None:
        overrides.setdefault("train", {})["batch_size"] = batch_size
    if seed is not None:
        overrides["seed"] = seed
    if eval_dataset:
        overrides["eval_dataset"] = eval_dataset
    names = [p.strip() for p in protocols.split(",") if p.strip()]
    config = resolve_config(method, dataset, names, config_file, parse_set(sets), overrides)
    if dry_run:
        click.echo(config_as_yaml(config), nl=False)
        return
    from .engine.distributed import cleanup, init_from_env, is_main

    init_from_env()
    main_rank = is_main()
    try:
        outcome = run_experiment(config, _output_dir(output_dir), resume=resume, progress=not no_progress)
    finally:
        cleanup()
    if main_rank:
        click.echo(summary_line(outcome))


@cli.command(name="list")
@click.argument("kind", required=False, type=click.Choice(["methods", "backbones", "datasets", "protocols"]))
@click.argument("pattern", required=False)
def list_(kind: str | None, pattern: str | None) -> None:
    """List registered plugin objects, optionally of one KIND and matching a glob PATTERN."""
    from .plugins import registries

    regs = registries()
    kinds = [kind] if kind else ["methods", "backbones", "datasets", "protocols"]
    for k in kinds:
        registry = getattr(regs, k)
        click.echo(f"{k}:")
        for name in registry.list(pattern):
            entry = registry.entry(name)
            desc = getattr(entry.obj, "description", "") or (entry.obj.__doc__ or "").strip().split("\n")[0]
            click.echo(f"  {name:<16} {desc}  [{entry.plugin}]")


@cli.command()
def plugins() -> None:
    """Show loaded plugins (distribution, version, hooks) and plugins that failed to load."""
    from .plugins import plugin_infos, registries

    registries()
    for info in plugin_infos():
        origin = f"{info.distribution} {info.version}" if info.distribution else "built-in"
        if info.error:
            click.echo(f"{info.name:<36} FAILED ({origin}): {info.error}")
        else:
            click.echo(f"{info.name:<36} {origin:<20} {', '.join(info.hooks)}")


@cli.command()
@click.option("--output-dir", "-o", type=click.Path(), help=f"Where results live (default ./{DEFAULT_OUTPUT}).")
@click.option("--dataset", "-d", help="Only results of this pretraining dataset.")
def table(output_dir: str | None, dataset: str | None) -> None:
    """Print stored results as a method x protocol markdown table (mean ± std (n) over seeds)."""
    from .store import read
    from .tables import method_protocol_table, to_markdown

    store = _output_dir(output_dir) / "results.sqlite"
    click.echo(to_markdown(method_protocol_table(read(store), dataset)))


def _add_plugin_commands() -> None:
    from .plugins import get_plugin_manager

    get_plugin_manager().hook.register_commands(cli=cli)


def main() -> None:
    """Entry point of the ``sslbench`` script."""
    try:
        _add_plugin_commands()
    except Exception as exc:  # a broken plugin's command must not break the CLI
        click.echo(f"warning: a plugin failed to add commands: {exc}", err=True)
    cli(prog_name="sslbench")


if __name__ == "__main__":
    main()
    sys.exit(0)
