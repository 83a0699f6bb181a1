"""`kerascon zoo`: list, describe, download and convert architectures and pretrained weights."""

from __future__ import annotations

import click

from kerascon.choices import STEMS
from kerascon.cli.options import (
    add_options,
    data_options,
    import_tensorflow_quietly,
    json_option,
    resolve_data,
)
from kerascon.zoo.torch_checkpoint import LAYOUTS

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


def _pretrained_rows_of(names, detailed):
    """One dict per pretrained entry: the columns of `zoo list` (or of --pretrained)."""
    from kerascon.zoo.pretrained import get_pretrained

    rows = []
    for name in names:
        spec = get_pretrained(name)
        dataset = spec.recipe.dataset if spec.recipe else "?"
        size = "x".join(map(str, spec.input_size))
        if detailed:
            rows.append({"name": name, "dataset": dataset, "metric (test split)": _metrics(spec),
                         "size": _size(spec), "from": _where(spec), "input": size,
                         "license": spec.license})
        else:
            rows.append({"name": name, "format": spec.format, "dataset": dataset, "input": size,
                         "features": str(spec.feature_dim),
                         "projection": str(spec.projection_dim or "-"), "license": spec.license})
    return rows


def _architecture_rows(pattern):
    from kerascon.zoo.catalogue import describe_architecture, list_architectures

    rows = []
    for name in list_architectures(pattern):
        spec = describe_architecture(name)
        rows.append({"name": name, "family": str(spec.family), "features": str(spec.feature_dim),
                     "stem": str(spec.default_stem), "description": str(spec.description)})
    return rows


def _print_rows(console, title, rows, output_format):
    """``rows`` (dicts with the same keys) as a rich table, or tab-separated plain lines."""
    if output_format == "plain":
        click.echo("\t".join(rows[0]))
        for row in rows:
            click.echo("\t".join(row.values()))
        return
    from rich.table import Table

    table = Table(title=title)
    for column in rows[0]:
        table.add_column(column, no_wrap=column == "name", overflow="fold")
    for row in rows:
        table.add_row(*row.values())
    console.print(table)


LIST_EXAMPLES = """\b
Examples:
  kerascon zoo list
  kerascon zoo list 'resnet*'
  kerascon zoo list --pretrained
  kerascon zoo list --format plain | grep hub_resnet     # one tab-separated row per name
  kerascon zoo list --pretrained --format json
"""


@zoo.command("list", epilog=LIST_EXAMPLES)
@click.argument("pattern", default="*")
@click.option("--pretrained", "pretrained_only", is_flag=True,
              help="Only the pretrained weights, with their data set, measured metrics and size.")
@click.option("--format", "output_format", type=click.Choice(["table", "plain", "json"]),
              default="table", show_default=True,
              help="table: for people (whole cells also in a pipe); plain: a header line, then "
                   "one tab-separated line per name; json: one object with an `architectures` "
                   "and a `pretrained` list.")
def list_command(pattern, pretrained_only, output_format):
    """List architectures and pretrained weights matching a wildcard PATTERN.

    Reads plain tables: it loads neither TensorFlow nor Keras.
    """
    import json

    from kerascon.cli.console import stdout_console
    from kerascon.zoo.pretrained import list_pretrained

    architectures = [] if pretrained_only else _architecture_rows(pattern)
    pretrained = _pretrained_rows_of(list_pretrained(pattern), detailed=pretrained_only)
    if output_format == "json":  # numbers as numbers
        architectures, pretrained = ([{k: int(v) if v.isdigit() else v for k, v in row.items()}
                                      for row in rows] for rows in (architectures, pretrained))
        result = {"pretrained": pretrained}
        if not pretrained_only:
            result = {"architectures": architectures, **result}
        click.echo(json.dumps(result, indent=1))
        return
    console = stdout_console()
    if architectures:
        _print_rows(console, "kerascon architectures", architectures, output_format)
    if not pretrained:
        if output_format == "plain":
            return
        any_registered = bool(list_pretrained())
        console.print("No pretrained weights match." if any_registered else
                      "No pretrained weights are registered (kerascon.zoo.register_pretrained "
                      "adds them).")
        return
    if architectures and output_format == "plain":
        click.echo("")  # a blank line between the two tables
    _print_rows(console, "kerascon pretrained weights", pretrained, output_format)


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


