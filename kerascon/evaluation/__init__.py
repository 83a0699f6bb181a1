"""Evaluation metrics: top-k accuracy, weighted kNN accuracy, calibration and robustness.

Names are imported lazily (PEP 562), so ``import kerascon.evaluation`` needs neither
TensorFlow nor any optional dependency: the TensorFlow-based parts load on first use,
and the NumPy metrics stay usable on the JAX backend without TensorFlow installed.
To add a public name, map it to its module in ``_EXPORTS``.
"""

from __future__ import annotations

from kerascon._utils.lazy_exports import lazy_exports

_EXPORTS = {
    "topk_accuracy": "kerascon.evaluation.metrics",
    "knn_accuracy": "kerascon.evaluation.knn",
    "knn_predict_scores": "kerascon.evaluation.knn",
    "KNNMonitor": "kerascon.evaluation.knn",
    "expected_calibration_error": "kerascon.evaluation.calibration",
    "reliability_diagram": "kerascon.evaluation.calibration",
    "CORRUPTIONS": "kerascon.evaluation.corruptions",
    "CORRUPTION_GROUPS": "kerascon.evaluation.corruptions",
    "corrupt": "kerascon.evaluation.corruptions",
    "corrupted_batches": "kerascon.evaluation.corruptions",
    "corruption_errors": "kerascon.evaluation.robustness",
    "mean_corruption_error": "kerascon.evaluation.robustness",
    "relative_mean_corruption_error": "kerascon.evaluation.robustness",
    "evaluate_corruptions": "kerascon.evaluation.robustness",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
