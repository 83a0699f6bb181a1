"""Momentum key encoder + queue of labelled keys (kerascon.model.key_network, kerascon.losses.queue)."""

import keras
import numpy as np
import pytest

from kerascon.losses.queue import queue_supcon_sum
from kerascon.model import SupConModel
from kerascon.model.key_network import MomentumQueue
from kerascon.model.saving import load_model

IMAGE = 8


# ---------------------------------------------------------------- numpy reference
def reference_queue_sum(anchors, anchor_keys, own_columns, keys, key_labels, queue, queue_labels,
                        queue_valid, temperature, variant="out", exclude_own_key=False):
    """Loop-by-loop float64 transcription: (sum of per-anchor losses, anchors with a positive)."""
    anchors, keys, queue = (np.asarray(a, np.float64) for a in (anchors, keys, queue))
    total, count = 0.0, 0
    for i in range(len(anchors)):
        entries = []
        for j in range(len(keys)):
            if exclude_own_key and j == own_columns[i]:
                continue
            entries.append((keys[j], key_labels[j]))
        for k in range(len(queue)):
            if queue_valid[k]:
                entries.append((queue[k], queue_labels[k]))
        logits = [float(anchors[i] @ e) / temperature for e, _ in entries]
        log_denominator = np.log(sum(np.exp(s) for s in logits))
        positive = [s for s, (_, key) in zip(logits, entries) if key == anchor_keys[i]]
        if not positive:
            continue
        if variant == "out":
            loss = -np.mean([s - log_denominator for s in positive])
        else:
            loss = -np.log(np.mean([np.exp(s) for s in positive])) + log_denominator
        total += loss
        count += 1
    return total, count


def _unit(rng, *shape):
    x = rng.normal(size=shape)
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype("float32")


@pytest.mark.parametrize("variant", ["out", "in"])
@pytest.mark.parametrize("exclude_own_key", [False, True])
@pytest.mark.parametrize("block_size", [None, 3])
def test_queue_loss_matches_loop_reference(variant, exclude_own_key, block_size):
    rng = np.random.default_rng(1)
    anchors, keys, queue = _unit(rng, 6, 5), _unit(rng, 8, 5), _unit(rng, 7, 5)
    anchor_keys = np.array([0, 1, 2, 0, 1, 9], "int32")  # 9: no positive but its own key
    key_labels = np.array([0, 1, 2, 0, 1, 9, 2, 2], "int32")
    own_columns = np.arange(6, dtype="int32")
    queue_labels = np.array([0, 1, 2, 3, 0, 1, 2], "int32")
    queue_valid = np.array([1, 1, 0, 1, 0, 1, 1], bool)
    args = (anchors, anchor_keys, own_columns, keys, key_labels, queue, queue_labels, queue_valid)
    total, count = queue_supcon_sum(*args, temperature=0.2, variant=variant,
                                    exclude_own_key=exclude_own_key, block_size=block_size)
    expected = reference_queue_sum(*args, 0.2, variant, exclude_own_key)
    np.testing.assert_allclose(float(total), expected[0], rtol=1e-5)
    assert float(count) == expected[1] == (5 if exclude_own_key else 6)


def test_unwritten_queue_entries_are_neither_negatives_nor_positives():
    rng = np.random.default_rng(2)
    anchors, keys = _unit(rng, 4, 6), _unit(rng, 4, 6)
    labels = np.array([0, 1, 0, 1], "int32")
    own = np.arange(4, dtype="int32")
    empty = [np.zeros((0, 6), "float32"), np.zeros(0, "int32"), np.zeros(0, bool)]
    garbage = [_unit(rng, 5, 6), np.array([0, 1, 0, 1, 0], "int32"), np.zeros(5, bool)]
    for block_size in (None, 2):
        without = queue_supcon_sum(anchors, labels, own, keys, labels, *empty,
                                   temperature=0.1, block_size=block_size)
        masked = queue_supcon_sum(anchors, labels, own, keys, labels, *garbage,
                                  temperature=0.1, block_size=block_size)
        np.testing.assert_allclose(float(masked[0]), float(without[0]), rtol=1e-6)
        # The same entries, written, change the loss.
        garbage_valid = [garbage[0], garbage[1], np.ones(5, bool)]
        written = queue_supcon_sum(anchors, labels, own, keys, labels, *garbage_valid,
                                   temperature=0.1, block_size=block_size)
        assert abs(float(written[0]) - float(without[0])) > 1e-3