SHOW_EXAMPLES = """\b
Examples:
  kerascon zoo show resnet50                   # an architecture
  kerascon zoo show resnet18.supcon_digits     # a pretrained entry: its card, file and recipe
"""


@zoo.command("show", epilog=SHOW_EXAMPLES)
@click.argument("name")
def show(name):
    """Describe one architecture (e.g. resnet50) or pretrained entry (ARCH.TAG)."""
    import dataclasses

    from rich.table import Table

    from kerascon.cli.console import stdout_console
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
    stdout_console().print(table)


DOWNLOAD_EXAMPLES = """\b
Examples:
  kerascon zoo download keras_resnet50.imagenet            # into Keras' cache
  kerascon zoo download resnet50.TAG --force               # fetch and verify again
"""


@zoo.command("download", epilog=DOWNLOAD_EXAMPLES)
@click.argument("name")
@click.option("--force", is_flag=True, help="Fetch again even if a verified copy is cached.")
def download_command(name, force):
    """Fetch the pretrained weights NAME into the cache, verify sha256, print the path."""
    from kerascon.zoo import download

    click.echo(str(download(name, force=force, progress=True)))


def _progress_for(config):
    from kerascon.cli.progress import RichProgress
    from kerascon.model.stages import STAGES

    views = config.views if STAGES[config.stage].multiview else 1
    return [RichProgress(images_per_step=config.batch_size * views, total_epochs=config.epochs)]


def _card_check(result):
    from rich.table import Table

    from kerascon.cli.console import stdout_console

    table = Table(title=f"{result['name']}: card vs measured (test split)")
    for column in ("metric", "card", "measured", "ok"):
        table.add_column(column)
    for row in result["metrics"]:
        card = "-" if row["card"] is None else f"{row['card']:.2f}"
        table.add_row(row["name"], card, f"{row['measured']:.2f}", "yes" if row["ok"] else "NO")
    stdout_console().print(table)


VERIFY_EXAMPLES = """\b
Examples:
  kerascon zoo verify resnet18.supcon_digits
  kerascon zoo verify resnet18.supcon_digits --linear-epochs 5 --json
  kerascon zoo verify resnet18.supcon_digits --output runs/verify   # keep the run
  kerascon zoo verify resnet20.supcon_cifar10 --data-dir ~/tensorflow_datasets
  kerascon zoo verify resnet20.supcon_cifar10 --data ~/data/cifar10   # your own copy
"""


@zoo.command("verify", epilog=VERIFY_EXAMPLES)
@click.argument("name")
@add_options(data_options)
@click.option("--linear-epochs", type=click.IntRange(min=1), default=None,
              help="Train the linear classifier this many epochs instead of the recipe's "
                   "(a quick check; the comparison with the card still applies).")
@click.option("--output", "output_dir", type=click.Path(file_okay=False), default=None,
              help="Keep the run directory here (default: a temporary one).")
