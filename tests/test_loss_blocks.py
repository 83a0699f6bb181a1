"""The blockwise (memory-efficient) SupCon computation equals the dense one and keeps its
memory bound in every execution mode."""

import itertools

import numpy as np
import pytest
import tensorflow as tf
from loss_reference import reference_supcon

from kerascon.losses.supcon import AUTO_BLOCK_ELEMENTS, _resolve_block_size, supcon_loss


def _value_and_grad(features, labels, **kwargs):
    x = tf.Variable(features)
    with tf.GradientTape() as tape:
        loss = supcon_loss(x, labels, **kwargs)
    return float(loss), tape.gradient(loss, x).numpy()


@pytest.mark.parametrize(
    "block_size,use_labels,variant,contrast_mode",
    list(itertools.product([1, 3, 7, 64], [True, False], ["out", "in"], ["all", "one"])),
)
def test_blockwise_matches_dense_value_and_gradient(block_size, use_labels, variant,
                                                    contrast_mode):
    rng = np.random.default_rng(block_size)
    features = rng.normal(size=(10, 3, 6)).astype("float32")
    labels = rng.integers(0, 4, size=10) if use_labels else None
    kwargs = {"variant": variant, "contrast_mode": contrast_mode, "temperature": 0.2}
    dense_value, dense_grad = _value_and_grad(features, labels, block_size=None, **kwargs)
    block_value, block_grad = _value_and_grad(features, labels, block_size=block_size, **kwargs)
    np.testing.assert_allclose(block_value, dense_value, rtol=1e-5)
    np.testing.assert_allclose(block_grad, dense_grad, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(block_value, reference_supcon(features, labels, **kwargs), rtol=1e-5)


def test_blockwise_edge_cases_stay_finite():
    identical = np.ones((6, 2, 4), "float32")
    value, grad = _value_and_grad(identical, np.array([0, 1, 0, 1, 2, 2]), block_size=4)
    np.testing.assert_allclose(value, np.log(11.0), rtol=1e-6)
    assert np.all(np.isfinite(grad))
    singletons = np.random.default_rng(0).normal(size=(5, 1, 4)).astype("float32")
    value, grad = _value_and_grad(singletons, np.arange(5), block_size=2)
    assert value == 0.0 and np.all(grad == 0.0)
    features = np.random.default_rng(1).normal(size=(8, 2, 4)).astype("float32")
    for variant in ("out", "in"):
        value, grad = _value_and_grad(features, np.arange(8) % 3, block_size=3,
                                      temperature=1e-3, variant=variant)
        assert np.isfinite(value) and np.all(np.isfinite(grad))


def test_blockwise_inside_tf_function_with_unknown_batch():
    features = np.random.default_rng(2).normal(size=(9, 2, 5)).astype("float32")
    labels = np.arange(9) % 4

    @tf.function(input_signature=[tf.TensorSpec([None, 2, 5]), tf.TensorSpec([None], tf.int64)])
    def blockwise(x, y):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = supcon_loss(x, y, block_size=4)
        return loss, tape.gradient(loss, x)

    value, grad = blockwise(features, labels)
    dense_value, dense_grad = _value_and_grad(features, labels, block_size=None)
    np.testing.assert_allclose(float(value), dense_value, rtol=1e-5)
    np.testing.assert_allclose(grad.numpy(), dense_grad, rtol=1e-4, atol=1e-6)


def test_blockwise_across_replicas_matches_single_device(two_replica_strategy):
    strategy = two_replica_strategy
    rng = np.random.default_rng(3)
    features = rng.normal(size=(8, 2, 6)).astype("float32")
    labels = rng.integers(0, 3, size=8).astype("int32")
    single_value, single_grad = _value_and_grad(features, labels, block_size=None)

    def split(array):
        return strategy.experimental_distribute_values_from_function(
            lambda ctx: tf.constant(array[ctx.replica_id_in_sync_group * 4:
                                          (ctx.replica_id_in_sync_group + 1) * 4]))

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = supcon_loss(x, y, block_size=3)
            scaled = loss / strategy.num_replicas_in_sync
        return loss, tape.gradient(scaled, x)

    losses, grads = strategy.run(step, args=(split(features), split(labels)))
    losses = [t.numpy() for t in strategy.experimental_local_results(losses)]
    grads = np.concatenate([t.numpy() for t in strategy.experimental_local_results(grads)])
    np.testing.assert_allclose(np.mean(losses), single_value, rtol=1e-5)
    np.testing.assert_allclose(grads, single_grad, rtol=1e-4, atol=1e-6)


def test_auto_switches_to_blocks_above_the_threshold():
    assert _resolve_block_size("auto", 512, 1024, None) is None
    assert AUTO_BLOCK_ELEMENTS < 65536 * 65536
    block = _resolve_block_size("auto", 65536, 65536, None)
    assert block is not None and block * 65536 * 4 <= AUTO_BLOCK_ELEMENTS
    assert _resolve_block_size("auto", None, 1024, None) is None  # unknown at trace time
    assert _resolve_block_size("auto", 65536, 65536, np.ones((2, 2))) is None
    with pytest.raises(ValueError, match="block_size must be"):
        supcon_loss(np.ones((2, 2, 3), "float32"), block_size=0)
    with pytest.raises(ValueError, match="custom mask needs the dense"):
        supcon_loss(np.ones((2, 2, 3), "float32"), mask=np.eye(2), block_size=4)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["tf-eager", "tf-fit-eager", "jax-eager"])
def test_blockwise_memory_stays_bounded_in_eager_modes(mode):
    """An eager tape (or run_eagerly fit, or JAX without jit) must not record every block.

    8,192 x 2 views is N = 16,384: one dense [N, N] float32 matrix is 1 GiB, and recording
    every block's intermediates needs several of them (about 10 GiB before the fix). The
    loss, measured in a fresh process, may grow the peak RSS by less than one such matrix.
    """
    from benchmarks.loss_memory import measure

    batch, views = 8192, 2
    dense_bytes = (batch * views) ** 2 * 4
    result = measure(mode, batch, views=views, dim=16, block_size=128, timeout=600)
    assert np.isfinite(result["loss"])
    assert result["peak_increase_mib"] * 2**20 < dense_bytes, result