def test_own_view_key_is_a_positive_by_default():
    # One example, one view, no labels, empty queue: its only positive is its own key.
    anchor = np.array([[1.0, 0.0]], "float32")
    key = np.array([[0.6, 0.8]], "float32")
    queue = [np.zeros((2, 2), "float32"), np.zeros(2, "int32"), np.zeros(2, bool)]
    own = np.array([0], "int32")
    total, count = queue_supcon_sum(anchor, own, own, key, own, *queue, temperature=0.5)
    assert float(count) == 1 and float(total) == pytest.approx(0.0, abs=1e-6)  # log(e/e)
    total, count = queue_supcon_sum(anchor, own, own, key, own, *queue, temperature=0.5,
                                    exclude_own_key=True)
    assert float(count) == 0 and float(total) == 0.0


def test_blockwise_gradient_matches_dense():
    import tensorflow as tf

    rng = np.random.default_rng(3)
    anchors = tf.Variable(_unit(rng, 6, 4))
    keys, queue = _unit(rng, 6, 4), _unit(rng, 5, 4)
    labels = np.array([0, 1, 2, 0, 1, 2], "int32")
    extra = (np.arange(6, dtype="int32"), keys, labels, queue,
             np.array([0, 1, 2, 0, 1], "int32"), np.array([1, 1, 1, 0, 0], bool))
    grads = []
    for block_size in (None, 4):
        with tf.GradientTape() as tape:
            total, _ = queue_supcon_sum(anchors, labels, *extra, temperature=0.1,
                                        block_size=block_size)
        grads.append(tape.gradient(total, anchors).numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------- the model
def tiny_encoder(batch_norm=True):
    layers = [keras.Input((IMAGE, IMAGE, 3)), keras.layers.Conv2D(8, 3, padding="same")]
    if batch_norm:
        layers.append(keras.layers.BatchNormalization())
    layers += [keras.layers.ReLU(), keras.layers.GlobalAveragePooling2D()]
    return keras.Sequential(layers, name="tiny_encoder")


def tiny_model(batch_norm=True, momentum=0.9, queue_size=40, **kwargs):
    return SupConModel(tiny_encoder(batch_norm), 3, projection_dim=8, projection_hidden_dim=16,
                       momentum_encoder=momentum, queue_size=queue_size, **kwargs)


def make_data(n=8, views=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, views, IMAGE, IMAGE, 3)).astype("float32")
    y = rng.integers(0, 3, size=n).astype("int32")
    return x, y


def key_projections(model, x):
    return np.array(model.momentum_queue.key_projections(x.reshape((-1,) + x.shape[2:])))


def test_loss_against_reference_with_a_partly_filled_queue():
    keras.utils.set_random_seed(0)
    model = tiny_model(batch_norm=False, queue_size=40)
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    for seed in (1, 2):  # 2 x 16 keys: 32 of 40 entries written
        model.train_on_batch(*make_data(seed=seed))
    mq = model.momentum_queue
    assert int(mq.queue_filled.value) == 32 and int(mq.queue_pointer.value) == 32
    x, y = make_data(seed=3)
    loss = model.test_on_batch(x, y, return_dict=True)["loss"]
    queries = np.array(model(x)["projection"]).reshape(-1, 8)
    total, count = reference_queue_sum(
        queries, np.repeat(y, 2), np.arange(16), key_projections(model, x), np.repeat(y, 2),
        np.array(mq.queue.value), np.array(mq.queue_labels.value), np.arange(40) < 32,
        model.temperature)
    np.testing.assert_allclose(loss, total / count, rtol=1e-5)
    assert int(mq.queue_filled.value) == 32  # evaluation does not enqueue


