"""`kerascon zoo`: list and describe registered encoder architectures."""

from __future__ import annotations

import click


@click.group()
def zoo():
    """The encoder zoo."""


@zoo.command("list")
@click.argument("pattern", default="*")
def list_command(pattern):
    """List architectures matching a wildcard PATTERN (default: all)."""
    from rich.console import Console
    from rich.table import Table

    from kerascon.zoo import get_architecture, list_architectures

    table = Table(title="kerascon architectures")
    for column in ("name", "family", "features", "stem", "description"):
        table.add_column(column)
    for name in list_architectures(pattern):
        spec = get_architecture(name)
        table.add_row(name, str(spec.family), str(spec.feature_dim), str(spec.default_stem),
                      str(spec.description))
    Console().print(table)


@zoo.command("show")
@click.argument("name")
def show(name):
    """Describe one architecture."""
    import dataclasses

    from rich.console import Console
    from rich.table import Table

    from kerascon.zoo import get_architecture

    spec = get_architecture(name)
    table = Table(title=name, show_header=False)
    for field in dataclasses.fields(spec):
        if field.name != "builder":
            table.add_row(field.name, str(getattr(spec, field.name)))
    Console().print(table)
