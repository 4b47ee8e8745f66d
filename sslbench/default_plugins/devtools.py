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
    @click.option("--dir", "directory", type=click.Path(file_okay=False), default=".", show_default=True,
                  help="Where to create the sslbench-NAME folder.")
    def new_plugin_command(name: str, kind: str, directory: str) -> None:
        """Write a pip-installable plugin package NAME with its own conformance tests."""
        from sslbench.scaffold import new_plugin

        root = new_plugin(name, kind, Path(directory))
        click.echo(f"created {root}: cd {root} && pip install -e '.[test]' && python -m pytest -q")

    @cli.command(name="check-plugin")
    @click.argument("name")
    def check_plugin_command(name: str) -> None:
        """Run sslbench's conformance checks on the registered method or backbone NAME."""
        from sslbench.testing import run_checks

        results = run_checks(name)
        for r in results:
            click.echo(f"{'PASS' if r.ok else 'FAIL'}  {r.name}" + (f": {r.message}" if r.message else ""))
        failed = sum(not r.ok for r in results)
        click.echo(f"{len(results) - failed} passed, {failed} failed")
        if failed:
            raise SystemExit(1)
