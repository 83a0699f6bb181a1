"""FusedBatchNormalization computes what keras.layers.BatchNormalization computes."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerascon.encoders import resnet18
from kerascon.encoders.batch_norm import FusedBatchNormalization


def _pair(**kwargs):
    plain = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, **kwargs)
    fused = FusedBatchNormalization(momentum=0.9, epsilon=1e-5, **kwargs)
    for layer in (plain, fused):
        layer.build((None, 5, 5, 7))
        if layer.scale:
            layer.gamma.assign(np.linspace(0.5, 2.0, 7))
        if layer.center:
            layer.beta.assign(np.linspace(-1.0, 1.0, 7))
    return plain, fused


def _step(layer, x, training):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=training)
        loss = tf.reduce_sum(y * tf.range(1.0, 8.0) * tf.cos(x))
    return y.numpy(), [g.numpy() for g in tape.gradient(loss, [x] + layer.trainable_variables)]


@pytest.mark.parametrize("kwargs", [{}, {"center": False}, {"scale": False}])
@pytest.mark.parametrize("training", [True, False])
def test_same_outputs_gradients_and_moving_statistics(kwargs, training):
    x = np.random.default_rng(0).normal(2.0, 3.0, (16, 5, 5, 7)).astype(np.float32)
    plain, fused = _pair(**kwargs)
    for _ in range(2):  # the second step starts from updated moving statistics
        y_plain, g_plain = _step(plain, x, training)
        y_fused, g_fused = _step(fused, x, training)
        np.testing.assert_allclose(y_fused, y_plain, atol=1e-5)
        for a, b in zip(g_fused, g_plain):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(fused.moving_mean.numpy(), plain.moving_mean.numpy(), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(fused.moving_variance.numpy(), plain.moving_variance.numpy(), rtol=1e-5)


def test_frozen_layer_keeps_its_statistics():
    x = np.random.default_rng(1).normal(size=(4, 5, 5, 7)).astype(np.float32)
    _, fused = _pair()
    fused.trainable = False
    fused(x, training=True)
    np.testing.assert_array_equal(fused.moving_mean.numpy(), np.zeros(7, np.float32))


def test_resnet_uses_it_with_unchanged_weight_names_and_round_trips():
    encoder = resnet18(width_multiplier=0.125, input_shape=(8, 8, 3))
    norms = [layer for layer in encoder.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and all(isinstance(layer, FusedBatchNormalization) for layer in norms)
    assert [w.path for w in norms[0].weights] == [
        "stem_bn/gamma", "stem_bn/beta", "stem_bn/moving_mean", "stem_bn/moving_variance"]
    clone = FusedBatchNormalization.from_config(norms[0].get_config())
    assert clone.get_config() == norms[0].get_config()
