"""One pass of a model over a dataset: logits, embeddings, labels and chosen raw images.

Also the small numeric helpers an evaluation needs on those outputs: softmax,
cross-entropy, seeded example subsets and a 2-D PCA projection of embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "ModelOutputs",
    "collect_outputs",
    "cross_entropy",
    "pca_2d",
    "softmax",
    "subset_indices",
]


@dataclass
class ModelOutputs:
    """Outputs of :func:`collect_outputs`, in dataset order.

    ``embeddings`` holds the rows listed in ``embedding_index`` (all rows when it is
    ``None``); ``images`` holds uint8 copies of the evaluated (resized, centre-cropped)
    images listed in ``image_index``.
    """

    labels: np.ndarray
    logits: np.ndarray | None
    embeddings: np.ndarray
    embedding_index: np.ndarray | None
    images: np.ndarray | None
    image_index: np.ndarray | None


def _pick(index, offset, count):
    """Positions within a batch [offset, offset + count) of the sorted global ``index``."""
    lo, hi = np.searchsorted(index, [offset, offset + count])
    return index[lo:hi] - offset


def collect_outputs(model, dataset, *, embedding_index=None, image_index=None) -> ModelOutputs:
    """Run ``model`` over ``(images, labels)`` batches once and keep what is asked for.

    Args:
        model: a :class:`~kerascon.model.SupConModel` (``predict_on_batch`` returns a dict).
        dataset: batches of ``(float32 images [B, S, S, 3] in [0, 255], labels [B])``.
        embedding_index: sorted example indices whose embeddings to keep (``None``: all).
        image_index: sorted example indices whose images to keep as uint8 (``None``: none).

    Example:
        >>> from kerascon.data import load_source, single_view_dataset
        >>> from kerascon.model import SupConModel
        >>> model = SupConModel.from_architecture("resnet18", num_classes=10, width_multiplier=0.125)
        >>> src = load_source("digits", split="test")
        >>> out = collect_outputs(model, single_view_dataset(src, batch_size=256,
        ...                                                  image_size=32))
        >>> out.logits.shape, out.embeddings.shape
        ((359, 10), (359, 64))
    """
    labels, logits, embeddings, images = [], [], [], []
    offset = 0
    for batch_images, batch_labels in dataset:
        count = int(batch_labels.shape[0])
        out = model.predict_on_batch(batch_images)
        labels.append(np.asarray(batch_labels).reshape(-1).astype(np.int64))
        if "logits" in out:
            logits.append(np.asarray(out["logits"], np.float32))
        embedding = np.asarray(out["embedding"], np.float32)
        if embedding_index is not None:
            embedding = embedding[_pick(embedding_index, offset, count)]
        embeddings.append(embedding)
        if image_index is not None:
            chosen = np.asarray(batch_images)[_pick(image_index, offset, count)]
            images.append(np.clip(np.round(chosen), 0, 255).astype(np.uint8))
        offset += count
    return ModelOutputs(
        labels=np.concatenate(labels),
        logits=np.concatenate(logits) if logits else None,
        embeddings=np.concatenate(embeddings),
        embedding_index=embedding_index,
        images=np.concatenate(images) if image_index is not None else None,
        image_index=image_index,
    )


def softmax(logits) -> np.ndarray:
    """Row-wise softmax in float64.

    Example:
        >>> softmax(np.zeros((1, 4))).tolist()
        [[0.25, 0.25, 0.25, 0.25]]
    """
    logits = np.asarray(logits, np.float64)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def cross_entropy(labels, logits, label_smoothing: float = 0.0) -> float:
    """Mean softmax cross-entropy of integer labels (with optional label smoothing).

    Example:
        >>> round(cross_entropy([0], np.log([[0.5, 0.5]])), 4)
        0.6931
    """
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    picked = log_probs[np.arange(len(log_probs)), np.asarray(labels, np.int64)]
    loss = -(1.0 - label_smoothing) * picked - label_smoothing * log_probs.mean(axis=1)
    return float(loss.mean())


def subset_indices(total: int, limit: int | None, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``min(limit, total)`` examples drawn without replacement.

    The same ``total``, ``limit`` and ``seed`` always give the same subset, so two runs
    evaluated on one split see the same examples.

    Example:
        >>> subset_indices(10, 3, seed=0).tolist()
        [5, 6, 9]
    """
    if limit is None or limit >= total:
        return np.arange(total)
    return np.sort(np.random.default_rng(seed).choice(total, size=limit, replace=False))


def pca_2d(embeddings) -> tuple:
    """Project embeddings onto their first two principal components (numpy SVD).

    Returns:
        ``(points float32 [N, 2], explained_variance_ratio [2])``; a component that does
        not exist (one example or one feature) is a zero column with ratio 0.

    Example:
        >>> points, ratio = pca_2d(np.random.default_rng(0).normal(size=(50, 8)))
        >>> points.shape
        (50, 2)
    """
    x = np.asarray(embeddings, np.float64)
    x = x - x.mean(axis=0, keepdims=True)
    _, singular, vt = np.linalg.svd(x, full_matrices=False)
    points = np.zeros((x.shape[0], 2))
    ratio = np.zeros(2)
    components = min(2, vt.shape[0])
    points[:, :components] = x @ vt[:components].T
    total = float(np.sum(singular ** 2))
    if total > 0:
        ratio[:components] = singular[:components] ** 2 / total
    return points.astype(np.float32), ratio