def test_label_free_positives_are_the_same_example_keys():
    keras.utils.set_random_seed(0)
    model = tiny_model(batch_norm=False, queue_size=24, use_labels=False)
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    model.train_on_batch(make_data(seed=1)[0])
    mq = model.momentum_queue
    x = make_data(seed=2)[0]
    loss = model.test_on_batch(x, return_dict=True)["loss"]
    queries = np.array(model(x)["projection"]).reshape(-1, 8)
    ids = np.repeat(np.arange(8), 2)
    queue_labels = np.array(mq.queue_labels.value)
    assert not np.isin(queue_labels[:16], ids).any()  # queue entries: negatives only
    total, count = reference_queue_sum(queries, ids, np.arange(16), key_projections(model, x),
                                       ids, np.array(mq.queue.value), queue_labels,
                                       np.arange(24) < 16, model.temperature)
    np.testing.assert_allclose(loss, total / count, rtol=1e-5)


def test_first_step_with_an_empty_queue_equals_batch_keys_only():
    x, y = make_data(seed=4)
    losses = []
    for queue_size in (0, 64):
        keras.utils.set_random_seed(0)
        model = tiny_model(queue_size=queue_size)
        model.compile(optimizer=keras.optimizers.SGD(0.1))
        losses.append(model.train_on_batch(x, y, return_dict=True)["loss"])
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-6)


