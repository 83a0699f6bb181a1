"""Evaluation metrics: top-k accuracy, weighted kNN accuracy and calibration."""

from kerascon.evaluation.calibration import expected_calibration_error, reliability_diagram
from kerascon.evaluation.knn import KNNMonitor, knn_accuracy, knn_predict_scores
from kerascon.evaluation.metrics import topk_accuracy

__all__ = [
    "topk_accuracy",
    "knn_accuracy",
    "knn_predict_scores",
    "KNNMonitor",
    "expected_calibration_error",
    "reliability_diagram",
]