@json_option
def verify(name, data, dataset, data_dir, linear_epochs, output_dir, as_json):
    """Re-measure the card of the pretrained entry NAME on its test split.

    Loads the shipped weights (offline, sha256 checked), trains the linear classifier on
    the frozen encoder as the card's recipe says, evaluates linear top-1 and kNN top-1,
    and exits with 1 when a metric is more than one point below the card.
    """
    import json

    from kerascon.zoo.pretrained import get_pretrained

    get_pretrained(name)  # an unknown name is refused before TensorFlow loads
    import_tensorflow_quietly()
    from kerascon.runs.zoo_entries import TOLERANCE, verify_entry

    result = verify_entry(name, data=resolve_data(data, dataset), data_dir=data_dir,
                          linear_epochs=linear_epochs, output=output_dir,
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


BUILD_EXAMPLES = """\b
Examples:
  kerascon zoo build resnet18.supcon_digits --output runs/supcon_digits
  kerascon zoo build resnet18.supcon_digits --output runs/supcon_digits --overwrite --json
  kerascon zoo build resnet20.supcon_cifar10 --output runs/r20 --data ~/data/cifar10
  kerascon zoo build resnet20.supcon_cifar10 --output runs/r20 --resume   # after a stop
"""


@zoo.command("build", epilog=BUILD_EXAMPLES)
@click.argument("name")
@click.option("--output", "output_dir", type=click.Path(file_okay=False), required=True,
              help="New run directory for the recipe's stages.")
@add_options(data_options)
@click.option("--overwrite", is_flag=True, help="Replace an existing run directory.")
@click.option("--resume", is_flag=True,
              help="Continue a build that stopped: an unfinished stage from its last checkpoint.")
@json_option
def build(name, output_dir, data, dataset, data_dir, overwrite, resume, as_json):
    """Rerun the recipe of the pretrained entry NAME (contrastive + linear stage) into a run.

    Prints the measured linear top-1 and kNN top-1 and writes the encoder's float16
    weights to RUN/zoo/encoder.npz with their sha256 and size.
    """
    import json

    from kerascon.zoo.pretrained import get_pretrained

    if resume and overwrite:
        raise click.UsageError("--resume continues a build and --overwrite replaces it; pass one "
                               "of them")
    get_pretrained(name)  # an unknown name is refused before TensorFlow loads
    import_tensorflow_quietly()
    from kerascon.runs.zoo_entries import build_entry

    result = build_entry(name, output_dir, data=resolve_data(data, dataset), data_dir=data_dir,
                         overwrite=overwrite, resume=resume,
                         callbacks_for=None if as_json else _progress_for)
    if as_json:
        click.echo(json.dumps(result))
        return
    metrics = ", ".join(f"{k} {v:.2f}" for k, v in result["metrics"].items())
    click.echo(f"Built {result['name']} into {result['run']}: {metrics}")
    click.echo(f"Weights {result['weights']}: sha256 {result['sha256']}, {result['size']} bytes")


CONVERT_EXAMPLES = """\b
Examples:
  kerascon zoo convert last.pth --layout supcontrast --arch resnet50 --output model.keras
  kerascon zoo convert resnet18.pth --layout torchvision --classifier --output r18.keras
  kerascon zoo convert resnet20.th --layout cifar_resnet --classifier --output r20.keras
"""


@zoo.command("convert", epilog=CONVERT_EXAMPLES)
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--layout", type=click.Choice(tuple(LAYOUTS)),
              default="supcontrast", show_default=True,
              help="Key layout of the PyTorch checkpoint.")
@click.option("--arch", default=None, help="ResNet name (default: guessed from the checkpoint).")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False),
              help="Where to write the Keras model (.keras).")
@click.option("--stem", type=click.Choice(STEMS), default=None,
              help="Encoder stem (default: from conv1's kernel size).")
@click.option("--width-multiplier", type=float, default=None,
              help="Default: conv1 output channels / 64 (/ 16 for a CIFAR ResNet, --layout "
                   "cifar_resnet).")
@click.option("--mean", type=float, nargs=3, default=None,
              help="Per-channel mean of [0, 1] pixels the network was trained with.")
@click.option("--std", type=float, nargs=3, default=None, help="Per-channel std, as --mean.")
@click.option("--classifier", is_flag=True,
              help="Keep the checkpoint's fc (linear in --layout cifar_resnet) as the classifier.")
def convert(path, layout, arch, output, stem, width_multiplier, mean, std, classifier):
    """Convert the PyTorch checkpoint PATH into a Keras SupConModel (.keras).

    The file is read with torch.load(weights_only=True): no code in it runs.
    """
    from pathlib import Path

    from kerascon._utils.atomic_files import atomic_path
    from kerascon.ownership import mark_keras_export, require_export_destination
    from kerascon.zoo import from_torch

    if Path(output).suffix != ".keras":
        raise click.BadParameter(f"{output!r} must end with .keras", param_hint="--output")
    require_export_destination(output, kind="keras")  # never over a file of the user's
    try:
        model = from_torch(
            path, layout=layout, arch=arch, stem=stem, width_multiplier=width_multiplier,
            mean=mean or None, std=std or None, classifier=classifier,
        )
    except ImportError as err:  # torch is an optional dependency
        raise click.ClickException(str(err)) from err
    with atomic_path(output, suffix=".keras") as tmp:
        model.save(tmp)
        mark_keras_export(tmp)
    head = model.projection_head
    click.echo(
        f"Wrote {output}: {model.encoder.name}, {model.feature_dim}-d features, "
        f"{head.head_type} head -> {head.output_dim}"
        + (f", classifier for {model.num_classes} classes" if model.num_classes else "")
    )