def test_ema_update_follows_its_formula_and_copies_moving_statistics():
    keras.utils.set_random_seed(0)
    model = tiny_model(batch_norm=True, momentum=0.7, key_batch_norm="moving")
    mq = model.momentum_queue
    # The key network starts as an exact copy.
    for q, k in zip(model.encoder.weights, mq.key_encoder.weights):
        np.testing.assert_array_equal(np.array(q), np.array(k))
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    query_layers = [model.encoder, model.projection_head]
    key_layers = [mq.key_encoder, mq.key_projection_head]
    for seed in (1, 2):
        query_before = [np.array(w) for layer in query_layers for w in layer.weights]
        key_before = [np.array(w) for layer in key_layers for w in layer.weights]
        model.train_on_batch(*make_data(seed=seed))
        query_after = [np.array(w) for layer in query_layers for w in layer.weights]
        key_after = [np.array(w) for layer in key_layers for w in layer.weights]
        trainable = [w.trainable for layer in query_layers for w in layer.weights]
        assert len(key_after) == 10 and trainable.count(False) == 2  # BN moving mean, var
        for q, q_new, k, new, is_trainable in zip(query_before, query_after, key_before,
                                                   key_after, trainable):
            # Weights: EMA with the query's before this step's optimizer update. Moving
            # statistics: copies of the query's after this step's forward pass.
            expected = 0.7 * k + 0.3 * q if is_trainable else q_new
            np.testing.assert_allclose(new, expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(np.array(mq.key_encoder.weights[0]),
                           np.array(model.encoder.weights[0]))
    assert not any(w is v for w in model.trainable_variables for v in mq.weights)
    model.trainable = True
    assert mq.key_encoder.trainable is False and not mq.trainable_weights


def test_key_batch_norm_uses_the_key_batch_statistics_outside_the_optimizer():
    keras.utils.set_random_seed(0)
    model = tiny_model(batch_norm=True, momentum=0.7)  # key_batch_norm="batch" by default
    mq = model.momentum_queue
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    x, y = make_data(seed=3)
    query_before = [np.array(w) for w in model.encoder.trainable_weights]
    key_before = [np.array(w) for w in mq.key_encoder.weights if "moving" not in w.path]
    model.train_on_batch(x, y)
    # gamma/beta (and kernels) of the key network: EMA only, never the optimizer's.
    key_after = [np.array(w) for w in mq.key_encoder.weights if "moving" not in w.path]
    assert len(key_after) == len(query_before) == 4
    for q, k, new in zip(query_before, key_before, key_after):
        np.testing.assert_allclose(new, 0.7 * k + 0.3 * q, rtol=1e-5, atol=1e-6)
    assert not any(w is v for w in model.trainable_variables for v in mq.weights)
    assert not mq.trainable_weights
    # Keys: the key network with batch statistics (training mode), L2-normalised.
    flat = x.reshape((-1,) + x.shape[2:])
    features = mq.key_encoder(model.preprocessing(flat), training=True)
    expected = np.array(mq.key_projection_head(features, training=True))
    expected /= np.linalg.norm(expected, axis=-1, keepdims=True)
    np.testing.assert_allclose(key_projections(model, x), expected, rtol=1e-5, atol=1e-6)
    inference = np.array(mq.key_projection_head(
        mq.key_encoder(model.preprocessing(flat), training=False), training=False))
    inference /= np.linalg.norm(inference, axis=-1, keepdims=True)
    assert not np.allclose(key_projections(model, x), inference, atol=1e-3)
    model.trainable = True  # unfreezing the model leaves the key network out of training
    assert not mq.trainable_weights
    assert not any(w is v for w in model.trainable_variables for v in mq.weights)
    with pytest.raises(ValueError, match="key_batch_norm must be one of"):
        tiny_model(key_batch_norm="frozen")


def test_queue_contents_after_wrap_around():
    keras.utils.set_random_seed(0)
    model = tiny_model(batch_norm=False, queue_size=36)  # 16 keys per step, not a divisor
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    mq = model.momentum_queue
    expected_keys = np.zeros((36, 8), "float32")
    expected_labels = np.zeros(36, "int32")
    pointer = 0
    for seed in range(4):
        x, y = make_data(seed=10 + seed)
        model.train_on_batch(x, y)
        rows = (pointer + np.arange(16)) % 36
        # The keys of step t come from the key network after that step's EMA update.
        expected_keys[rows] = key_projections(model, x)
        expected_labels[rows] = np.repeat(y, 2)
        pointer = (pointer + 16) % 36
    np.testing.assert_allclose(np.array(mq.queue.value), expected_keys, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.array(mq.queue_labels.value), expected_labels)
    assert int(mq.queue_pointer.value) == pointer == 28
    assert int(mq.queue_filled.value) == 36


def test_two_replicas_equal_one_device(two_replica_strategy):
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, size=(24, 2, IMAGE, IMAGE, 3)).astype("float32")
    y = rng.integers(0, 3, size=24).astype("int32")
    keras.utils.set_random_seed(5)
    single = tiny_model(batch_norm=False, queue_size=24)
    initial = single.get_weights()
    single.compile(optimizer=keras.optimizers.SGD(0.5))
    single_history = single.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    with two_replica_strategy.scope():
        mirrored = tiny_model(batch_norm=False, queue_size=24)
        mirrored.set_weights(initial)
        mirrored.compile(optimizer=keras.optimizers.SGD(0.5))
    history = mirrored.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"], single_history.history["loss"],
                               rtol=1e-5)
    assert int(np.array(mirrored.momentum_queue.queue_pointer)) == (3 * 16) % 24
    for a, b in zip(single.get_weights(), mirrored.get_weights()):  # query, keys, queue
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_keras_round_trip_keeps_encoder_key_encoder_and_queue(tmp_path):
    keras.utils.set_random_seed(0)
    model = tiny_model(queue_size=24, momentum=0.5)
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    for seed in (1, 2):
        model.train_on_batch(*make_data(seed=seed))
    path = tmp_path / "queue.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.get_config()["momentum_encoder"] == 0.5
    assert restored.get_config()["queue_size"] == 24
    for a, b in zip(model.momentum_queue.weights, restored.momentum_queue.weights):
        np.testing.assert_array_equal(np.array(a), np.array(b))
    for a, b in zip(model.encoder.weights, restored.encoder.weights):
        np.testing.assert_array_equal(np.array(a), np.array(b))
    x, y = make_data(seed=3)
    np.testing.assert_allclose(restored.test_on_batch(x, y), model.test_on_batch(x, y),
                               rtol=1e-6)


def test_joint_stage_trains_with_the_queue():
    keras.utils.set_random_seed(0)
    model = tiny_model(queue_size=32, stage="joint")
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    logs = model.train_on_batch(*make_data(seed=1), return_dict=True)
    assert np.isfinite(logs["supcon_loss"]) and int(model.momentum_queue.queue_filled.value) == 16


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("momentum", [1.0, -0.1, 1.5, "0.9", True])
def test_momentum_outside_unit_interval_is_refused(momentum):
    with pytest.raises(ValueError, match=r"momentum_encoder must be a float in \[0, 1\)"):
        tiny_model(momentum=momentum)


