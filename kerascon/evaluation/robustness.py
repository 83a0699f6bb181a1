"""Corruption robustness metrics of Hendrycks & Dietterich (ICLR 2019): CE, mCE, relative mCE.

Units: accuracies and errors going in are **fractions** in [0, 1] (error = 1 - top-1
accuracy); CE, mCE and their relative versions coming out are **percentages**, as in
the paper's tables (100 = as robust as the reference model, lower is better).

- corruption error ``CE_c = sum_s E_{s,c} / sum_s E_{s,c}^ref``;
- ``mCE`` = mean of ``CE_c`` over the corruptions;
- relative ``CE_c = sum_s (E_{s,c} - E_clean) / sum_s (E_{s,c}^ref - E_clean^ref)``
  and relative mCE its mean (how much accuracy is *lost* under corruption, relative to
  what the reference loses).

Tables are nested dicts ``{corruption: {severity: value}}``; severities may be ints or
digit strings (JSON round trips turn them into strings) and come out as strings.
:func:`evaluate_corruptions` measures such a table for a model, with ECE per severity
for the paper's accuracy/calibration-versus-severity curves.

Example:
    >>> import numpy as np
    >>> from kerascon.model.saving import load_model
    >>> model, reference = load_model("runs/supcon/model.keras"), load_model("runs/ce/model.keras")
    >>> x_test, y_test = np.full((64, 32, 32, 3), 128, np.uint8), np.arange(64) % 10
    >>> def predict(x): return model.predict(x, verbose=0)["logits"]
    >>> def predict_reference(x): return reference.predict(x, verbose=0)["logits"]
    >>> ours = evaluate_corruptions(predict, x_test, y_test)
    >>> ref = evaluate_corruptions(predict_reference, x_test, y_test)
    >>> mean_corruption_error(corruption_errors(ours["accuracy"]),
    ...                       corruption_errors(ref["accuracy"]))["mce"]
"""

from __future__ import annotations

import math

import numpy as np

from kerascon.errors import ConfigError, ConfigTypeError, DataError
from kerascon.evaluation.calibration import expected_calibration_error
from kerascon.evaluation.corruptions._common import _check_images
from kerascon.evaluation.corruptions.dispatch import CORRUPTIONS, corrupted_batches
from kerascon.evaluation.metrics import _check_labels, _check_scores

__all__ = [
    "corruption_errors",
    "evaluate_corruptions",
    "mean_corruption_error",
    "relative_mean_corruption_error",
]


