"""`kerascon zoo`: list, describe, download and convert architectures and pretrained weights."""

from __future__ import annotations

import click

from kerascon.choices import STEMS
from kerascon.cli.options import LibraryChoice

EXAMPLES = """\b
Examples:
  kerascon zoo list 'resnet50*'
  kerascon zoo show resnet50
  kerascon zoo show resnet50.TAG
  kerascon zoo download resnet50.TAG
  kerascon zoo convert last.pth --layout supcontrast --arch resnet50 --output model.keras
"""


@click.group(epilog=EXAMPLES)
def zoo():
    """The encoder zoo: architectures, pretrained weights, PyTorch conversion."""


@zoo.command("list")
@click.argument("pattern", default="*")
def list_command(pattern):
    """List architectures and pretrained weights matching a wildcard PATTERN."""
    from rich.console import Console
    from rich.table import Table

    from kerascon.zoo import get_architecture, get_pretrained, list_architectures, list_pretrained

    console = Console()
    table = Table(title="kerascon architectures")
    for column in ("name", "family", "features", "stem", "description"):
        table.add_column(column)
    for name in list_architectures(pattern):
        spec = get_architecture(name)
        table.add_row(name, str(spec.family), str(spec.feature_dim), str(spec.default_stem),
                      str(spec.description))
    console.print(table)

    names = list_pretrained(pattern)
    if not names:
        any_registered = bool(list_pretrained())
        console.print("No pretrained weights match." if any_registered else
                      "No pretrained weights are registered (kerascon.zoo.register_pretrained "
                      "adds them).")
        return
    table = Table(title="kerascon pretrained weights")
    table.add_column("name", no_wrap=True)
    for column in ("format", "dataset", "input", "features", "projection", "license"):
        table.add_column(column, overflow="fold")
    for name in names:
        spec = get_pretrained(name)
        table.add_row(
            name, spec.format, spec.recipe.dataset if spec.recipe else "?",
            "x".join(map(str, spec.input_size)), str(spec.feature_dim),
            str(spec.projection_dim or "-"), spec.license,
        )
    console.print(table)


def _pretrained_rows(spec):
    import dataclasses

    from kerascon.zoo import cache_path

    rows = []
    for field in dataclasses.fields(spec):
        value = getattr(spec, field.name)
        if field.name == "recipe" and value is not None:
            value = ", ".join(f"{f.name}={getattr(value, f.name)}"
                              for f in dataclasses.fields(value) if getattr(value, f.name))
        elif field.name == "metrics":
            value = "; ".join(f"{m.name} {m.value} on {m.dataset} ({m.citation})"
                              for m in value) or "-"
        rows.append((field.name, str(value)))
    path = cache_path(spec)
    rows.append(("cache", f"{path} ({'present' if path.exists() else 'not downloaded'})"))
    return rows


@zoo.command("show")
@click.argument("name")
def show(name):
    """Describe one architecture (e.g. resnet50) or pretrained entry (ARCH.TAG)."""
    import dataclasses

    from rich.console import Console
    from rich.table import Table

    from kerascon.zoo import get_architecture, get_pretrained

    table = Table(title=name, show_header=False)
    table.add_column("field", no_wrap=True)
    table.add_column("value", overflow="fold")
    if "." in name:
        for key, value in _pretrained_rows(get_pretrained(name)):
            table.add_row(key, value)
    else:
        spec = get_architecture(name)
        for field in dataclasses.fields(spec):
            if field.name != "builder":
                table.add_row(field.name, str(getattr(spec, field.name)))
    Console().print(table)


@zoo.command("download")
@click.argument("name")
@click.option("--force", is_flag=True, help="Fetch again even if a verified copy is cached.")
def download_command(name, force):
    """Fetch the pretrained weights NAME into the cache, verify sha256, print the path."""
    from kerascon.zoo import download

    click.echo(str(download(name, force=force, progress=True)))


@zoo.command("convert")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--layout", type=LibraryChoice("kerascon.zoo.torch_import", "LAYOUTS"),
              default="supcontrast", show_default=True,
              help="Key layout of the PyTorch checkpoint.")
@click.option("--arch", default=None, help="ResNet name (default: guessed from the checkpoint).")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False),
              help="Where to write the Keras model (.keras).")
@click.option("--stem", type=click.Choice(STEMS), default=None,
              help="Encoder stem (default: from conv1's kernel size).")
@click.option("--width-multiplier", type=float, default=None,
              help="Default: conv1 output channels / 64.")
@click.option("--mean", type=float, nargs=3, default=None,
              help="Per-channel mean of [0, 1] pixels the network was trained with.")
@click.option("--std", type=float, nargs=3, default=None, help="Per-channel std, as --mean.")
@click.option("--classifier", is_flag=True, help="Keep the checkpoint's fc as the classifier.")
def convert(path, layout, arch, output, stem, width_multiplier, mean, std, classifier):
    """Convert the PyTorch checkpoint PATH into a Keras SupConModel (.keras).

    The file is read with torch.load(weights_only=True): no code in it runs.
    """
    from pathlib import Path

    from kerascon.atomic_files import atomic_path
    from kerascon.zoo import from_torch

    if Path(output).suffix != ".keras":
        raise click.BadParameter(f"{output!r} must end with .keras", param_hint="--output")
    try:
        model = from_torch(
            path, layout=layout, arch=arch, stem=stem, width_multiplier=width_multiplier,
            mean=mean or None, std=std or None, classifier=classifier,
        )
    except ImportError as err:  # torch is an optional dependency
        raise click.ClickException(str(err)) from err
    with atomic_path(output, suffix=".keras") as tmp:
        model.save(tmp)
    head = model.projection_head
    click.echo(
        f"Wrote {output}: {model.encoder.name}, {model.feature_dim}-d features, "
        f"{head.head_type} head -> {head.output_dim}"
        + (f", classifier for {model.num_classes} classes" if model.num_classes else "")
    )
