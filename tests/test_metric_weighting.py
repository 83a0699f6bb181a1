"""Evaluation metrics are means over examples, whatever the batch size (issue 21, item 4).

``model.evaluate`` must give the cross-entropy, top-1 and top-5 of the examples, the partial
last batch weighed by what it holds; under ``tf.distribute`` too, where that batch is split
unevenly over the replicas (one of them may get nothing).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerascon.model import SupConModel

IMAGE = 8
EXAMPLES = 23  # a prime: every batch size below leaves a partial last batch or one batch
CLASSES = 6


def _tiny_model():
    encoder = keras.Sequential([keras.Input((IMAGE, IMAGE, 3)), keras.layers.Conv2D(8, 3),
                                keras.layers.ReLU(), keras.layers.GlobalAveragePooling2D()])
    return SupConModel(encoder, CLASSES, projection_dim=4, projection_hidden_dim=8,
                       stage="linear", probe_normalization=False)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(EXAMPLES, IMAGE, IMAGE, 3)).astype("float32")
    return images, rng.integers(0, CLASSES, size=EXAMPLES).astype("int32")


def _numpy_metrics(logits, labels):
    """Softmax cross-entropy and top-k accuracy per example, averaged over examples."""
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(len(labels))
    rank = (logits > logits[rows, labels][:, None]).sum(axis=1)  # classes scored higher
    return {"loss": float(-log_probs[rows, labels].mean()), "top1": float(np.mean(rank < 1)),
            "top5": float(np.mean(rank < 5))}


def _check(model, images, labels, batch_sizes):
    expected = _numpy_metrics(model(images)["logits"], labels)
    assert 0 < expected["top1"] < expected["top5"] < 1  # the test can tell weightings apart
    for batch_size in batch_sizes:
        batches = tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)
        result = model.evaluate(batches, verbose=0, return_dict=True)
        for name in ("loss", "top1", "top5"):
            assert result[name] == pytest.approx(expected[name], rel=1e-5, abs=1e-6), \
                (batch_size, name, result, expected)


def test_evaluate_weighs_every_example_at_any_batch_size():
    images, labels = _data()
    keras.utils.set_random_seed(0)
    model = _tiny_model()
    model.compile(optimizer="sgd")
    # 23 = 2*10 + 3 = 4*5 + 3 = 1*16 + 7: the per-batch mean differs from the example mean.
    _check(model, images, labels, batch_sizes=(5, 10, 16, 23, 64))


def test_unweighted_batch_means_would_differ():
    """The data above do tell the weightings apart: the mean of batch losses is off."""
    images, labels = _data()
    keras.utils.set_random_seed(0)
    model = _tiny_model()
    logits = np.asarray(model(images)["logits"])
    per_batch = [_numpy_metrics(logits[i:i + 10], labels[i:i + 10])["loss"]
                 for i in range(0, EXAMPLES, 10)]
    assert abs(np.mean(per_batch) - _numpy_metrics(logits, labels)["loss"]) > 1e-3


def test_evaluate_weighs_examples_over_two_replicas(two_replica_strategy):
    images, labels = _data(1)
    with two_replica_strategy.scope():
        keras.utils.set_random_seed(0)
        model = _tiny_model()
        model.compile(optimizer="sgd")
    # Last batches of 3 (2 + 1 per replica) and 7 (4 + 3).
    _check(model, images, labels, batch_sizes=(4, 8))
