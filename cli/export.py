"""`kerascon export`: a SavedModel serving raw images, or a .keras file."""

from __future__ import annotations

from pathlib import Path

import click

from kerascon.cli.options import import_tensorflow_quietly, run_option
from kerascon.cli.preflight import check_existing_run

EXAMPLES = """\b
Examples:
  kerascon export --run runs/pets                        # SavedModel in runs/pets/export
  kerascon export --run runs/pets --output serving/pets/1
  kerascon export --run runs/pets --format keras         # runs/pets/export.keras
"""


def _signatures(path, with_classifier: bool, run_dir) -> str:
    """The line that says what the SavedModel serves."""
    if with_classifier:
        return (f"exported savedmodel to {path}: serving_default (embedding, logits, "
                "probabilities) and projection")
    return (f"exported savedmodel to {path}: serving_default (embedding) and projection; no "
            "logits or probabilities, the run has trained no classifier (train one with "
            f"`kerascon train --stage linear --run {run_dir}`, or export the untrained one "
            "with --include-untrained-classifier)")


@click.command(epilog=EXAMPLES)
@run_option
@click.option("--output", "output", type=click.Path(), default=None,
              help="Destination (default: RUN/export, or RUN/export.keras with --format keras): "
                   "a new or empty folder, or an earlier export (never a run or other files).")
@click.option("--format", "export_format", type=click.Choice(["savedmodel", "keras"]),
              default="savedmodel", show_default=True)
@click.option("--include-untrained-classifier", is_flag=True, default=False,
              help="Also serve logits and probabilities of a run that has trained no "
                   "classifier yet (contrastive stage only): its classifier is untrained.")
def export(run_dir, output, export_format, include_untrained_classifier):
    """Export a run's model for serving.

    The SavedModel's serving_default signature takes raw uint8 images [N, H, W, 3] of any
    size and returns embedding, and logits and probabilities once a stage has trained the
    classifier (linear, joint or ce); the projection signature returns the projection.
    """
    check_existing_run(run_dir)  # before TensorFlow loads

    from kerascon.ownership import require_export_destination

    if output is None:
        output = Path(run_dir) / ("export.keras" if export_format == "keras" else "export")
    # Before TensorFlow loads: an export writes only where it replaces nothing of the user's.
    require_export_destination(output, kind=export_format)
    import_tensorflow_quietly()
    from kerascon.export import classifier_is_trained, export_keras, export_saved_model
    from kerascon.runs.records import image_size_of, load_run_model

    model = load_run_model(run_dir)
    if export_format == "keras":
        path = export_keras(model, output)
        click.echo(f"exported {export_format} to {path}")
        return
    with_classifier = classifier_is_trained(model) or include_untrained_classifier
    path = export_saved_model(model, output, image_size=image_size_of(run_dir),
                              include_classifier=with_classifier)
    click.echo(_signatures(path, with_classifier, run_dir))
