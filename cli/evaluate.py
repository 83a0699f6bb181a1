"""`kerascon eval`: top-1 / top-5 of a run's classifier."""

from __future__ import annotations

import json

import click

from kerascon.cli.options import (add_options, data_options, import_tensorflow_quietly,
                                   json_option, resolve_data, run_option)

EXAMPLES = """\b
Examples:
  kerascon eval --frozen --run runs/pets                 # the data and split it trained on
  kerascon eval --frozen --run runs/pets --json
  kerascon eval --run runs/ce                            # a ce or joint run's own classifier
  kerascon eval --frozen --run runs/flowers --data heldout/ --split none
"""


@click.command("eval", epilog=EXAMPLES)
@run_option
@add_options(data_options)
@click.option("--split", default=None,
              help="Split to evaluate (default: the run's --eval-split, or test for other "
                   "data); `none` reads an image folder's class subfolders directly.")
@click.option("--frozen/--no-frozen", default=False,
              help="Evaluate the linear classifier on the frozen encoder (after --stage linear); "
                   "without it, a ce or joint run's own classifier.")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--skip-corrupt", is_flag=True, default=None,
              help="Leave unreadable images out instead of failing (default: as in training).")
@json_option
def evaluate(run_dir, data, dataset, data_dir, split, frozen, batch_size, skip_corrupt, as_json):
    """Evaluate a run: top-1 and top-5 accuracy.

    Without --data the run is evaluated on the data it was trained on.
    """
    import_tensorflow_quietly()
    from kerascon.training import evaluate_run

    results = evaluate_run(run_dir, resolve_data(data, dataset),
                           split="recorded" if split is None else split, data_dir=data_dir,
                           batch_size=batch_size, frozen=frozen, skip_corrupt=skip_corrupt)
    if as_json:
        click.echo(json.dumps(results))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{run_dir} on {results['dataset']} ({results['examples']} images)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("top-1", f"{results['top1']:.2%}")
    table.add_row("top-5", f"{results['top5']:.2%}")
    table.add_row("loss", f"{results['loss']:.4f}")
    if results.get("skipped_images"):
        table.add_row("skipped images", str(results["skipped_images"]))
    Console().print(table)
