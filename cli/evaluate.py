"""`kerascon eval`: top-1 / top-5 of a run's classifier."""

from __future__ import annotations

import json

import click

from kerascon.cli.options import add_options, data_options, json_option, resolve_data, run_option


@click.command("eval")
@run_option
@add_options(data_options)
@click.option("--split", default="test", show_default=True)
@click.option("--frozen/--no-frozen", default=False,
              help="Evaluate the linear classifier on the frozen encoder (after --stage linear); "
                   "without it, a ce or joint run's own classifier.")
@click.option("--batch-size", type=int, default=256, show_default=True)
@json_option
def evaluate(run_dir, data, dataset, data_dir, split, frozen, batch_size, as_json):
    """Evaluate a run: top-1 and top-5 accuracy."""
    from kerascon.training import evaluate_run, stage_config

    source = resolve_data(data, dataset)
    if source is None:
        base = stage_config(run_dir, "linear") or stage_config(run_dir, "ce") \
            or stage_config(run_dir, "joint")
        if base is None:
            raise click.UsageError("pass --data or --dataset (the run records none)")
        source, data_dir = base.data, data_dir or base.data_dir
    results = evaluate_run(run_dir, source, split=split, data_dir=data_dir,
                           batch_size=batch_size, frozen=frozen)
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
    Console().print(table)