def test_queue_without_momentum_encoder_is_refused():
    with pytest.raises(ValueError, match="needs a momentum encoder"):
        tiny_model(momentum=None, queue_size=16)


def test_queue_smaller_than_one_step_is_refused():
    model = tiny_model(queue_size=10)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    with pytest.raises(ValueError, match=r"queue_size=10 is smaller than the 16 keys"):
        model.train_on_batch(*make_data())


def test_loading_a_queue_of_another_size_names_the_fix(tmp_path):
    model = tiny_model(queue_size=24)
    path = tmp_path / "q.weights.h5"
    model.save_weights(path)
    other = tiny_model(queue_size=32)
    with pytest.raises(ValueError, match=r"saved queue has shape \(24, 8\).*\(32, 8\); build"):
        other.load_weights(path)


def test_loading_a_queue_of_another_projection_dim_names_the_fix():
    layer = tiny_model(queue_size=24).momentum_queue
    store = {"0": np.zeros((24, 4), "float32"), "1": np.zeros(24, "int32"),
             "2": np.zeros((), "int32"), "3": np.zeros((), "int32")}
    with pytest.raises(ValueError, match=r"saved queue has shape \(24, 4\).*\(24, 8\); build"):
        layer.load_own_variables(store)


def test_momentum_queue_layer_config_round_trip():
    layer = tiny_model(queue_size=12).momentum_queue
    clone = MomentumQueue.from_config(layer.get_config())
    assert clone.queue_size == 12 and clone.momentum == 0.9
    assert [tuple(w.shape) for w in clone.weights] == [tuple(w.shape) for w in layer.weights]


def test_key_batch_norm_mode_survives_the_keras_format(tmp_path):
    model = tiny_model(queue_size=20, key_batch_norm="moving")
    assert MomentumQueue.from_config(model.momentum_queue.get_config()).key_batch_norm == "moving"
    x, y = make_data(seed=4)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    model.train_on_batch(x, y)
    path = tmp_path / "moving.keras"
    model.save(path)
    loaded = load_model(path)
    assert loaded.momentum_queue.key_batch_norm == "moving"
    np.testing.assert_allclose(key_projections(loaded, x), key_projections(model, x), atol=1e-6)
    batch_mode = load_model(_save(tiny_model(queue_size=20), tmp_path / "batch.keras"))
    bn = [lyr for lyr in batch_mode.momentum_queue.key_encoder._flatten_layers()
          if isinstance(lyr, keras.layers.BatchNormalization)]
    assert bn and all(lyr.trainable and not any(w.trainable for w in lyr.weights) for lyr in bn)
    assert not any(w is v for w in batch_mode.trainable_variables
                   for v in batch_mode.momentum_queue.weights)


def _save(model, path):
    model.save(path)
    return path


@pytest.mark.usefixtures("tiny_architecture")
def test_cli_trains_with_a_momentum_encoder_and_queue(tmp_path):
    from conftest import invoke_cli, one_error_line

    common = ["--arch", "cli_test_cnn", "--data", "embedded:digits", "--image-size", "8",
              "--batch-size", "8", "--projection-dim", "8", "--projection-hidden-dim", "16",
              "--epochs", "1", "--steps-per-epoch", "3", "--eval-split", "none", "--quiet"]
    run = tmp_path / "run"
    result = invoke_cli("train", *common, "--momentum-encoder", "0.99", "--queue-size", "40",
                        "--key-batch-norm", "moving", "--output", run)
    assert result.exit_code == 0, result.output
    mq = load_model(run / "model.keras").momentum_queue
    assert (mq.momentum, mq.queue_size, mq.key_batch_norm) == (0.99, 40, "moving")
    assert int(mq.queue_filled.value) == 40 and int(mq.queue_pointer.value) == 3 * 16 % 40
    line = one_error_line(invoke_cli("train", *common, "--queue-size", "40",
                                     "--output", tmp_path / "no_momentum"))
    assert "queue_size" in line and "--momentum-encoder 0.999" in line
