"""Figures of single runs: training losses, reliability diagrams, embedding scatters.

Each function returns a ``matplotlib.figure.Figure``, or ``None`` when there is nothing
to draw.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from kerascon.runs.evaluation_store import load_embedding_sample

__all__ = ["embedding_figure", "loss_figure", "reliability_figure"]


def _grid(figure: Figure, count: int, columns: int = 3):
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    figure.set_size_inches(4 * columns, 3.4 * rows)
    return [figure.add_subplot(rows, columns, i + 1) for i in range(count)]


def loss_figure(run):
    """The loss columns of each stage's ``metrics.csv`` against epoch, a panel per stage.

    Example:
        >>> from kerascon.reporting.collect import collect_runs
        >>> loss_figure(collect_runs(["runs/supcon"])[0]).savefig("loss.png")
    """
    stages = {stage: {k: v for k, v in columns.items() if "loss" in k}
              for stage, columns in run.curves.items()}
    stages = {stage: losses for stage, losses in stages.items() if losses}
    if not stages:
        return None
    figure = Figure(layout="constrained")
    for ax, (stage, losses) in zip(_grid(figure, len(stages)), stages.items()):
        epochs = run.curves[stage].get("epoch") or list(range(len(next(iter(losses.values())))))
        for name, values in sorted(losses.items()):
            ax.plot(np.asarray(epochs) + 1, values, marker="o" if len(values) < 20 else None,
                    label=name)
        ax.set_title(f"{stage} stage")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    figure.suptitle(f"Training losses: {run.label}")
    return figure


def reliability_figure(entries):
    """Reliability diagram (accuracy against confidence per bin) of each calibrated entry.

    Example:
        >>> from kerascon.reporting.collect import collect_runs, entries
        >>> report_entries = entries(collect_runs(["runs/supcon", "runs/ce"]))
        >>> reliability_figure(report_entries).savefig("reliability.png")
    """
    chosen = [e for e in entries if isinstance(e.evaluation.get("reliability"), dict)]
    if not chosen:
        return None
    figure = Figure(layout="constrained")
    for ax, entry in zip(_grid(figure, len(chosen)), chosen):
        bins = entry.evaluation["reliability"]
        edges = np.asarray(bins["bin_edges"], float)
        accuracy = np.array([np.nan if v is None else v for v in bins["bin_accuracy"]], float)
        ax.bar(edges[:-1], np.nan_to_num(accuracy), width=np.diff(edges), align="edge",
               edgecolor="black", linewidth=0.5, label="accuracy")
        ax.plot([0, 1], [0, 1], linestyle="--", color="gray", label="perfect calibration")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence")
        ax.set_ylabel("accuracy")
        ece = entry.evaluation.get("ece")
        ax.set_title(entry.label + (f"  (ECE {ece:.3f})" if isinstance(ece, float) else ""))
        ax.legend(loc="upper left")
    return figure


def embedding_figure(entries):
    """2-D PCA of the stored embedding sample of each entry, coloured by label.

    Example:
        >>> from kerascon.reporting.collect import collect_runs, entries
        >>> report_entries = entries(collect_runs(["runs/supcon", "runs/ce"]))
        >>> embedding_figure(report_entries).savefig("embeddings.png")
    """
    panels = []
    for entry in entries:
        sample = load_embedding_sample(entry.run.path, entry.evaluation)
        if sample is not None and len(sample[0]):
            panels.append((entry, *sample))
    if not panels:
        return None
    figure = Figure(layout="constrained")
    for ax, (entry, points, labels) in zip(_grid(figure, len(panels)), panels):
        classes = np.unique(labels)
        cmap = colormaps["tab10" if len(classes) <= 10 else "tab20"]
        names = entry.evaluation.get("class_names") or []
        for i, label in enumerate(classes):
            chosen = labels == label
            name = names[label] if 0 <= label < len(names) else str(label)
            ax.scatter(points[chosen, 0], points[chosen, 1], s=6, color=cmap(i % cmap.N),
                       label=name if len(classes) <= 20 else None)
        ax.set_title(f"{entry.label} ({len(points)} test embeddings)")
        ax.set_xticks([])
        ax.set_yticks([])
        if len(classes) <= 20:
            ax.legend(fontsize="x-small", markerscale=2, ncols=2 if len(classes) > 10 else 1)
    figure.suptitle("Encoder embeddings, first two principal components")
    return figure
