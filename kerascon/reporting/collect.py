"""What a report shows of each run: its stored evaluations and its training curves.

Reads ``RUN/evaluations/*.json`` (stored evaluations, :mod:`kerascon.runs.evaluation`) and
``RUN/stages/<stage>/metrics.csv`` (one row per epoch); imports neither Keras nor
TensorFlow.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

from kerascon.errors import KerasconError, RunError, Setting, Step
from kerascon.model.stages import STAGE_NAMES
from kerascon.runs.evaluation_store import read_evaluations

__all__ = ["Entry", "RunSummary", "collect_runs", "entries"]



@dataclass
class RunSummary:
    """One run as the report sees it.

    ``curves`` maps a stage to ``{column: [value per epoch]}`` of its ``metrics.csv``;
    ``messages`` are notes for the report (e.g. that the run has no evaluation yet).
    """

    label: str
    path: Path
    evaluations: dict = field(default_factory=dict)
    curves: dict = field(default_factory=dict)
    messages: list = field(default_factory=list)


@dataclass
class Entry:
    """One evaluation of one run: a bar, a line or a panel in the plots."""

    label: str
    run: RunSummary
    name: str
    evaluation: dict


def _read_curves(path: Path) -> dict:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    columns = {}
    for key in (rows[0].keys() if rows else ()):
        values = []
        for row in rows:
            try:
                values.append(float(row[key]))
            except (TypeError, ValueError):
                values.append(float("nan"))
        columns[key] = values
    return columns


class RunNotFoundError(KerasconError, FileNotFoundError):
    """A run directory given to the report does not exist."""


def _labels(paths) -> list:
    """Shortest trailing path parts that tell the runs apart (``a/run``, ``b/run``)."""
    parts = [Path(os.path.abspath(p)).parts for p in paths]
    for depth in range(1, max(len(p) for p in parts) + 1):
        labels = ["/".join(p[-depth:]) for p in parts]
        if len(set(labels)) == len(labels):
            return labels
    return [str(p) for p in paths]


def _suggestion(path: Path) -> Step:
    settings = [Setting("run_dir", str(path))]
    if (path / "stages" / "linear" / "config.yaml").is_file():
        settings.append(Setting("frozen", True))
    settings += [Setting("knn", True), Setting("calibration", True), Setting("corruptions", True)]
    return Step("evaluate", tuple(settings))


def collect_runs(paths) -> list:
    """A :class:`RunSummary` per run directory; a one-line error for a missing one.

    Example:
        >>> runs = collect_runs(["runs/supcon", "runs/ce"])
        >>> [run.label for run in runs], sorted(runs[0].evaluations)
        (['supcon', 'ce'], ['frozen-test'])
    """
    paths = [Path(p) for p in paths]
    for path in paths:
        if not path.is_dir():
            raise RunNotFoundError(f"run directory {path} does not exist; pass run directories "
                                   "written by {0}", Step("train", (Setting("output_dir"),)))
    summaries = []
    for label, path in zip(_labels(paths), paths):
        run = RunSummary(label=label, path=path, evaluations=read_evaluations(path))
        for stage in STAGE_NAMES:
            csv_path = path / "stages" / stage / "metrics.csv"
            if csv_path.is_file():
                run.curves[stage] = _read_curves(csv_path)
        if not run.evaluations:
            run.messages.append(str(RunError("no evaluation yet; run {0}", _suggestion(path))))
        if not run.curves:
            run.messages.append("no training curves (no stages/<stage>/metrics.csv)")
        summaries.append(run)
    return summaries


def entries(runs) -> list:
    """Every stored evaluation of every run, labelled ``run`` or ``run (name)``.

    Example:
        >>> [entry.label for entry in entries(collect_runs(["runs/supcon"]))]
        ['supcon']
    """
    found = []
    for run in runs:
        for name, evaluation in sorted(run.evaluations.items()):
            label = run.label if len(run.evaluations) == 1 else f"{run.label} ({name})"
            found.append(Entry(label=label, run=run, name=name, evaluation=evaluation))
    return found
