"""Building blocks for the ResNet encoders (stems, basic and bottleneck blocks).

Every layer gets a deterministic name so that weights can be mapped from
PyTorch checkpoints (see :mod:`kerascon.encoders.resnet` for the naming
scheme). Strided 3x3/7x7 convolutions and the stem max-pool use an explicit
``ZeroPadding2D`` followed by ``padding="valid"`` so that output sizes and the
sampling grid match PyTorch's symmetric padding exactly (TensorFlow's
``"same"`` pads asymmetrically when the stride is 2).

Example:
    >>> import keras
    >>> from kerascon.encoders.blocks import cifar_stem, basic_block
    >>> x = keras.Input((32, 32, 3))
    >>> y = basic_block(cifar_stem(x, 8), 16, stride=2, prefix="stage2_block0")
    >>> tuple(y.shape)
    (None, 16, 16, 16)
"""

from __future__ import annotations

import keras
from keras import layers

from kerascon.encoders.batch_norm import FusedBatchNormalization

#: PyTorch BatchNorm2d defaults (torch momentum 0.1 == Keras momentum 0.9).
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


def kernel_initializer():
    """He-normal with ``fan_out`` mode, as torchvision's ResNet uses."""
    return keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")


def conv(x, filters, kernel_size, stride=1, *, name, pad_name=None):
    """Conv2D without bias; PyTorch-style padding ``kernel_size // 2``.

    Stride-1 convolutions use ``"same"`` (symmetric for odd kernels, so it is
    identical to PyTorch). Strided convolutions with ``kernel_size > 1`` use an
    explicit ``ZeroPadding2D`` named ``pad_name`` followed by ``"valid"``.
    """
    pad = kernel_size // 2
    if stride != 1 and pad > 0:
        x = layers.ZeroPadding2D(pad, name=pad_name or f"{name}_pad")(x)
        padding = "valid"
    else:
        padding = "same" if pad > 0 else "valid"
    return layers.Conv2D(
        filters,
        kernel_size,
        strides=stride,
        padding=padding,
        use_bias=False,
        kernel_initializer=kernel_initializer(),
        name=name,
    )(x)


def batch_norm(x, *, name, zero_gamma=False):
    """BatchNormalization with PyTorch's defaults (momentum 0.9, eps 1e-5); trains with
    TensorFlow's fused kernel (:class:`~kerascon.encoders.batch_norm.FusedBatchNormalization`)."""
    return FusedBatchNormalization(
        momentum=BN_MOMENTUM,
        epsilon=BN_EPSILON,
        gamma_initializer="zeros" if zero_gamma else "ones",
        name=name,
    )(x)


def cifar_stem(x, filters):
    """3x3 conv stride 1 + BN + ReLU, no max-pool (SupContrast CIFAR stem)."""
    x = conv(x, filters, 3, 1, name="stem_conv")
    x = batch_norm(x, name="stem_bn")
    return layers.ReLU(name="stem_relu")(x)


def imagenet_stem(x, filters):
    """7x7 conv stride 2 (pad 3) + BN + ReLU + 3x3 max-pool stride 2 (pad 1)."""
    x = conv(x, filters, 7, 2, name="stem_conv", pad_name="stem_pad")
    x = batch_norm(x, name="stem_bn")
    x = layers.ReLU(name="stem_relu")(x)
    # Zero padding equals PyTorch's -inf padding here because inputs are >= 0.
    x = layers.ZeroPadding2D(1, name="stem_pool_pad")(x)
    return layers.MaxPooling2D(3, strides=2, padding="valid", name="stem_pool")(x)


def _shortcut(x, filters, stride, prefix):
    if stride != 1 or x.shape[-1] != filters:
        x = conv(x, filters, 1, stride, name=f"{prefix}_shortcut_conv")
        x = batch_norm(x, name=f"{prefix}_shortcut_bn")
    return x


def basic_block(x, filters, stride=1, *, prefix, zero_init_residual=False):
    """Two 3x3 convs (stride on the first); output has ``filters`` channels."""
    shortcut = _shortcut(x, filters, stride, prefix)
    y = conv(x, filters, 3, stride, name=f"{prefix}_conv1", pad_name=f"{prefix}_pad1")
    y = batch_norm(y, name=f"{prefix}_bn1")
    y = layers.ReLU(name=f"{prefix}_relu1")(y)
    y = conv(y, filters, 3, 1, name=f"{prefix}_conv2")
    y = batch_norm(y, name=f"{prefix}_bn2", zero_gamma=zero_init_residual)
    y = layers.Add(name=f"{prefix}_add")([shortcut, y])
    return layers.ReLU(name=f"{prefix}_out")(y)


def bottleneck_block(
    x, filters, stride=1, *, prefix, expansion=4, zero_init_residual=False
):
    """1x1 -> 3x3 (strided, ResNet v1.5) -> 1x1; output ``filters*expansion``."""
    out_filters = filters * expansion
    shortcut = _shortcut(x, out_filters, stride, prefix)
    y = conv(x, filters, 1, 1, name=f"{prefix}_conv1")
    y = batch_norm(y, name=f"{prefix}_bn1")
    y = layers.ReLU(name=f"{prefix}_relu1")(y)
    y = conv(y, filters, 3, stride, name=f"{prefix}_conv2", pad_name=f"{prefix}_pad2")
    y = batch_norm(y, name=f"{prefix}_bn2")
    y = layers.ReLU(name=f"{prefix}_relu2")(y)
    y = conv(y, out_filters, 1, 1, name=f"{prefix}_conv3")
    y = batch_norm(y, name=f"{prefix}_bn3", zero_gamma=zero_init_residual)
    y = layers.Add(name=f"{prefix}_add")([shortcut, y])
    return layers.ReLU(name=f"{prefix}_out")(y)
