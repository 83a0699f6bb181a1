"""supcon_loss under tf.distribute.MirroredStrategy on two logical CPU devices.

Each replica holds half of the global batch. The loss must gather negatives from both
halves, so the mean of the replica losses equals the single-device loss on the whole
batch, and the summed gradients of (replica loss / replicas) equal the single-device
gradient, for a shared weight and for the input features.
"""

import numpy as np
import pytest
import tensorflow as tf

from kerascon.losses import supcon_loss


@pytest.fixture
def strategy(two_replica_strategy):
    return two_replica_strategy


def _split(strategy, array):
    half = array.shape[0] // 2
    return strategy.experimental_distribute_values_from_function(
        lambda ctx: tf.constant(array[ctx.replica_id_in_sync_group * half:
                                      (ctx.replica_id_in_sync_group + 1) * half])
    )


CASES = [
    {"labels": True},
    {"labels": False},
    {"labels": True, "variant": "in"},
    {"labels": True, "contrast_mode": "one"},
    {"labels": True, "singletons": True},
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_replicas_reproduce_the_single_device_loss_and_gradient(strategy, case):
    rng = np.random.default_rng(0)
    batch, views, dim, features_in = 8, 3, 6, 5
    inputs = rng.normal(size=(batch, views, features_in)).astype("float32")
    if case.get("singletons"):
        labels = np.array([0, 1, 2, 0, 3, 4, 5, 6], dtype="int32")  # mostly without positives
    else:
        labels = rng.integers(0, 3, size=batch).astype("int32")
    kwargs = {k: v for k, v in case.items() if k in ("variant", "contrast_mode")}
    use_labels = case["labels"]
    initial_weight = rng.normal(size=(features_in, dim)).astype("float32")

    # Single device, global batch.
    weight = tf.Variable(initial_weight)
    x = tf.constant(inputs)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        features = tf.einsum("bvi,id->bvd", x, weight)
        single_loss = supcon_loss(features, labels if use_labels else None, **kwargs)
    single_weight_grad = tape.gradient(single_loss, weight).numpy()
    single_input_grad = tape.gradient(single_loss, x).numpy()

    with strategy.scope():
        mirrored_weight = tf.Variable(initial_weight)

    @tf.function
    def replica_step(x_local, labels_local):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x_local)
            features = tf.einsum("bvi,id->bvd", x_local, mirrored_weight)
            loss = supcon_loss(features, labels_local if use_labels else None, **kwargs)
            scaled = loss / strategy.num_replicas_in_sync
        return loss, tape.gradient(scaled, mirrored_weight), tape.gradient(scaled, x_local)

    losses, weight_grads, input_grads = strategy.run(
        replica_step, args=(_split(strategy, inputs), _split(strategy, labels))
    )
    replica_losses = [t.numpy() for t in strategy.experimental_local_results(losses)]
    np.testing.assert_allclose(np.mean(replica_losses), single_loss.numpy(), rtol=1e-5, atol=1e-6)
    summed = strategy.reduce(tf.distribute.ReduceOp.SUM, weight_grads, axis=None).numpy()
    np.testing.assert_allclose(summed, single_weight_grad, rtol=1e-4, atol=1e-6)
    local_input_grads = np.concatenate(
        [t.numpy() for t in strategy.experimental_local_results(input_grads)]
    )
    np.testing.assert_allclose(local_input_grads, single_input_grad, rtol=1e-4, atol=1e-6)
    # Not merely the local loss: contrasting only within a replica gives another value.
    if use_labels and not case.get("singletons") and not kwargs:
        local_only = np.mean([float(supcon_loss(features[:4], labels[:4])),
                              float(supcon_loss(features[4:], labels[4:]))])
        assert abs(local_only - single_loss.numpy()) > 1e-3


def test_custom_mask_rows_are_gathered(strategy):
    rng = np.random.default_rng(3)
    features = rng.normal(size=(6, 2, 4)).astype("float32")
    mask = (rng.random((6, 6)) > 0.5).astype("float32")
    single = supcon_loss(features, mask=mask).numpy()
    losses = strategy.run(
        tf.function(lambda f, m: supcon_loss(f, mask=m)),
        args=(_split(strategy, features), _split(strategy, mask)),
    )
    replica_losses = [t.numpy() for t in strategy.experimental_local_results(losses)]
    np.testing.assert_allclose(np.mean(replica_losses), single, rtol=1e-5)
