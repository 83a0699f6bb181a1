"""Batch normalization that trains with TensorFlow's fused kernel.

Keras 3's ``BatchNormalization`` computes the batch moments and the normalisation with
separate element-wise ops (mean, squared difference, mul, sub, ...), and its gradient
with as many more. On the TensorFlow backend, in training, :class:`FusedBatchNormalization`
runs the same maths as one ``FusedBatchNormV3`` op (oneDNN on CPU, cuDNN on GPU) whose
gradient is one op too. Weights, names, the moving-average update (biased batch variance,
as Keras) and the outputs are those of Keras' layer; in every other case (inference,
a frozen layer, the JAX backend, synchronised or renormalised batch norm, a mask, inputs
not of rank 4 with channels last) it runs Keras' own ``call``.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["FusedBatchNormalization"]


@keras.saving.register_keras_serializable(package="kerascon")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` with a fused training step on TensorFlow.

    Takes exactly the arguments of ``keras.layers.BatchNormalization`` and computes the
    same outputs and moving statistics; only the TensorFlow training path is faster.

    Example:
        >>> import numpy as np
        >>> bn = FusedBatchNormalization(momentum=0.9, epsilon=1e-5)
        >>> y = bn(np.random.rand(8, 4, 4, 3).astype("float32"), training=True)
        >>> tuple(y.shape)
        (8, 4, 4, 3)
    """

    def _fused_applies(self, inputs, training, mask):
        return (
            bool(training) and self.trainable and mask is None
            and keras.backend.backend() == "tensorflow"
            and not self.renorm and not self.synchronized
            and len(inputs.shape) == 4 and self.axis in (3, -1)
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fused_applies(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        x = ops.cast(inputs, "float32")
        channels = x.shape[-1]
        gamma = ops.cast(self.gamma, "float32") if self.scale else tf.ones([channels])
        beta = ops.cast(self.beta, "float32") if self.center else tf.zeros([channels])
        y, mean, variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=gamma, offset=beta, mean=tf.zeros([0]), variance=tf.zeros([0]),
            epsilon=float(self.epsilon), exponential_avg_factor=1.0, data_format="NHWC",
            is_training=True)
        # The op returns the Bessel-corrected variance; Keras averages the biased one.
        count = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), tf.float32)
        variance = variance * tf.maximum(count - 1.0, 0.0) / count
        self.moving_mean.assign(
            ops.cast(self.moving_mean, "float32") * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(
            ops.cast(self.moving_variance, "float32") * self.momentum
            + variance * (1.0 - self.momentum))
        return ops.cast(y, self.compute_dtype)
