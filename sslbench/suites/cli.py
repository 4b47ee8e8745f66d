"""``sslbench suite list|plan|run|status|table``: the thesis's tables as runnable grids."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import click

from ..contract.errors import SSLBenchError
from ..output import DEFAULT_OUTPUT
from ..output import output_dir as _output_dir


def _common(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options every suite command shares: where results live, where data lives, overrides."""
    options = [
        click.argument("name"),
        click.option("--output-dir", "-o", type=click.Path(), help=f"Where runs and results go (default ./{DEFAULT_OUTPUT})."),
        click.option("--data-dir", type=click.Path(), envvar="SSLBENCH_DATA_DIR", default="data", show_default=True,
                     help="Folder holding one folder per dataset (DATA_DIR/cifar10 ...); $SSLBENCH_DATA_DIR."),
        click.option("--root", "roots", multiple=True, metavar="DATASET=PATH",
                     help="Root of one dataset, overriding --data-dir (repeatable)."),
        click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                     help="Override a config value in every cell, e.g. --set train.epochs=5 (repeatable)."),
        click.option("--methods", help="Replace the suite's methods (moco,sce) or add to them (+byol)."),
        click.option("--world-size", type=click.IntRange(1), envvar="SSLBENCH_WORLD_SIZE",
                     help="Processes that train each pretraining (part of its identity; default 1, or nodes x "
                          "GPUs per node for `run --launcher slurm`); $SSLBENCH_WORLD_SIZE."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _plan(name: str, output_dir: str | None, data_dir: str, roots: tuple[str, ...], sets: tuple[str, ...],
          methods: str | None, world_size: int | None = None, ingest: bool = True) -> tuple[Any, list[Any], Path]:
    """Find, expand and resolve a suite (ingesting finished cells first); (suite, planned, output)."""
    from ..config import parse_set
    from ..reporting.records import with_eval_keys
    from ..store import read
    from .library import find_suite
    from .plan import Roots, parse_roots, plan_suite, with_methods
    from .results import CELLS, ingest as ingest_rows
    from .table import check_layout

    out = _output_dir(output_dir)
    suite = with_methods(find_suite(name), methods)
    shared = parse_set(sets)
    roots_ = Roots(Path(data_dir), parse_roots(roots))
    planned = plan_suite(suite, roots_, shared, world_size=world_size or 1)
    check_layout(suite, planned)
    if ingest and (out / CELLS).is_dir():
        folders = [out / CELLS / p.cell_id for p in planned]
        if any((f / "rows.jsonl").is_file() for f in folders):
            ingest_rows(out / "results.sqlite", folders)
    stored = with_eval_keys(read(out / "results.sqlite"))
    done = set(stored["eval_key"])
    for p in planned:
        p.done = [proto for proto in p.protocols if p.keys[proto] in done]
    return suite, planned, out


@click.group(name="suite")
def suite() -> None:
    """Benchmark suites: the thesis's tables (and a CPU suite) as grids to plan, run, follow and
    compare with the paper (suite files: benchmarks/*.yaml, $SSLBENCH_SUITES)."""


@suite.command(name="list")
def list_() -> None:
    """Every suite found, with its source and number of cells."""
    from .library import suite_files
    from .spec import load_suite

    files = suite_files()
    if not files:
        click.echo("no suite found (benchmarks/*.yaml, $SSLBENCH_SUITES)")
    for name, path in files.items():
        try:
            s = load_suite(path)
            cells = sum(len(b.methods) * len(b.datasets) * len(b.seeds) * len(b.variants) * len(b.evaluations)
                        * _product(len(v) for _, v in b.sweeps) for b in s.blocks)
            click.echo(f"{name:<16} {s.source:<14} ~{cells:>3} cells  {s.caption[:70]}")
        except SSLBenchError as exc:
            click.echo(f"{name:<16} INVALID: {exc}")


def _product(values: Any) -> int:
    out = 1
    for v in values:
        out *= v
    return out


def _varying(planned: list[Any]) -> list[str]:
    """Config keys whose value differs between cells: what tells the cells apart."""
    from ..reporting.records import varying_keys

    return varying_keys([p.config.to_dict() for p in planned], ignore=("protocols", "seed", "eval_dataset"))


@suite.command()
@_common
@click.option("--full", is_flag=True, help="Print every cell's whole resolved config (YAML).")
def plan(name: str, output_dir: str | None, data_dir: str, roots: tuple[str, ...], sets: tuple[str, ...],
         methods: str | None, world_size: int | None, full: bool) -> None:
    """Resolve every cell of suite NAME: its config, its missing data, what the store already holds."""
    import yaml

    from ..reporting.records import config_value
    from .plan import Roots, jobs, parse_roots

    s, planned, out = _plan(name, output_dir, data_dir, roots, sets, methods, world_size)
    keys = _varying(planned)
    click.echo(f"{s.name}: {s.source} -- {s.caption}")
    for i, p in enumerate(planned, 1):
        todo = "in the store" if p.complete else "to run: " + ", ".join(x for x in p.protocols if x not in p.done)
        values = {k: config_value(p.config.to_dict(), k) for k in keys if k != "method"}
        shown = " ".join(f"{k}={v}" for k, v in values.items() if v not in (None, "{}"))
        missing = f" | MISSING DATA: {', '.join(p.missing_data)}" if p.missing_data else ""
        click.echo(f"[{i}/{len(planned)}] {p.cell.describe()} | {p.cell_id} | {todo}{missing}")
        if shown:
            click.echo(f"    {shown}")
        if full:
            click.echo("    " + yaml.safe_dump(p.config.to_dict(), sort_keys=False).replace("\n", "\n    ").rstrip())
    missing = sorted({d for p in planned for d in p.missing_data})
    groups = jobs(planned)
    click.echo(f"{len(planned)} cell(s), {sum(p.complete for p in planned)} in the store, {len(groups)} job(s) "
               f"(one per pretraining) to run")
    if missing:
        where = Roots(Path(data_dir), parse_roots(roots))
        click.echo("missing data (give --data-dir or --root DATASET=PATH): "
                   + ", ".join(f"{d} (looked in {where.root(d)})" for d in missing))
    for note in s.notes:
        click.echo(f"note: {note}")


@suite.command()
@_common
@click.option("--launcher", type=click.Choice(["local", "local-parallel", "slurm"]), default="local", show_default=True)
@click.option("--workers", type=int, default=2, show_default=True, help="local-parallel: worker processes.")
@click.option("--partition", help="slurm: partition.")
@click.option("--nodes", type=int, default=1, show_default=True, help="slurm: nodes per job.")
@click.option("--gpus-per-node", type=int, default=1, show_default=True, help="slurm: GPUs (= processes) per node.")
@click.option("--cpus-per-task", type=int, help="slurm: CPUs per process.")
@click.option("--mem-gb", type=float, help="slurm: memory per node.")
@click.option("--timeout", "timeout_min", type=int, default=24 * 60, show_default=True,
              help="slurm: minutes per job before it checkpoints and requeues itself.")
@click.option("--sbatch", "sbatch", multiple=True, metavar="KEY=VALUE", help="slurm: extra #SBATCH option (repeatable).")
@click.option("--array/--no-array", default=True, show_default=True, help="slurm: one job array, or one job per pretraining.")
@click.option("--wait", is_flag=True, help="slurm: wait for the jobs and ingest their rows.")
@click.option("--skip-missing", is_flag=True, help="Run the cells whose data exists, leave the others.")
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
def run(name: str, output_dir: str | None, data_dir: str, roots: tuple[str, ...], sets: tuple[str, ...],
        methods: str | None, world_size: int | None, launcher: str, workers: int, partition: str | None, nodes: int,
        gpus_per_node: int, cpus_per_task: int | None, mem_gb: float | None, timeout_min: int, sbatch: tuple[str, ...],
        array: bool, wait: bool, skip_missing: bool, no_progress: bool) -> None:
    """Run the unfinished cells of suite NAME (one job per pretraining), then print its table."""
    from . import launchers
    from .plan import jobs
    from .results import CELLS, ingest, read_state

    processes = nodes * max(1, gpus_per_node) if launcher == "slurm" else 1
    if world_size not in (None, processes):
        raise SSLBenchError(f"--world-size {world_size} but the {launcher} launcher starts {processes} process(es) per "
                            f"job" + (" (--nodes x --gpus-per-node)" if launcher == "slurm" else "")
                            + f": expected --world-size {processes} or none")
    world_size = processes
    s, planned, out = _plan(name, output_dir, data_dir, roots, sets, methods, world_size)
    todo = [p for p in planned if not p.complete]
    lacking = [p for p in todo if p.missing_data]
    if lacking and not skip_missing:
        names = sorted({d for p in lacking for d in p.missing_data})
        raise SSLBenchError(f"{len(lacking)} cell(s) of {s.name} need data that is not there ({', '.join(names)}): "
                            f"give --data-dir or --root DATASET=PATH, or --skip-missing")
    groups = jobs([p for p in todo if not p.missing_data])
    specs = launchers.job_specs(groups, out, progress=not no_progress and launcher == "local", name=s.name)
    click.echo(f"{s.name}: {len(planned)} cell(s), {len(planned) - len(todo)} in the store, {len(specs)} job(s) "
               f"to run ({launcher})")
    store = out / "results.sqlite"
    finished, failed = [0], []

    def on_done(spec: Any, states: dict[str, str]) -> None:
        ingest(store, [out / CELLS / t.cell_id for t in spec.tasks])
        finished[0] += 1
        for t in spec.tasks:
            state = states.get(t.cell_id) or read_state(out / CELLS / t.cell_id).get("state", "not started")
            failed.extend([t.describe] if state == "failed" else [])
            click.echo(f"[{finished[0]}/{len(specs)}] {t.describe}: {state}")

    try:
        if launcher == "local":
            launchers.run_local(specs, on_done)
        elif launcher == "local-parallel":
            launchers.run_parallel(specs, workers, on_done)
        else:
            options = launchers.SlurmOptions(partition, nodes, gpus_per_node, cpus_per_task, timeout_min, mem_gb,
                                             launchers.parse_sbatch(sbatch), array)
            submitted = launchers.submit(specs, _submitit_folder(out, s.name), options)
            click.echo(f"submitted {len(submitted)} job(s): {', '.join(str(j.job_id) for j in submitted)}; "
                       f"follow with `sslbench suite status {name}`")
            if not wait:
                return
            launchers.wait(submitted, specs, on_done)
    except KeyboardInterrupt as exc:
        click.echo("\ninterrupted: finished cells are kept; run the same command again to continue", err=True)
        sys.exit(128 + getattr(exc, "signum", 2))
    _print_table(name, output_dir, data_dir, roots, sets, methods, world_size, "markdown", None, None)
    if failed:
        click.echo(f"{len(failed)} cell(s) failed ({', '.join(failed)}): their errors are in `sslbench suite status "
                   f"{name}`", err=True)
        sys.exit(1)


@suite.command()
@_common
def status(name: str, output_dir: str | None, data_dir: str, roots: tuple[str, ...], sets: tuple[str, ...],
           methods: str | None, world_size: int | None) -> None:
    """Each cell of suite NAME: done, running, queued, failed (with its error), pending."""
    from .status import suite_statuses, summary

    s, planned, out = _plan(name, output_dir, data_dir, roots, sets, methods, world_size)
    statuses = suite_statuses(planned, out, _submitit_folder(out, s.name))
    for st in statuses:
        detail = f": {st.detail}" if st.detail else ""
        click.echo(f"{st.state:<11} {st.planned.cell.describe()}{detail}")
    click.echo(summary(statuses))


def _submitit_folder(out: Path, suite_name: str) -> Path:
    """Where submitit keeps the jobs of a suite (their pickles, logs and results)."""
    return out / "suites" / suite_name / "submitit"


def _print_table(name: str, output_dir: str | None, data_dir: str, roots: tuple[str, ...], sets: tuple[str, ...],
                 methods: str | None, world_size: int | None, fmt: str, save: str | None, label: str | None) -> None:
    from ..output import emit as _emit
    from ..reporting.records import latest, with_eval_keys
    from ..store import read
    from .table import compare, render_comparison

    s, planned, out = _plan(name, output_dir, data_dir, roots, sets, methods, world_size)
    stored = latest(with_eval_keys(read(out / "results.sqlite")))
    _emit(render_comparison(compare(s, planned, stored), fmt, label), save)


@suite.command()
@_common
@click.option("--format", "-f", "fmt", type=click.Choice(["markdown", "latex", "csv", "html"]),
              help="Output format (default: from --save's extension, else markdown).")
@click.option("--save", type=click.Path(), help="Write the table to this file (.md, .tex, .csv, .html).")
@click.option("--label", help="LaTeX \\label of the table.")
def table(name: str, output_dir: str | None, data_dir: str, roots: tuple[str, ...], sets: tuple[str, ...],
          methods: str | None, world_size: int | None, fmt: str | None, save: str | None, label: str | None) -> None:
    """Suite NAME's table: ours next to the paper, the difference, the thesis's marks."""
    from ..reporting.render import format_for_path

    fmt = fmt or (format_for_path(save) if save else "markdown")
    _print_table(name, output_dir, data_dir, roots, sets, methods, world_size, fmt, save, label)
