"""SupConLoss in model.compile of plain Keras models: shapes, distribution, bad input.

The JAX half runs in a subprocess (tests/jax_scripts/loss_any_model_checks.py), since the
Keras backend is fixed per process.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerascon.losses import SimCLRLoss, SupConLoss, supcon_loss

pytestmark = pytest.mark.slow

FEATURES, DIM, VIEWS = 6, 8, 2


def _data(n=24, views=None, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=n).astype("int32")
    centers = rng.normal(size=(3, FEATURES)) * 2
    shape = (n, FEATURES) if views is None else (n, views, FEATURES)
    noise = rng.normal(size=shape)
    x = (centers[labels][:, None] if views else centers[labels]) + noise
    return x.astype("float32"), labels


def _model(views=None, seed=0):
    """Dense embedding of [B, F] -> [B, D], or of every view [B, V, F] -> [B, V, D]."""
    keras.utils.set_random_seed(seed)
    shape = (FEATURES,) if views is None else (views, FEATURES)
    return keras.Sequential([keras.Input(shape), keras.layers.Dense(DIM)])


@pytest.mark.parametrize("views,label_shape", [(None, "B1"), (VIEWS, "B")],
                         ids=["B-D-labels-B1", "B-V-D-labels-B"])
def test_fit_and_evaluate_give_the_loss_of_the_outputs(views, label_shape):
    x, labels = _data(views=views)
    y = labels if label_shape == "B" else labels[:, None]
    model = _model(views)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=SupConLoss(temperature=0.5))
    # Keras' logged loss is the loss of the model's outputs, not a rescaled copy.
    evaluated = model.evaluate(x, y, batch_size=len(x), verbose=0)
    expected = float(supcon_loss(model.predict(x, verbose=0).reshape(len(x), -1, DIM),
                                 labels, temperature=0.5))
    np.testing.assert_allclose(evaluated, expected, rtol=1e-5)
    history = model.fit(x, y, batch_size=8, epochs=4, verbose=0, shuffle=False)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


def _fit_weights(model, x, y, batch_size, steps_epochs=2):
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
    history = model.fit(dataset, epochs=steps_epochs, verbose=0, shuffle=False)
    return [np.array(w) for w in model.get_weights()], history.history["loss"]


@pytest.mark.parametrize("views", [None, VIEWS], ids=["B-D", "B-V-D"])
def test_two_replicas_fit_like_one_device_on_the_global_batch(two_replica_strategy, views):
    # 18 examples in batches of 8: the last batch of 2 gives each replica one example.
    x, labels = _data(n=18, views=views, seed=1)
    single = _model(views, seed=2)
    initial = single.get_weights()
    single.compile(optimizer=keras.optimizers.SGD(0.5), loss=SupConLoss(temperature=0.3))
    single_weights, single_losses = _fit_weights(single, x, labels, batch_size=8)

    with two_replica_strategy.scope():
        mirrored = _model(views, seed=2)
        mirrored.set_weights(initial)
        mirrored.compile(optimizer=keras.optimizers.SGD(0.5), loss=SupConLoss(temperature=0.3))
    mirrored_weights, mirrored_losses = _fit_weights(mirrored, x, labels, batch_size=8)

    moved = max(np.max(np.abs(a - b)) for a, b in zip(single_weights, initial))
    assert moved > 1e-2  # the comparison below is not between two untrained models
    for a, b in zip(single_weights, mirrored_weights):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(mirrored_losses, single_losses, rtol=1e-4)


def test_replica_values_sum_to_the_single_device_loss(two_replica_strategy):
    """What Keras differentiates on each replica sums to the global loss (no double count)."""
    x, labels = _data(n=8, views=None, seed=3)
    single = SupConLoss()(labels, x)
    half = 4
    per_replica = two_replica_strategy.run(
        tf.function(lambda f, y: SupConLoss()(y, f)),
        args=tuple(
            two_replica_strategy.experimental_distribute_values_from_function(
                lambda ctx, a=a: tf.constant(a[ctx.replica_id_in_sync_group * half:
                                               (ctx.replica_id_in_sync_group + 1) * half]))
            for a in (x, labels)
        ),
    )
    summed = sum(float(t) for t in two_replica_strategy.experimental_local_results(per_replica))
    np.testing.assert_allclose(summed, float(single), rtol=1e-5)


def test_one_view_without_labels_is_a_clear_error():
    x, _ = _data()
    model = _model()
    model.compile(optimizer="sgd", loss=SupConLoss())
    with pytest.raises(ValueError, match="one view and no labels gives no positives; pass labels"):
        model.fit(x, batch_size=8, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="one view and no labels gives no positives"):
        SimCLRLoss()(None, x)


@pytest.mark.parametrize(
    "y_pred,y_true,message",
    [
        (np.zeros((4, 2, 3, 8), "float32"), np.arange(4), r"\[batch, dim\] \(one view\) or"),
        (np.zeros((4,), "float32"), np.arange(4), r"\[batch, dim\] \(one view\) or"),
        (np.zeros((4, 8), "float32"), np.eye(4, 3), "not one-hot"),
        (np.zeros((4, 8), "float32"), np.arange(3), "labels has 3 entries"),
    ],
    ids=["rank-4", "rank-1", "one-hot", "mismatch"],
)
def test_bad_shapes_name_the_expected_shapes(y_pred, y_true, message):
    with pytest.raises(ValueError, match=message):
        SupConLoss()(y_true, y_pred)


def test_rank_four_model_output_fails_in_fit():
    model = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(8, 3, padding="same")])
    model.compile(optimizer="sgd", loss=SupConLoss())
    x = np.zeros((8, 4, 4, 3), "float32")
    with pytest.raises(ValueError, match="flatten or pool the encoder output"):
        model.fit(x, np.arange(8) % 2, batch_size=8, verbose=0)


def test_sample_weight_is_refused():
    x, labels = _data()
    model = _model()
    model.compile(optimizer="sgd", loss=SupConLoss())
    with pytest.raises(ValueError, match="does not support sample_weight"):
        model.fit(x, labels, sample_weight=np.ones(len(x)), batch_size=8, verbose=0)


@pytest.mark.parametrize("views", [1, 2, 3])
def test_single_example_is_finite_and_defined(views):
    x = tf.Variable(np.random.default_rng(4).normal(size=(1, views, DIM)).astype("float32"))
    with tf.GradientTape() as tape:
        loss = SupConLoss()(np.array([[5]]), x)
    grad = tape.gradient(loss, x).numpy()
    assert np.isfinite(float(loss)) and np.all(np.isfinite(grad))
    if views <= 2:  # no positive (1 view), or the only other view is the whole denominator
        np.testing.assert_allclose(float(loss), 0.0, atol=1e-6)
    else:  # only pulls the views together
        assert float(loss) > 0


def test_large_integer_labels_are_not_rounded():
    # 2**24 and 2**24 + 1 are equal in float32: Keras' default y_true cast would merge them.
    features = np.random.default_rng(5).normal(size=(4, 1, DIM)).astype("float32")
    labels = np.array([2**24, 2**24 + 1, 2**24, 7], dtype="int64")
    np.testing.assert_allclose(float(SupConLoss()(labels, features)),
                               float(supcon_loss(features, labels.astype("int32"))), rtol=1e-6)


@pytest.fixture(scope="module")
def jax_results(tmp_path_factory):
    script = Path(__file__).parent / "jax_scripts" / "loss_any_model_checks.py"
    env = {**os.environ, "KERAS_BACKEND": "jax",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu"}
    completed = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                               text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_supcon_loss_in_compile_on_jax(jax_results):
    for case in ("B-D", "B-V-D"):
        np.testing.assert_allclose(jax_results[f"{case}_evaluate"], jax_results[f"{case}_expected"],
                                   rtol=1e-5)
        assert jax_results[f"{case}_decreased"]
    assert "one view and no labels gives no positives" in jax_results["no_labels_error"]


def test_data_parallel_fit_matches_single_device_on_jax(jax_results):
    assert jax_results["devices"] == 2
    assert jax_results["moved"] > 1e-2
    assert jax_results["data_parallel_max_diff"] < 1e-5
