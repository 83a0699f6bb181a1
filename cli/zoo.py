"""`kerascon zoo`: list, describe, download and convert architectures and pretrained weights."""

from __future__ import annotations

import click

from kerascon.choices import STEMS
from kerascon.cli.options import (
    LibraryChoice,
    add_options,
    data_options,
    import_tensorflow_quietly,
    json_option,
)

EXAMPLES = """\b
Examples:
  kerascon zoo list 'resnet50*'
  kerascon zoo list --pretrained
  kerascon zoo verify resnet18.supcon_digits
  kerascon zoo build resnet18.supcon_digits --output runs/supcon_digits
  kerascon zoo show resnet50
  kerascon zoo show resnet50.TAG
  kerascon zoo download resnet50.TAG
  kerascon zoo convert last.pth --layout supcontrast --arch resnet50 --output model.keras
"""


@click.group(epilog=EXAMPLES)
def zoo():
    """The encoder zoo: architectures, pretrained weights, PyTorch conversion."""


def _size(spec):
    if not spec.size:
        return "-"
    return f"{spec.size / 1e6:.1f} MB" if spec.size >= 1e5 else f"{spec.size / 1e3:.1f} kB"


def _metrics(spec):
    return ", ".join(f"{m.name.replace(' (%)', '')} {m.value:.1f}%" if "(%)" in m.name
                     else f"{m.name} {m.value}" for m in spec.metrics) or "-"


def _where(spec):
    if spec.shipped:
        return "shipped"
    return {"keras-application": "Keras cache",
            "keras-hub-preset": "kagglehub cache"}.get(spec.format, "download")


def _pretrained_table(names, detailed):
    from rich.table import Table

    from kerascon.zoo.pretrained import get_pretrained

    table = Table(title="kerascon pretrained weights")
    table.add_column("name", no_wrap=True)
    columns = (("dataset", "metric (test split)", "size", "from", "input", "license") if detailed
               else ("format", "dataset", "input", "features", "projection", "license"))
    for column in columns:
        table.add_column(column, overflow="fold")
    for name in names:
        spec = get_pretrained(name)
        dataset = spec.recipe.dataset if spec.recipe else "?"
        size = "x".join(map(str, spec.input_size))
        if detailed:
            table.add_row(name, dataset, _metrics(spec), _size(spec), _where(spec), size,
                          spec.license)
        else:
            table.add_row(name, spec.format, dataset, size, str(spec.feature_dim),
                          str(spec.projection_dim or "-"), spec.license)
    return table


@zoo.command("list")
@click.argument("pattern", default="*")
@click.option("--pretrained", "pretrained_only", is_flag=True,
              help="Only the pretrained weights, with their data set, measured metrics and size.")
def list_command(pattern, pretrained_only):
    """List architectures and pretrained weights matching a wildcard PATTERN.

    Reads plain tables: it loads neither TensorFlow nor Keras.
    """
    from rich.console import Console
    from rich.table import Table

    from kerascon.zoo.catalogue import describe_architecture, list_architectures
    from kerascon.zoo.pretrained import list_pretrained

    console = Console()
    if not pretrained_only:
        table = Table(title="kerascon architectures")
        for column in ("name", "family", "features", "stem", "description"):
            table.add_column(column)
        for name in list_architectures(pattern):
            spec = describe_architecture(name)
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
    console.print(_pretrained_table(names, detailed=pretrained_only))


def _pretrained_rows(spec):
    import dataclasses

    from kerascon.zoo.download import cache_path

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
    if spec.shipped:
        rows.append(("file", f"{path} (shipped in the package; sha256 checked on every load)"))
        rows.append(("verify", f"kerascon zoo verify {spec.name}"))
        rows.append(("build", f"kerascon zoo build {spec.name} --output RUN"))
    else:
        rows.append(("cache", f"{path} ({'present' if path.exists() else 'not downloaded'})"))
    return rows


@zoo.command("show")
@click.argument("name")
def show(name):
    """Describe one architecture (e.g. resnet50) or pretrained entry (ARCH.TAG)."""
    import dataclasses

    from rich.console import Console
    from rich.table import Table

    from kerascon.zoo.catalogue import describe_architecture as get_architecture
    from kerascon.zoo.pretrained import get_pretrained

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


def _progress_for(config):
    from kerascon.cli.progress import RichProgress

    return [RichProgress(images_per_step=config.batch_size * (config.views if config.stage in (
        "contrastive", "joint") else 1), epochs=config.epochs)]


def _card_check(result):
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{result['name']}: card vs measured (test split)")
    for column in ("metric", "card", "measured", "ok"):
        table.add_column(column)
    for row in result["metrics"]:
        card = "-" if row["card"] is None else f"{row['card']:.2f}"
        table.add_row(row["name"], card, f"{row['measured']:.2f}", "yes" if row["ok"] else "NO")
    Console().print(table)


@zoo.command("verify")
@click.argument("name")
@add_options(data_options[:1])
@click.option("--linear-epochs", type=click.IntRange(min=1), default=None,
              help="Train the linear classifier this many epochs instead of the recipe's "
                   "(a quick check; the comparison with the card still applies).")
@click.option("--output", "output_dir", type=click.Path(file_okay=False), default=None,
              help="Keep the run directory here (default: a temporary one).")
@json_option
def verify(name, data, linear_epochs, output_dir, as_json):
    """Re-measure the card of the pretrained entry NAME on its test split.

    Loads the shipped weights (offline, sha256 checked), trains the linear classifier on
    the frozen encoder as the card's recipe says, evaluates linear top-1 and kNN top-1,
    and exits with 1 when a metric is more than one point below the card.
    """
    import json

    import_tensorflow_quietly()
    from kerascon.runs.zoo_entries import TOLERANCE, verify_entry

    result = verify_entry(name, data=data, linear_epochs=linear_epochs, output=output_dir,
                          callbacks_for=None if as_json else _progress_for)
    if as_json:
        click.echo(json.dumps(result))
    else:
        _card_check(result)
    if not result["ok"]:
        low = ", ".join(r["name"] for r in result["metrics"] if not r["ok"])
        verb = "are" if "," in low else "is"
        raise click.ClickException(
            f"{low} of {result['name']} {verb} more than {TOLERANCE:g} point below the card; "
            "check the data and the recipe, or rebuild the entry with `kerascon zoo build`")


@zoo.command("build")
@click.argument("name")
@click.option("--output", "output_dir", type=click.Path(file_okay=False), required=True,
              help="New run directory for the recipe's stages.")
@add_options(data_options[:1])
@click.option("--overwrite", is_flag=True, help="Replace an existing run directory.")
@json_option
def build(name, output_dir, data, overwrite, as_json):
    """Rerun the recipe of the pretrained entry NAME (contrastive + linear stage) into a run.

    Prints the measured linear top-1 and kNN top-1 and writes the encoder's float16
    weights to RUN/zoo/encoder.npz with their sha256 and size.
    """
    import json

    import_tensorflow_quietly()
    from kerascon.runs.zoo_entries import build_entry

    result = build_entry(name, output_dir, data=data, overwrite=overwrite,
                         callbacks_for=None if as_json else _progress_for)
    if as_json:
        click.echo(json.dumps(result))
        return
    metrics = ", ".join(f"{k} {v:.2f}" for k, v in result["metrics"].items())
    click.echo(f"Built {result['name']} into {result['run']}: {metrics}")
    click.echo(f"Weights {result['weights']}: sha256 {result['sha256']}, {result['size']} bytes")


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
