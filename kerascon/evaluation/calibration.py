"""Calibration: expected calibration error and reliability-diagram bins (Guo et al. 2017)."""

from __future__ import annotations

import numpy as np

from kerascon.errors import ConfigError
from kerascon.evaluation.metrics import _check_labels, _check_scores

__all__ = ["expected_calibration_error", "reliability_diagram"]


def reliability_diagram(labels, probabilities, num_bins=15):
    """Equal-width confidence bins for a reliability diagram (no plotting dependency).

    Confidence is the maximum probability of each row; a row falls in bin ``b`` when
    ``edges[b] < confidence <= edges[b + 1]`` (confidence 0 goes to the first bin).

    Args:
        labels: int class ids [N].
        probabilities: class probabilities [N, C] (e.g. softmax of logits).
        num_bins: number of equal-width bins on [0, 1].

    Returns:
        dict of numpy arrays: ``bin_edges`` [num_bins + 1], ``bin_confidence``,
        ``bin_accuracy`` (mean confidence / accuracy per bin, NaN for empty bins) and
        ``bin_count`` (int) [num_bins].

    Example:
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> y = np.array([0, 1, 1, 0])
        >>> probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.8, 0.2]])
        >>> d = reliability_diagram(y, probs, num_bins=10)
        >>> plt.bar(d["bin_edges"][:-1], d["bin_accuracy"], width=0.1, align="edge")
    """
    if int(num_bins) != num_bins or num_bins < 1:
        raise ConfigError(f"num_bins must be an integer >= 1, got {num_bins}")
    num_bins = int(num_bins)
    probabilities = _check_scores(probabilities, "probabilities")
    labels = _check_labels(labels, probabilities.shape[1], probabilities.shape[0])
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    # Right-closed bins (lo, hi]; clip so confidence 0 -> bin 0 and >1 rounding -> last.
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, num_bins - 1)
    count = np.bincount(index, minlength=num_bins)
    conf_sum = np.bincount(index, weights=confidence, minlength=num_bins)
    acc_sum = np.bincount(index, weights=correct, minlength=num_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        bin_confidence = np.where(count > 0, conf_sum / count, np.nan)
        bin_accuracy = np.where(count > 0, acc_sum / count, np.nan)
    return {
        "bin_edges": edges,
        "bin_confidence": bin_confidence,
        "bin_accuracy": bin_accuracy,
        "bin_count": count.astype(np.int64),
    }


def expected_calibration_error(labels, probabilities, num_bins=15):
    """Expected calibration error with equal-width confidence bins (Guo et al. 2017).

    ``ECE = sum_b |B_b| / n * |acc(B_b) - conf(B_b)|`` with confidence the maximum
    class probability; see :func:`reliability_diagram` for the binning.

    Returns:
        A Python float in [0, 1].

    Example:
        >>> # every prediction 90% confident, 60% correct -> ECE 0.3
        >>> round(expected_calibration_error([0, 0, 0, 1, 1], [[0.9, 0.1]] * 5), 6)
        0.3
    """
    d = reliability_diagram(labels, probabilities, num_bins)
    n = d["bin_count"].sum()
    filled = d["bin_count"] > 0
    gaps = np.abs(d["bin_accuracy"][filled] - d["bin_confidence"][filled])
    return float(np.sum(d["bin_count"][filled] / n * gaps))
