"""`kerascon report`: an HTML page with figures comparing evaluated runs."""

from __future__ import annotations

import click

EXAMPLES = """\b
Examples:
  kerascon eval --frozen --run runs/supcon --knn --calibration --corruptions --reference runs/ce
  kerascon eval --run runs/ce --knn --calibration --corruptions
  kerascon report runs/supcon runs/ce --output report/     # then open report/index.html
"""


@click.command(epilog=EXAMPLES)
@click.argument("runs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=True),
              help="Folder for index.html and the PNG figures (created if missing).")
@click.option("--title", default="kerascon report", show_default=True, help="Page title.")
def report(runs, output, title):
    """Write an HTML report of one or more runs: accuracy, kNN, calibration, robustness.

    Figures come from what `kerascon eval` stored in RUN/evaluations/ and from the
    training curves in RUN/stages/<stage>/metrics.csv. Needs matplotlib
    (pip install 'kerascon[report]').
    """
    from kerascon.reporting import write_report

    path = write_report(runs, output, title=title)
    click.echo(f"report written to {path}")
