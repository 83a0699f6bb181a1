"""Weighted k-nearest-neighbour evaluation of embeddings and a training callback.

The classifier is the kNN monitor of Wu et al. 2018 (InstDisc), as used in SupContrast:
cosine similarity to the training embeddings, the ``k`` most similar neighbours vote
for their class with weight ``exp(similarity / temperature)``.
"""

from __future__ import annotations

import keras
import numpy as np

from kerascon.errors import ConfigError, DataError
from kerascon.evaluation.metrics import _check_labels, _check_matrix, _to_numpy

__all__ = ["knn_accuracy", "knn_predict_scores", "KNNMonitor"]


def _check_embeddings(x, name):
    return _check_matrix(x, name, columns="D", dtype=np.float32)


def _l2_normalize(x):
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def knn_predict_scores(train_embeddings, train_labels, test_embeddings, *, k=200,
                       temperature=0.1, num_classes=None, batch_size=1024):
    """Per-class weighted kNN votes [N_test, num_classes] (see :func:`knn_accuracy`).

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> train_x, train_y = rng.normal(size=(100, 16)), rng.integers(0, 10, size=100)
        >>> test_x = rng.normal(size=(20, 16))
        >>> scores = knn_predict_scores(train_x, train_y, test_x, k=20)
        >>> predictions = scores.argmax(axis=1)
    """
    if int(k) != k or k < 1:
        raise ConfigError(f"k must be an integer >= 1, got {k}")
    if not temperature > 0:
        raise ConfigError(f"temperature must be > 0, got {temperature}")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ConfigError(f"batch_size must be an integer >= 1, got {batch_size}")
    train = _check_embeddings(train_embeddings, "train_embeddings")
    test = _check_embeddings(test_embeddings, "test_embeddings")
    if train.shape[1] != test.shape[1]:
        raise DataError(
            f"embedding sizes differ: train has {train.shape[1]}, test has {test.shape[1]}; "
            "embed both sets with the same encoder"
        )
    raw_labels = _to_numpy(train_labels)
    if num_classes is None:
        if raw_labels.size == 0:
            raise DataError("train_labels is empty; pass one label per training embedding")
        num_classes = int(np.max(raw_labels)) + 1
    if int(num_classes) != num_classes or num_classes < 1:
        raise ConfigError(f"num_classes must be an integer >= 1, got {num_classes}")
    num_classes = int(num_classes)
    train_y = _check_labels(raw_labels, num_classes, train.shape[0], name="train_labels")
    k = min(int(k), train.shape[0])
    train = _l2_normalize(train)
    test = _l2_normalize(test)
    scores = np.zeros((test.shape[0], num_classes), dtype=np.float64)
    rows = None
    for start in range(0, test.shape[0], int(batch_size)):
        sim = test[start:start + batch_size] @ train.T  # [b, N_train]
        if k < sim.shape[1]:
            idx = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        else:
            idx = np.broadcast_to(np.arange(sim.shape[1]), sim.shape)
        rows = np.arange(sim.shape[0])[:, None]
        weights = np.exp(sim[rows, idx].astype(np.float64) / temperature)  # [b, k]
        batch_scores = np.zeros((sim.shape[0], num_classes), dtype=np.float64)
        np.add.at(batch_scores, (np.broadcast_to(rows, idx.shape), train_y[idx]), weights)
        scores[start:start + sim.shape[0]] = batch_scores
    return scores


def knn_accuracy(train_embeddings, train_labels, test_embeddings, test_labels, *, k=200,
                 temperature=0.1, num_classes=None, batch_size=1024):
    """Weighted kNN classification accuracy of embeddings (InstDisc / SupContrast monitor).

    Both sets are L2-normalised; each test embedding takes its ``k`` most cosine-similar
    training embeddings (``k`` is capped at the training set size), each votes for its
    label with weight ``exp(similarity / temperature)``, and the class with the largest
    summed vote is the prediction. Test embeddings are processed ``batch_size`` at a
    time, so memory is ``batch_size x N_train``.

    Args:
        train_embeddings: [N_train, D]; train_labels: int [N_train].
        test_embeddings: [N_test, D]; test_labels: int [N_test].
        k: neighbours; temperature: vote temperature (> 0).
        num_classes: number of classes; ``None`` uses ``max(train_labels) + 1``
            (and at least ``max(test_labels) + 1``).
        batch_size: test embeddings per similarity block.

    Returns:
        ``{"knn_top1": float}``, plus ``"knn_top5"`` when ``num_classes >= 5``.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> centres = rng.normal(size=(10, 16))                  # one cluster per class
        >>> train_y, test_y = np.arange(200) % 10, np.arange(50) % 10
        >>> train_x = centres[train_y] + 0.1 * rng.normal(size=(200, 16))
        >>> test_x = centres[test_y] + 0.1 * rng.normal(size=(50, 16))
        >>> knn_accuracy(train_x, train_y, test_x, test_y, k=20, temperature=0.1)
        {'knn_top1': 1.0, 'knn_top5': 1.0}
    """
    test_y = _to_numpy(test_labels)
    if num_classes is None:
        train_y = _to_numpy(train_labels)
        if train_y.size == 0:
            raise DataError("train_labels is empty; pass one label per training embedding")
        num_classes = int(np.max(train_y)) + 1
        if test_y.size:
            num_classes = max(num_classes, int(np.max(test_y)) + 1)
    scores = knn_predict_scores(
        train_embeddings, train_labels, test_embeddings, k=k, temperature=temperature,
        num_classes=num_classes, batch_size=batch_size,
    )
    test_y = _check_labels(test_y, scores.shape[1], scores.shape[0], name="test_labels")
    order = np.argsort(-scores, axis=1, kind="stable")
    result = {"knn_top1": float(np.mean(order[:, 0] == test_y))}
    if scores.shape[1] >= 5:
        result["knn_top5"] = float(np.mean(np.any(order[:, :5] == test_y[:, None], axis=1)))
    return result


