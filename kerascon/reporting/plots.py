"""Figures that compare runs: accuracy, ECE, per-corruption accuracy, severity curves.

Each function takes report entries (:func:`kerascon.reporting.collect.entries`) and returns
a ``matplotlib.figure.Figure``, or ``None`` when no entry has the figures it needs. No
pyplot: figures are independent of any global backend state.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

__all__ = ["accuracy_figure", "corruption_figure", "ece_figure", "severity_figure"]


def _bars(ax, labels, series: dict, ylabel: str, rotate: bool = False):
    """Grouped bars: one group per label, one bar per series (NaN bars are left out)."""
    x = np.arange(len(labels))
    width = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, label=name)
    rotate = rotate or len(labels) > 3
    ax.set_xticks(x, labels, rotation=30 if rotate else 0, ha="right" if rotate else "center")
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    if len(series) > 1:
        ax.legend()


def _value(evaluation: dict, key: str) -> float:
    value = evaluation.get(key)
    return float(value) if isinstance(value, (int, float)) else float("nan")


def accuracy_figure(entries):
    """Top-1 of the classifier and kNN top-1, one group of bars per evaluation.

    Example:
        >>> from kerascon.reporting.collect import collect_runs, entries
        >>> figure = accuracy_figure(entries(collect_runs(["runs/supcon", "runs/ce"])))
        >>> figure.savefig("accuracy.png")
    """
    series = {"top-1": [_value(e.evaluation, "top1") for e in entries],
              "kNN top-1": [_value(e.evaluation, "knn_top1") for e in entries]}
    series = {k: v for k, v in series.items() if not np.all(np.isnan(v))}
    if not series:
        return None
    figure = Figure(figsize=(max(5, 1.4 * len(entries) + 2), 3.6), layout="constrained")
    ax = figure.add_subplot()
    _bars(ax, [e.label for e in entries], series, "accuracy")
    ax.set_ylim(0, 1)
    ax.set_title("Accuracy")
    return figure


def ece_figure(entries):
    """Expected calibration error (15 bins) per evaluation.

    Example:
        >>> from kerascon.reporting.collect import collect_runs, entries
        >>> report_entries = entries(collect_runs(["runs/supcon", "runs/ce"]))
        >>> ece_figure(report_entries).savefig("ece.png")
    """
    chosen = [e for e in entries if "ece" in e.evaluation]
    if not chosen:
        return None
    figure = Figure(figsize=(max(5, 1.2 * len(chosen) + 2), 3.6), layout="constrained")
    ax = figure.add_subplot()
    _bars(ax, [e.label for e in chosen], {"ECE": [_value(e.evaluation, "ece") for e in chosen]},
          "ECE")
    ax.set_title("Expected calibration error (lower is better)")
    return figure


def _corrupted(entries):
    return [e for e in entries if isinstance(e.evaluation.get("corruptions"), dict)]


def corruption_figure(entries):
    """Accuracy per corruption type (mean over severities), one bar per evaluation.

    Example:
        >>> from kerascon.reporting.collect import collect_runs, entries
        >>> report_entries = entries(collect_runs(["runs/supcon", "runs/ce"]))
        >>> corruption_figure(report_entries).savefig("corruptions.png")
    """
    chosen = _corrupted(entries)
    if not chosen:
        return None
    types = []
    for entry in chosen:
        types += [t for t in entry.evaluation["corruptions"]["types"] if t not in types]
    series = {}
    for entry in chosen:
        accuracy = entry.evaluation["corruptions"]["accuracy"]
        series[entry.label] = [float(np.mean(list(accuracy[t].values()))) if t in accuracy
                               else float("nan") for t in types]
    figure = Figure(figsize=(max(6, 0.9 * len(types) * max(1, len(chosen) / 2) + 2), 4),
                    layout="constrained")
    ax = figure.add_subplot()
    _bars(ax, [t.replace("_", " ") for t in types], series, "accuracy (mean over severities)",
          rotate=True)
    ax.set_ylim(0, 1)
    ax.set_title("Accuracy per corruption")
    return figure


def _severity_curve(section: dict, key: str):
    """(severities, 0 = clean; the mean over corruption types at each severity)."""
    by_severity = section["by_severity"]
    severities = sorted(by_severity, key=int)
    return [int(s) for s in severities], [float(by_severity[s][key]) for s in severities]


def severity_figure(entries):
    """Accuracy and ECE against corruption severity, 0 = clean (SupCon paper, Fig. 5).

    Example:
        >>> from kerascon.reporting.collect import collect_runs, entries
        >>> report_entries = entries(collect_runs(["runs/supcon", "runs/ce"]))
        >>> severity_figure(report_entries).savefig("severity.png")
    """
    chosen = _corrupted(entries)
    if not chosen:
        return None
    figure = Figure(figsize=(10, 3.8), layout="constrained")
    for index, (key, title) in enumerate((("accuracy", "Top-1 accuracy"),
                                          ("ece", "Expected calibration error"))):
        ax = figure.add_subplot(1, 2, index + 1)
        for entry in chosen:
            x, y = _severity_curve(entry.evaluation["corruptions"], key)
            ax.plot(x, y, marker="o", label=entry.label)
        ax.set_xticks(range(6))
        ax.set_xlabel("corruption severity (0 = clean)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    return figure
