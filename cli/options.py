"""Options shared by several commands, defined once."""

import click

run_option = click.option(
    "--run", "run_dir", type=click.Path(file_okay=False), required=True,
    help="Run directory written by `kerascon train --output`.",
)
data_options = [
    click.option("--data", default=None,
                 help="Image folder (one subfolder per class), .npz of arrays, or "
                      "embedded:digits."),
    click.option("--dataset", default=None, help="A TFDS dataset name, e.g. cifar10."),
    click.option("--data-dir", default=None, type=click.Path(),
                 help="TFDS data directory (prepared data is read from here)."),
]
json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print one JSON object on stdout instead of a table.")


def add_options(options):
    def decorator(function):
        for option in reversed(options):
            function = option(function)
        return function
    return decorator


def resolve_data(data, dataset):
    """--data and --dataset are two spellings of one source; exactly one may be given."""
    if data and dataset:
        raise click.UsageError("pass either --data or --dataset, not both")
    return data or dataset