def _embed(model, dataset):
    """Embeddings and labels of a ``(images, labels)`` dataset through ``model``."""
    embeddings, labels = [], []
    for batch in dataset:
        images, y = batch[0], batch[1]
        out = model.predict_on_batch(images)
        embeddings.append(np.asarray(out["embedding"]))
        labels.append(_to_numpy(y).reshape(-1))
    return np.concatenate(embeddings), np.concatenate(labels)


class KNNMonitor(keras.callbacks.Callback):
    """Adds weighted-kNN accuracy of the encoder embeddings to the epoch logs.

    After the first epoch and then every ``every`` epochs (epochs ``every``,
    ``2 * every``, ...), embeds ``train_data`` and ``test_data`` (datasets of
    single-view ``(images, labels)`` batches) with the model's ``"embedding"`` output
    and writes ``logs["knn_top1"]`` (and ``"knn_top5"`` with >= 5 classes), so
    ``History``, ``CSVLogger`` and ``TensorBoard`` record it. Place it before those
    callbacks in the list.

    Example:
        >>> import keras
        >>> from kerascon.data import load_source, multiview_dataset, single_view_dataset
        >>> from kerascon.model import SupConModel
        >>> train_src, test_src = load_source("digits", split="train"), load_source("digits", split="test")
        >>> multiview_ds = multiview_dataset(train_src, views=2, batch_size=128, seed=0)
        >>> train_single_view_ds = single_view_dataset(train_src, batch_size=256)
        >>> test_ds = single_view_dataset(test_src, batch_size=256)
        >>> model = SupConModel.from_architecture("resnet18", num_classes=10, width_multiplier=0.125)
        >>> model.compile(optimizer="sgd")
        >>> monitor = KNNMonitor(train_single_view_ds, test_ds, every=10, k=200)
        >>> model.fit(multiview_ds, epochs=100,
        ...           callbacks=[monitor, keras.callbacks.CSVLogger("log.csv")])
    """

    def __init__(self, train_data, test_data, *, every=1, k=200, temperature=0.1,
                 num_classes=None, batch_size=1024):
        super().__init__()
        if int(every) != every or every < 1:
            raise ConfigError(f"every must be an integer >= 1, got {every}")
        if int(k) != k or k < 1:
            raise ConfigError(f"k must be an integer >= 1, got {k}")
        if not temperature > 0:
            raise ConfigError(f"temperature must be > 0, got {temperature}")
        self.train_data = train_data
        self.test_data = test_data
        self.every = int(every)
        self.k = int(k)
        self.temperature = float(temperature)
        self.num_classes = num_classes
        self.batch_size = int(batch_size)
        self.results = []  # (epoch, result dict) per evaluation

    def evaluate(self):
        """Returns the kNN accuracy dict for the current model."""
        train_x, train_y = _embed(self.model, self.train_data)
        test_x, test_y = _embed(self.model, self.test_data)
        return knn_accuracy(
            train_x, train_y, test_x, test_y, k=self.k, temperature=self.temperature,
            num_classes=self.num_classes, batch_size=self.batch_size,
        )

    def on_epoch_end(self, epoch, logs=None):
        # The first epoch is always evaluated: CSVLogger fixes its columns at the first
        # epoch's logs (later epochs without the keys are written as NA).
        if epoch > 0 and (epoch + 1) % self.every:
            return
        result = self.evaluate()
        self.results.append((epoch, result))
        if logs is not None:
            logs.update(result)
