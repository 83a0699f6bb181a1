"""`kerascon export`: a SavedModel serving raw images, or a .keras file."""

from __future__ import annotations

from pathlib import Path

import click

from kerascon.cli.options import import_tensorflow_quietly, run_option

EXAMPLES = """\b
Examples:
  kerascon export --run runs/pets                        # SavedModel in runs/pets/export
  kerascon export --run runs/pets --output serving/pets/1
  kerascon export --run runs/pets --format keras         # runs/pets/export.keras
"""


@click.command(epilog=EXAMPLES)
@run_option
@click.option("--output", "output", type=click.Path(), default=None,
              help="Destination (default: RUN/export, or RUN/export.keras with --format keras): "
                   "a new or empty folder, or an earlier export (never a run or other files).")
@click.option("--format", "export_format", type=click.Choice(["savedmodel", "keras"]),
              default="savedmodel", show_default=True)
def export(run_dir, output, export_format):
    """Export a run's model for serving.

    The SavedModel's serving_default signature takes raw uint8 images [N, H, W, 3] of any
    size and returns embedding, logits and probabilities.
    """
    from kerascon.ownership import require_export_destination

    if output is None:
        output = Path(run_dir) / ("export.keras" if export_format == "keras" else "export")
    # Before TensorFlow loads: an export writes only where it replaces nothing of the user's.
    require_export_destination(output, kind=export_format)
    import_tensorflow_quietly()
    from kerascon.export import export_keras, export_saved_model
    from kerascon.runs.records import image_size_of, load_run_model

    model = load_run_model(run_dir)
    if export_format == "keras":
        path = export_keras(model, output)
    else:
        path = export_saved_model(model, output, image_size=image_size_of(run_dir))
    click.echo(f"exported {export_format} to {path}")
