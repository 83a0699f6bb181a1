"""`kerascon freeze`: write the run's encoder alone, for inference."""

from __future__ import annotations

from pathlib import Path

import click

from kerascon.cli.options import import_tensorflow_quietly, run_option
from kerascon.cli.preflight import check_existing_run

EXAMPLES = """\b
Examples:
  kerascon freeze --run runs/pets      # writes runs/pets/encoder/encoder.keras
"""


@click.command(epilog=EXAMPLES)
@run_option
def freeze(run_dir):
    """Write RUN/encoder/encoder.keras: preprocessing + encoder, frozen."""
    check_existing_run(run_dir)  # before TensorFlow loads

    from kerascon.ownership import require_export_destination
    from kerascon.runs.directory import RunDirectory

    destination = RunDirectory(run_dir).encoder_path
    if Path(run_dir).is_dir():  # a missing run: the loader's message says what to pass
        require_export_destination(destination, kind="keras")  # only inside a run
    import_tensorflow_quietly()
    from kerascon.export import export_keras
    from kerascon.runs.records import load_run_model

    model = load_run_model(run_dir)
    encoder = model.embedding_model()
    encoder.trainable = False
    path = export_keras(encoder, destination)
    click.echo(f"frozen encoder written to {path}")
