"""Keras layers of a SupCon model: projection head, L2 normalisation, image preprocessing."""

from __future__ import annotations

from typing import Sequence

import keras
from keras import ops

from kerascon.errors import ConfigError
from kerascon.losses.kernel import l2_normalize

__all__ = [
    "L2Normalize",
    "ProjectionHead",
    "ImagePreprocessing",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "synchronize_batch_norm",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@keras.saving.register_keras_serializable(package="kerascon")
class L2Normalize(keras.layers.Layer):
    """Scales each vector along ``axis`` to unit L2 norm, computed in float32
    (:func:`kerascon.losses.kernel.l2_normalize`, as the losses do).

    A zero vector stays zero (the norm is floored at ``sqrt(epsilon)``), so neither
    the value nor the gradient can be NaN.

    Example:
        >>> import numpy as np
        >>> L2Normalize()(np.array([[3.0, 4.0]]))   # [[0.6, 0.8]]
    """

    def __init__(self, axis=-1, epsilon=1e-12, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis
        self.epsilon = epsilon

    def call(self, inputs):
        return ops.cast(l2_normalize(inputs, self.axis, self.epsilon), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="kerascon")
class ProjectionHead(keras.layers.Layer):
    """The projection head g: features r -> L2-normalised projection z.

    ``head_type="mlp"`` (the paper's default) is Dense(hidden) -> ReLU -> Dense(output);
    ``"linear"`` is a single Dense(output). The output is always on the unit sphere and
    in float32, whatever the compute dtype, because the contrastive loss needs float32.

    Args:
        hidden_dim: width of the hidden layer of the MLP head (2048 in the paper).
        output_dim: projection size (128 in the paper).
        head_type: ``"mlp"`` or ``"linear"``.
        normalize: L2-normalise the output (default ``True``).

    Example:
        >>> import numpy as np
        >>> head = ProjectionHead(hidden_dim=512, output_dim=128)
        >>> z = head(np.random.normal(size=(4, 2048)).astype("float32"))   # [4, 128]
    """

    def __init__(self, hidden_dim=2048, output_dim=128, head_type="mlp", normalize=True, **kwargs):
        super().__init__(**kwargs)
        if head_type not in ("mlp", "linear"):
            raise ConfigError(f"head_type must be 'mlp' or 'linear', got {head_type!r}")
        for name, value in (("hidden_dim", hidden_dim), ("output_dim", output_dim)):
            if int(value) < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        self.hidden_dim = int(hidden_dim)
        self.output_dim = int(output_dim)
        self.head_type = head_type
        self.normalize = normalize
        if head_type == "mlp":
            self.hidden = keras.layers.Dense(self.hidden_dim, activation="relu", name="hidden",
                                             dtype=self.dtype_policy)
        else:
            self.hidden = None
        self.projection = keras.layers.Dense(self.output_dim, name="projection",
                                             dtype=self.dtype_policy)
        self.l2_normalize = L2Normalize(name="l2_normalize", dtype="float32")

    def build(self, input_shape):
        shape = tuple(input_shape)
        if self.hidden is not None:
            self.hidden.build(shape)
            shape = shape[:-1] + (self.hidden_dim,)
        self.projection.build(shape)
        self.l2_normalize.build(shape[:-1] + (self.output_dim,))

    def call(self, inputs):
        x = inputs
        if self.hidden is not None:
            x = self.hidden(x)
        x = self.projection(x)
        x = ops.cast(x, "float32")
        return self.l2_normalize(x) if self.normalize else x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)[:-1] + (self.output_dim,)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype="float32")

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_dim": self.hidden_dim,
            "output_dim": self.output_dim,
            "head_type": self.head_type,
            "normalize": self.normalize,
        }


@keras.saving.register_keras_serializable(package="kerascon")
class ImagePreprocessing(keras.layers.Layer):
    """Raw images in, normalised images out: ``(x * scale - mean) / std`` per channel.

    Put it in front of an encoder so that the model takes raw uint8 (or float in
    [0, 255]) images, as a SavedModel served to users should. Grayscale inputs (one
    channel) are repeated to three channels when the mean has three entries.

    Args:
        mean: per-channel mean after scaling (ImageNet's by default).
        std: per-channel standard deviation after scaling.
        scale: multiplies the raw pixels first; 1/255 maps [0, 255] to [0, 1].

    Example:
        >>> import numpy as np
        >>> pre = ImagePreprocessing(mean=(0.5,) * 3, std=(0.5,) * 3)
        >>> pre(np.full((1, 2, 2, 3), 255, "uint8"))   # all ones
    """

    def __init__(self, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                 scale: float = 1.0 / 255.0, **kwargs):
        super().__init__(**kwargs)
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        if len(self.mean) != len(self.std):
            raise ConfigError(
                f"mean and std must have one entry per channel, got {len(self.mean)} and {len(self.std)}"
            )
        if any(s <= 0 for s in self.std):
            raise ConfigError(f"std entries must be positive, got {self.std}")
        self.scale = float(scale)

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype) * ops.cast(self.scale, self.compute_dtype)
        channels = len(self.mean)
        if x.shape[-1] == 1 and channels == 3:
            x = ops.repeat(x, 3, axis=-1)
        mean = ops.cast(ops.convert_to_tensor(self.mean), self.compute_dtype)
        std = ops.cast(ops.convert_to_tensor(self.std), self.compute_dtype)
        return (x - mean) / std

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)[:-1] + (len(self.mean),)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "std": self.std, "scale": self.scale}


def synchronize_batch_norm(model, synchronized=True):
    """Make every BatchNormalization layer in ``model`` compute its batch statistics over
    all replicas (``synchronized=True``) or per replica. Returns the number of layers set.

    With large global batches split over many devices, per-replica batch statistics come
    from few examples; synchronised batch norm (as in SimCLR's TPU code) averages them over
    the global batch. The setting is part of each layer's config, so it survives saving.
    It only has an effect under a ``tf.distribute`` strategy with several replicas.

    Example:
        >>> import kerascon
        >>> encoder = kerascon.encoders.resnet50()
        >>> synchronize_batch_norm(encoder)
        53
    """
    count = 0
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = bool(synchronized)
            count += 1
    return count
