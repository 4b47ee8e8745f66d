"""Commands for plugin authors: ``new-plugin`` and ``check-plugin`` (added through register_commands)."""

from __future__ import annotations

from pathlib import Path

import click

from sslbench import hookimpl


@hookimpl
def register_commands(cli):
    @cli.command(name="new-plugin")
    @click.argument("name")
    @click.option("--kind", type=click.Choice(["method", "backbone", "dataset", "protocol"]), default="method",
                  show_default=True, help="What the plugin registers.")
    @click.option("--template", type=click.Choice(["momentum", "siamese"]), default="momentum", show_default=True,
                  help="For --kind method: a MomentumMethod (EMA target, queue) or a SiameseMethod (no momentum "
                       "branch, in-batch negatives).")
    @click.option("--dir", "directory", type=click.Path(file_okay=False), default=".", show_default=True,
                  help="Where to create the sslbench-NAME folder.")
    def new_plugin_command(name: str, kind: str, template: str, directory: str) -> None:
        """Write a pip-installable plugin package NAME with its own conformance tests."""
        from sslbench.scaffold import new_plugin

        root = new_plugin(name, kind, Path(directory), template=template)
        click.echo(f"created {root}: cd {root} && pip install -e '.[test]' && python -m pytest -q")

    @cli.command(name="check-plugin")
    @click.argument("name")
    @click.option("--kind", type=click.Choice(["method", "backbone", "dataset", "protocol"]),
                  help="Check NAME as this kind only (default: every kind NAME is registered as).")
    @click.option("--data-root", type=click.Path(), help="Root folder of a dataset plugin (its split checks are "
                                                         "skipped without it), or of --dataset.")
    @click.option("--dataset", help="Dataset a protocol is checked on (default digits, bundled).")
    @click.pass_context
    def check_plugin_command(ctx: click.Context, name: str, kind: str | None, data_root: str | None,
                             dataset: str | None) -> None:
        """Run sslbench's conformance checks on the registered method, dataset, protocol or backbone NAME:
        one line per check (PASS, FAIL with the broken contract, SKIP with why); exit 1 on a failure."""
        from sslbench.testing import run_checks

        debug = bool((ctx.find_root().obj or {}).get("debug"))
        results = run_checks(name, kind=kind, root=data_root, dataset=dataset)
        for r in results:
            status = "SKIP" if r.skipped else "PASS" if r.ok else "FAIL"
            click.echo(f"{status}  {r.name}" + (f": {r.message}" if r.message else ""))
            if debug and r.traceback:
                click.echo(r.traceback.rstrip(), err=True)
        failed = sum(not r.ok for r in results)
        skipped = sum(r.skipped for r in results)
        click.echo(f"{len(results) - failed - skipped} passed, {failed} failed"
                   + (f", {skipped} skipped" if skipped else ""))
        if failed:
            raise SystemExit(1)
