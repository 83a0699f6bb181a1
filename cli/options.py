"""Options and helpers shared by several commands, defined once."""

import os
import sys

import click

from kerascon.data.data_paths import NPZ_LAYOUTS

#: What --data takes, with the keys of a .npz file.
DATA_HELP = ("Image folder (DIR/train/<class>/ and DIR/test/<class>/, or DIR/<class>/), a .npz "
             "file, or embedded:digits. A .npz holds " + NPZ_LAYOUTS)
run_option = click.option(
    "--run", "run_dir", type=click.Path(file_okay=False), required=True,
    help="Run directory written by `kerascon train --output`.",
)
data_options = [
    click.option("--data", default=None, help=DATA_HELP + "."),
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


def import_tensorflow_quietly():
    """Import TensorFlow and Keras with their C++ start-up lines hidden.

    On machines without CUDA drivers TensorFlow prints "Could not find cuda drivers" and
    absl notices on stderr while it loads, whatever TF_CPP_MIN_LOG_LEVEL says; --quiet
    promises nothing but errors. Python exceptions from the import still show; with --debug
    or KERASCON_DEBUG=1 nothing is hidden.
    """
    context = click.get_current_context(silent=True)
    debug = bool(context and (context.find_root().obj or {}).get("debug"))
    if "tensorflow" in sys.modules or debug or os.environ.get("KERASCON_DEBUG") == "1":
        return
    try:
        stderr_fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no file descriptor, e.g. under CliRunner
        return
    sys.stderr.flush()
    saved = os.dup(stderr_fd)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), stderr_fd)
            try:
                import keras  # noqa: F401
                import tensorflow  # noqa: F401
            finally:
                os.dup2(saved, stderr_fd)
    finally:
        os.close(saved)
