"""Tests for kerascon.evaluation: top-k, weighted kNN, KNNMonitor and calibration."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerascon.evaluation import (
    KNNMonitor,
    expected_calibration_error,
    knn_accuracy,
    reliability_diagram,
    topk_accuracy,
)


# ---------------------------------------------------------------- top-k
def test_topk_accuracy_hand_computed():
    logits = np.array([
        [0.1, 0.7, 0.2],   # ranking 1, 2, 0
        [0.5, 0.3, 0.2],   # ranking 0, 1, 2
        [0.2, 0.3, 0.5],   # ranking 2, 1, 0
        [0.6, 0.1, 0.3],   # ranking 0, 2, 1
    ])
    labels = np.array([1, 1, 0, 1])
    assert topk_accuracy(labels, logits, k=1) == pytest.approx(1 / 4)  # row 0
    assert topk_accuracy(labels, logits, k=2) == pytest.approx(2 / 4)  # rows 0, 1
    assert topk_accuracy(labels, logits, k=3) == pytest.approx(1.0)
    assert topk_accuracy(labels, logits, k=10) == pytest.approx(1.0)  # capped at C
    # tensors work too
    assert topk_accuracy(tf.constant(labels), tf.constant(logits), k=2) == pytest.approx(0.5)


# ---------------------------------------------------------------- kNN
def _clusters(n_per_class, num_classes, dim, seed):
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[:num_classes] * 10.0
    x = np.concatenate([centres[c] + rng.normal(size=(n_per_class, dim)) for c in range(num_classes)])
    y = np.repeat(np.arange(num_classes), n_per_class)
    return x.astype(np.float32), y


def test_knn_clustered_embeddings_are_perfect():
    train_x, train_y = _clusters(20, 6, 8, seed=0)
    test_x, test_y = _clusters(5, 6, 8, seed=1)
    result = knn_accuracy(train_x, train_y, test_x, test_y, k=10)
    assert result == {"knn_top1": 1.0, "knn_top5": 1.0}
    # k larger than the training set is capped; few classes -> no top5 key
    result = knn_accuracy(train_x[:40], train_y[:40], test_x[:10], test_y[:10], k=500)
    assert set(result) == {"knn_top1"}
    assert result["knn_top1"] == 1.0


def test_knn_weighting_changes_the_vote():
    # Query at angle 0. Neighbours: class 0 at angle 0 (sim 1), class 1 at +-60 deg
    # (sim 0.5 each), class 0 at 180 deg (sim -1, outside k=3).
    a = math.radians(60)
    train_x = np.array([[1.0, 0.0], [math.cos(a), math.sin(a)], [math.cos(a), -math.sin(a)],
                        [-1.0, 0.0]])
    train_y = np.array([0, 1, 1, 0])
    test_x = np.array([[2.0, 0.0]])  # not unit length: normalisation matters
    # T = 0.1: class 0 vote e^10 ~ 22026 > class 1 vote 2 e^5 ~ 297.
    assert knn_accuracy(train_x, train_y, test_x, [0], k=3, temperature=0.1)["knn_top1"] == 1.0
    # T = 100: votes ~ equal, the 2-vs-1 majority (class 1) wins: e^0.01 < 2 e^0.005.
    assert knn_accuracy(train_x, train_y, test_x, [1], k=3, temperature=100.0)["knn_top1"] == 1.0


def test_knn_batching_gives_the_same_result():
    rng = np.random.default_rng(3)
    train_x, train_y = rng.normal(size=(50, 6)), rng.integers(0, 7, 50)
    test_x, test_y = rng.normal(size=(23, 6)), rng.integers(0, 7, 23)
    full = knn_accuracy(train_x, train_y, test_x, test_y, k=5, num_classes=7, batch_size=1024)
    small = knn_accuracy(train_x, train_y, test_x, test_y, k=5, num_classes=7, batch_size=4)
    assert full == small
    assert set(full) == {"knn_top1", "knn_top5"}


# ---------------------------------------------------------------- calibration
def test_ece_perfectly_calibrated_is_zero():
    # 10 rows with confidence 0.8, 8 correct; 10 rows with confidence 0.6, 6 correct.
    probs = np.array([[0.8, 0.2]] * 10 + [[0.4, 0.6]] * 10)
    labels = np.array([0] * 8 + [1] * 2 + [1] * 6 + [0] * 4)
    assert expected_calibration_error(labels, probs, num_bins=10) == pytest.approx(0.0, abs=1e-12)


def test_ece_over_confident_hand_computed():
    probs = np.array([[0.9, 0.1]] * 10)
    labels = np.array([0] * 6 + [1] * 4)  # 60% correct at 90% confidence
    assert expected_calibration_error(labels, probs) == pytest.approx(0.3)
    # two bins: conf 0.9 / acc 0.6 (10 rows) and conf 0.55 / acc 1.0 (10 rows)
    probs2 = np.concatenate([probs, np.array([[0.45, 0.55]] * 10)])
    labels2 = np.concatenate([labels, np.ones(10, int)])
    assert expected_calibration_error(labels2, probs2) == pytest.approx(0.5 * 0.3 + 0.5 * 0.45)


def test_reliability_diagram_bins():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(37, 4))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = rng.integers(0, 4, 37)
    d = reliability_diagram(labels, probs, num_bins=8)
    assert d["bin_edges"].shape == (9,)
    assert d["bin_count"].sum() == 37
    filled = d["bin_count"] > 0
    lo, hi = d["bin_edges"][:-1][filled], d["bin_edges"][1:][filled]
    assert np.all((d["bin_confidence"][filled] > lo) & (d["bin_confidence"][filled] <= hi))
    assert np.all(np.isnan(d["bin_accuracy"][~filled]))
    ece = np.nansum(d["bin_count"] / 37 * np.abs(d["bin_accuracy"] - d["bin_confidence"]))
    assert expected_calibration_error(labels, probs, num_bins=8) == pytest.approx(ece)
    # confidence exactly 1.0 lands in the last bin
    assert reliability_diagram([0], [[1.0, 0.0]], num_bins=4)["bin_count"].tolist() == [0, 0, 0, 1]


# ---------------------------------------------------------------- validation
X2 = np.ones((2, 3))


@pytest.mark.parametrize("call, match", [
    (lambda: topk_accuracy([0], X2), "entries"),
    (lambda: topk_accuracy([0, 3], X2), "out of range"),
    (lambda: topk_accuracy([0, -1], X2), "out of range"),
    (lambda: topk_accuracy([0, 1], X2, k=0), "k must be"),
    (lambda: topk_accuracy([], np.zeros((0, 3))), "empty"),
    (lambda: knn_accuracy(X2, [0], X2, [0, 1]), "train_labels has 1 entries"),
    (lambda: knn_accuracy(X2, [0, 1], X2, [0]), "test_labels has 1 entries"),
    (lambda: knn_accuracy(X2, [0, 1], X2, [0, 5], num_classes=3), "test_labels out of range"),
    (lambda: knn_accuracy(X2, [0, 4], X2, [0, 1], num_classes=3), "train_labels out of range"),
    (lambda: knn_accuracy(X2, [0, 1], X2, [0, 1], k=0), "k must be"),
    (lambda: knn_accuracy(X2, [0, 1], X2, [0, 1], temperature=0), "temperature"),
    (lambda: knn_accuracy(X2, [0, 1], X2, [0, 1], temperature=-1), "temperature"),
    (lambda: knn_accuracy(np.zeros((0, 3)), [], X2, [0, 1]), "empty"),
    (lambda: knn_accuracy(X2, [0, 1], np.zeros((0, 3)), [], num_classes=2), "empty"),
    (lambda: knn_accuracy(X2, [0, 1], np.ones((2, 4)), [0, 1]), "embedding sizes"),
    (lambda: expected_calibration_error([0, 1], X2, num_bins=0), "num_bins"),
    (lambda: expected_calibration_error([0], X2), "entries"),
    (lambda: expected_calibration_error([0, 3], X2), "out of range"),
    (lambda: expected_calibration_error([], np.zeros((0, 2))), "empty"),
    (lambda: reliability_diagram([0, 1], X2, num_bins=0), "num_bins"),
    (lambda: KNNMonitor(None, None, every=0), "every"),
])
def test_validation_errors(call, match):
    with pytest.raises(ValueError, match=match) as info:
        call()
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------- KNNMonitor
def tiny_model_and_data(seed):
    """A compiled tiny SupConModel, its two-view batch (x, y) and a single-view dataset."""
    from kerascon.model import SupConModel

    keras.utils.set_random_seed(seed)
    encoder = keras.Sequential([
        keras.Input((8, 8, 3)),
        keras.layers.Conv2D(4, 3, padding="same"),
        keras.layers.GlobalAveragePooling2D(),
    ])
    model = SupConModel(encoder, 3, projection_dim=4, projection_hidden_dim=8)
    model.compile(optimizer="sgd")
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 255, (16, 2, 8, 8, 3)).astype("float32")
    y = rng.integers(0, 3, 16)
    single = tf.data.Dataset.from_tensor_slices((x[:, 0], y)).batch(8)
    return model, x, y, single


def test_knn_monitor_adds_knn_top1_to_logs():
    model, x, y, single = tiny_model_and_data(0)
    monitor = KNNMonitor(single, single, every=1, k=5)
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[monitor])
    values = history.history["knn_top1"]
    assert len(values) == 2
    assert all(0.0 <= v <= 1.0 for v in values)
    assert len(monitor.results) == 2


def test_knn_monitor_every_n_epochs_keeps_csv_columns(tmp_path):
    model, x, y, single = tiny_model_and_data(1)
    monitor = KNNMonitor(single, single, every=2, k=5)
    csv = tmp_path / "log.csv"
    model.fit(x, y, batch_size=8, epochs=4, verbose=0,
              callbacks=[monitor, keras.callbacks.CSVLogger(str(csv))])
    assert [epoch for epoch, _ in monitor.results] == [0, 1, 3]
    rows = csv.read_text().splitlines()
    assert "knn_top1" in rows[0].split(",")
    column = rows[0].split(",").index("knn_top1")
    cells = [r.split(",")[column] for r in rows[1:]]
    assert cells[2] == "NA" and all(c != "NA" for i, c in enumerate(cells) if i != 2)
