"""`kerascon freeze`: write the run's encoder alone, for inference."""

from __future__ import annotations

import click

from kerascon.cli.options import run_option


@click.command()
@run_option
def freeze(run_dir):
    """Write RUN/encoder/encoder.keras: preprocessing + encoder, frozen."""
    from kerascon.export import export_keras
    from kerascon.runs import RunDirectory
    from kerascon.training import load_run_model

    model = load_run_model(run_dir)
    encoder = model.embedding_model()
    encoder.trainable = False
    path = export_keras(encoder, RunDirectory(run_dir).encoder_path)
    click.echo(f"frozen encoder written to {path}")