def _fraction(value, what):
    """Returns ``value`` as a float in [0, 1]."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{what} must be a number in [0, 1], got {value!r}") from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise DataError(f"{what} must be a fraction in [0, 1] (not a percentage), got {value}")
    return value


def _check_table(table, name):
    """Returns ``{corruption: {severity_str: float}}`` after checking the nesting and values."""
    if not isinstance(table, dict) or not table:
        raise DataError(f"{name} must be a non-empty dict {{corruption: {{severity: value}}}}")
    out = {}
    for corruption, row in table.items():
        if not isinstance(row, dict) or not row:
            raise DataError(f"{name}[{corruption!r}] must be a non-empty dict {{severity: value}}")
        clean = {}
        for severity, value in row.items():
            key = str(severity).strip()
            if isinstance(severity, bool) or not key.isdigit():
                raise DataError(
                    f"{name}[{corruption!r}] has severity {severity!r}; use integers like 1..5"
                )
            key = str(int(key))
            if key in clean:
                raise DataError(f"{name}[{corruption!r}] lists severity {key} twice; give each severity once")
            clean[key] = _fraction(value, f"{name}[{corruption!r}][{key}]")
        out[str(corruption)] = clean
    return out


def _check_matching(errors, reference_errors):
    """Checks both tables and that they cover the same corruptions and severities."""
    errors = _check_table(errors, "errors")
    reference_errors = _check_table(reference_errors, "reference_errors")
    if set(errors) != set(reference_errors):
        missing = sorted(set(reference_errors) - set(errors))
        extra = sorted(set(errors) - set(reference_errors))
        raise DataError(
            f"errors and reference_errors cover different corruptions (missing from errors: "
            f"{missing}, not in reference_errors: {extra}); evaluate both on the same set"
        )
    for corruption, row in errors.items():
        if set(row) != set(reference_errors[corruption]):
            raise DataError(
                f"severities for {corruption!r} differ: errors has {sorted(row)}, "
                f"reference_errors has {sorted(reference_errors[corruption])}"
            )
    return errors, reference_errors


def corruption_errors(accuracy_by_corruption):
    """Top-1 errors ``1 - accuracy`` for every corruption and severity.

    Args:
        accuracy_by_corruption: ``{corruption: {severity: accuracy}}``, accuracies as
            fractions (e.g. ``evaluate_corruptions(...)["accuracy"]``).

    Returns:
        ``{corruption: {severity_str: error}}`` with errors as fractions.

    Example:
        >>> corruption_errors({"fog": {1: 0.75, 2: 0.5}})
        {'fog': {'1': 0.25, '2': 0.5}}
    """
    table = _check_table(accuracy_by_corruption, "accuracy_by_corruption")
    return {c: {s: 1.0 - acc for s, acc in row.items()} for c, row in table.items()}


def mean_corruption_error(errors, reference_errors):
    """Corruption errors ``CE_c`` normalised by a reference model, and their mean (mCE).

    Args:
        errors: ``{corruption: {severity: error}}`` of the model (fractions).
        reference_errors: the same table for the reference model (AlexNet in the
            paper), with the same corruptions and severities.

    Returns:
        dict with ``ce`` (``{corruption: percent}``) and ``mce`` (percent).

    Example:
        >>> mean_corruption_error({"fog": {1: 0.1, 2: 0.3}}, {"fog": {1: 0.2, 2: 0.6}})
        {'ce': {'fog': 50.0}, 'mce': 50.0}
    """
    errors, reference_errors = _check_matching(errors, reference_errors)
    ce = {}
    for corruption, row in errors.items():
        denominator = sum(reference_errors[corruption].values())
        if denominator == 0:
            raise DataError(
                f"reference_errors for {corruption!r} are all 0, so its CE is undefined; "
                "use a reference model that makes mistakes on it or drop the corruption"
            )
        ce[corruption] = 100.0 * sum(row.values()) / denominator
    return {"ce": ce, "mce": float(np.mean(list(ce.values())))}


def relative_mean_corruption_error(errors, clean_error, reference_errors,
                                   reference_clean_error):
    """Relative corruption errors (degradation from clean) and their mean, in percent.

    ``relative CE_c = sum_s (E_{s,c} - E_clean) / sum_s (E_{s,c}^ref - E_clean^ref)``.

    Args:
        errors: ``{corruption: {severity: error}}`` of the model (fractions).
        clean_error: the model's error on the clean images (fraction).
        reference_errors: the reference model's table, same corruptions and severities.
        reference_clean_error: the reference model's clean error (fraction).

    Returns:
        dict with ``relative_ce`` (``{corruption: percent}``) and ``relative_mce``.

    Example:
        >>> relative_mean_corruption_error({"fog": {1: 0.2, 2: 0.4}}, 0.1,
        ...                                {"fog": {1: 0.4, 2: 0.6}}, 0.2)
        {'relative_ce': {'fog': 66.66666666666667}, 'relative_mce': 66.66666666666667}
    """
    errors, reference_errors = _check_matching(errors, reference_errors)
    clean_error = _fraction(clean_error, "clean_error")
    reference_clean_error = _fraction(reference_clean_error, "reference_clean_error")
    relative = {}
    for corruption, row in errors.items():
        ref_row = reference_errors[corruption]
        denominator = sum(e - reference_clean_error for e in ref_row.values())
        if abs(denominator) < 1e-12:
            raise DataError(
                f"the reference shows no degradation on {corruption!r} (its errors minus "
                "its clean error sum to 0), so the relative CE is undefined; drop it"
            )
        numerator = sum(e - clean_error for e in row.values())
        relative[corruption] = 100.0 * numerator / denominator
    return {"relative_ce": relative, "relative_mce": float(np.mean(list(relative.values())))}


def _probabilities(outputs, n):
    """Model outputs [n, C] as probabilities: used as-is if rows already are, else softmax."""
    scores = _check_scores(outputs, "predict_fn output")
    if scores.shape[0] != n:
        raise DataError(f"predict_fn returned {scores.shape[0]} rows for a batch of {n}; return one row "
                        "of class scores per image")
    if scores.min() >= 0 and scores.max() <= 1 and np.allclose(scores.sum(1), 1, atol=1e-3):
        return scores
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _accuracy_and_ece(labels, probabilities, num_bins):
    accuracy = float(np.mean(probabilities.argmax(axis=1) == labels))
    return accuracy, expected_calibration_error(labels, probabilities, num_bins)


def evaluate_corruptions(predict_fn, images, labels, corruptions=CORRUPTIONS,
                         severities=(1, 2, 3, 4, 5), batch_size=256, seed=0, num_bins=15):
    """Top-1 accuracy and ECE of a classifier on clean and corrupted copies of a test set.

    Args:
        predict_fn: callable mapping a numpy uint8 batch [B, H, W, 3] to class
            probabilities or logits [B, C] (rows that are non-negative and sum to 1 are
            taken as probabilities, anything else goes through a softmax).
        images: uint8 (or float in [0, 255]) images [N, H, W, 3].
        labels: int class ids [N].
        corruptions: names from ``CORRUPTIONS``.
        severities: integers 1..5.
        batch_size: images per ``predict_fn`` call.
        seed: seed of the random corruptions (see ``corrupted_batches``).
        num_bins: confidence bins of the ECE.

    Returns:
        JSON-serialisable dict of Python floats with string keys:
        ``clean`` (``{"accuracy", "ece"}``), ``accuracy`` and ``ece``
        (``{corruption: {severity: value}}``) and ``by_severity``
        (``{severity: {"accuracy", "ece"}}``, averaged over corruptions, with ``"0"``
        the clean values) for accuracy/calibration-versus-severity curves.

    Example:
        >>> import numpy as np
        >>> from kerascon.model import SupConModel
        >>> model = SupConModel.from_architecture("resnet18", num_classes=10, width_multiplier=0.125)
        >>> x, y = np.full((64, 32, 32, 3), 128, np.uint8), np.arange(64) % 10
        >>> result = evaluate_corruptions(lambda b: model.predict(b, verbose=0)["logits"], x, y)
        >>> result["by_severity"]["5"]["accuracy"], result["accuracy"]["fog"]["1"]
    """
    arr = _check_images(images)
    if arr.shape[0] == 0:
        raise DataError("images is empty: evaluate_corruptions needs at least one image")
    if arr.dtype != np.uint8:
        arr = np.floor(arr.astype(np.float64) + 0.5).astype(np.uint8)
    if not callable(predict_fn):
        raise ConfigTypeError(f"predict_fn must be callable, got {type(predict_fn).__name__}")
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != arr.shape[0]:
        raise DataError(f"labels must be 1-D with {arr.shape[0]} entries, got {labels.shape}")
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ConfigError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    batch_size = int(batch_size)

    def predict(batch):
        return _probabilities(predict_fn(batch), batch.shape[0])

    clean = np.concatenate(
        [predict(arr[i:i + batch_size]) for i in range(0, arr.shape[0], batch_size)]
    )
    labels = _check_labels(labels, clean.shape[1], clean.shape[0])
    clean_acc, clean_ece = _accuracy_and_ece(labels, clean, num_bins)

    collected = {}
    for name, severity, batch, _ in corrupted_batches(arr, labels, corruptions, severities,
                                                      batch_size, seed):
        collected.setdefault((name, str(severity)), []).append(predict(batch))
    accuracy, ece = {}, {}
    for (name, severity), parts in collected.items():
        acc, cal = _accuracy_and_ece(labels, np.concatenate(parts), num_bins)
        accuracy.setdefault(name, {})[severity] = acc
        ece.setdefault(name, {})[severity] = cal

    by_severity = {"0": {"accuracy": clean_acc, "ece": clean_ece}}
    for severity in dict.fromkeys(str(int(s)) for s in severities):
        by_severity[severity] = {
            "accuracy": float(np.mean([row[severity] for row in accuracy.values()])),
            "ece": float(np.mean([row[severity] for row in ece.values()])),
        }
    return {
        "clean": {"accuracy": clean_acc, "ece": clean_ece},
        "accuracy": accuracy,
        "ece": ece,
        "by_severity": by_severity,
    }
