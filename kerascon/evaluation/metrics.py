"""Classification metrics on numpy arrays or tensors, returning Python floats."""

from __future__ import annotations

import numpy as np
from keras import ops

from kerascon.errors import ConfigError, DataError

__all__ = ["topk_accuracy"]


def _to_numpy(x):
    """Converts a numpy array, list or backend tensor to a numpy array."""
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(ops.convert_to_numpy(x))
    except Exception:  # lists, scalars
        return np.asarray(x)


def _check_labels(labels, num_classes, n, name="labels"):
    """Returns ``labels`` as a 1-D int64 array of length ``n`` with values in range."""
    labels = _to_numpy(labels)
    if labels.ndim != 1:
        raise DataError(f"{name} must be 1-D, got shape {labels.shape}")
    if labels.shape[0] != n:
        raise DataError(f"{name} has {labels.shape[0]} entries but there are {n} predictions; pass one "
                        "label per prediction")
    if labels.size and not np.all(np.equal(np.mod(labels, 1), 0)):
        raise DataError(f"{name} must be integer class ids; pass class indices, not one-hot vectors or "
                        "probabilities (np.argmax(y, axis=-1))")
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataError(
            f"{name} out of range: values must be in [0, {num_classes}), got "
            f"[{labels.min()}, {labels.max()}]"
        )
    return labels


def _check_matrix(values, name, columns="num_classes", dtype=np.float64):
    """Returns ``values`` as a non-empty 2-D float array [N, columns]."""
    values = _to_numpy(values).astype(dtype)
    if values.ndim != 2:
        raise DataError(f"{name} must be 2-D [N, {columns}], got shape {values.shape}")
    if values.shape[0] == 0 or values.shape[1] == 0:
        raise DataError(f"{name} is empty (shape {values.shape})")
    return values


def _check_scores(scores, name):
    """Returns ``scores`` as a non-empty 2-D float array [N, C]."""
    return _check_matrix(scores, name)


def topk_accuracy(labels, logits, k=1):
    """Fraction of rows whose true label is among the ``k`` largest logits.

    Args:
        labels: int class ids [N].
        logits: scores [N, C] (logits or probabilities; only the ranking matters).
        k: how many top classes count as a hit; capped at C.

    Returns:
        A Python float in [0, 1].

    Example:
        >>> topk_accuracy([0, 1], [[0.9, 0.1, 0.0], [0.5, 0.3, 0.2]], k=2)
        1.0
    """
    if int(k) != k or k < 1:
        raise ConfigError(f"k must be an integer >= 1, got {k}")
    logits = _check_scores(logits, "logits")
    labels = _check_labels(labels, logits.shape[1], logits.shape[0])
    k = min(int(k), logits.shape[1])
    # Stable descending sort; ties are broken by class order.
    topk = np.argsort(-logits, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(topk == labels[:, None], axis=1)))
