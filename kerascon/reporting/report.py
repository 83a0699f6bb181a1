"""An HTML page with PNG figures comparing evaluated runs.

Example:
    >>> write_report(["runs/supcon", "runs/ce"], "report/")
    PosixPath('report/index.html')
"""

from __future__ import annotations

import re
from pathlib import Path

from kerascon._utils.atomic_files import atomic_path, atomic_write_text
from kerascon.errors import DependencyError, KerasconError, Placeholder, RunError, Setting, Step
from kerascon.ownership import require_report_destination, write_report_marker
from kerascon.reporting.collect import collect_runs, entries

__all__ = ["require_matplotlib", "write_report"]

MATPLOTLIB_MISSING = "matplotlib is not installed; pip install 'kerascon[report]'"


class ReportPathError(KerasconError, FileExistsError):
    """The report's destination is a file, not a folder."""


def require_matplotlib():
    """Import matplotlib for off-screen (Agg) rendering; a one-line error without it.

    Example:
        >>> require_matplotlib().__name__
        'matplotlib'
    """
    try:
        import matplotlib
    except ImportError:
        raise DependencyError(MATPLOTLIB_MISSING) from None
    return matplotlib


def _save(figure, path: Path) -> None:
    with atomic_path(path, suffix=".png") as tmp:
        figure.savefig(tmp, format="png", dpi=100)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "run"


def _figures(runs, found):
    """``[(heading, file name, figure)]`` in page order, leaving out empty figures."""
    from kerascon.reporting import plots, plots_run

    figures = [("Accuracy (top-1 and kNN top-1)", "accuracy.png", plots.accuracy_figure(found)),
               ("Expected calibration error", "ece.png", plots.ece_figure(found)),
               ("Accuracy per corruption", "corruptions.png", plots.corruption_figure(found)),
               ("Accuracy and ECE against corruption severity", "severity.png",
                plots.severity_figure(found)),
               ("Reliability diagrams", "reliability.png", plots_run.reliability_figure(found)),
               ("Embeddings (2-D PCA, coloured by label)", "embeddings.png",
                plots_run.embedding_figure(found))]
    for index, run in enumerate(runs):
        figures.append((f"Training losses: {run.label}", f"loss-{index + 1}-{_slug(run.label)}.png",
                        plots_run.loss_figure(run)))
    return [(heading, name, figure) for heading, name, figure in figures if figure is not None]


def write_report(run_dirs, output, title: str = "kerascon: evaluated runs") -> Path:
    """Write ``output/index.html`` and its PNG figures for the given runs.

    Reads the stored evaluations (``RUN/evaluations/*.json``) and the training
    curves (``RUN/stages/<stage>/metrics.csv``). A run with no evaluation gets a note on
    the page; a missing run, or runs with nothing to plot at all, is an error. Every file
    is written atomically.

    Example:
        >>> write_report(["runs/supcon", "runs/ce"], "report/")
        PosixPath('report/index.html')
    """
    require_report_destination(output)  # its files replace only an earlier report's
    require_matplotlib()
    runs = collect_runs(run_dirs)
    found = entries(runs)
    figures = _figures(runs, found)
    if not figures:
        raise RunError("none of the runs has an evaluation or training curves to plot; run {0} "
                       "first", Step("evaluate", (Setting("run_dir", Placeholder("RUN")),
                                                 Setting("knn", True), Setting("calibration", True),
                                                 Setting("corruptions", True))))
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise ReportPathError(f"{{0}} {output} is a file; pass a folder for the report",
                              Setting("output"))
    for _, name, figure in figures:
        _save(figure, output / name)
    notes = [f"{entry.label}: {entry.evaluation['mce_note']}" for entry in found
             if entry.evaluation.get("mce_note")]
    from kerascon.reporting.html import render_page

    page = render_page(title, runs, found, [(heading, name) for heading, name, _ in figures],
                       notes)
    write_report_marker(output)
    return atomic_write_text(output / "index.html", page)
