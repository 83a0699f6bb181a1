"""CIFAR ResNets (He et al. 2016, section 4.2): ResNet-20/32/44/56/110 encoders.

The networks of the paper's CIFAR-10 experiments: a 3x3 convolution with 16 channels, then
three stages of ``n`` basic blocks with 16, 32 and 64 channels (depth ``6n + 2``; the
second and third stages halve the feature map with a stride-2 first convolution), then
global average pooling. 32x32 inputs give 32x32, 16x16 and 8x8 maps; the pooled feature
has ``64 * width_multiplier`` dimensions. A 32x32 image costs ResNet-20 41 M convolution
multiply-adds, ResNet-56 126 M and ResNet-110 253 M, against 555 M for the CIFAR ResNet-18
(:mod:`kerascon.encoders.resnet`); they are the backbones of the long-tail SupCon
literature (BCL, PaCo).

Shortcuts are the paper's **option A** (parameter-free): where a block halves the map and
doubles the channels, the identity takes every second pixel (``x[:, ::2, ::2, :]``) and is
zero-padded with the missing channels, half before and half after (as the widely used
PyTorch port ``pytorch_resnet_cifar10`` does), so a ResNet-20 has 0.27 M parameters as in the
paper's Table 6. Every other convention (no conv bias, batch norm momentum 0.9 and epsilon
1e-5, He-normal ``fan_out`` initialisation, layer names ``stem_conv``, ``stem_bn``,
``stage{s}_block{k}_conv{i}``, ``stage{s}_block{k}_bn{i}``) is that of
:mod:`kerascon.encoders.resnet`, so PyTorch checkpoints of that port convert with
``kerascon.zoo.from_torch(..., layout="cifar_resnet")``.

Example:
    >>> from kerascon.encoders import build_encoder
    >>> enc = build_encoder("resnet20", input_shape=(32, 32, 3))
    >>> enc.output.shape[-1], enc.count_params()
    (64, 270448)
"""

from __future__ import annotations

import keras
from keras import layers, ops

from kerascon.backbone_tables.resnet import (
    CIFAR_BASE_WIDTHS,
    CIFAR_RESNET_DEPTHS,
    cifar_resnet_feature_dim,
    cifar_resnet_registration,
    scale_channels,
)
from kerascon.encoders import blocks
from kerascon.encoders.registry import register_architecture
from kerascon.errors import ConfigError, Setting

__all__ = ["CIFAR_RESNET_DEPTHS", "ZeroPadShortcut", "build_cifar_resnet", "cifar_resnet_feature_dim"]


@keras.saving.register_keras_serializable(package="kerascon")
class ZeroPadShortcut(layers.Layer):
    """Option A shortcut: subsample by ``stride`` and zero-pad the channels to ``filters``.

    The ``filters - C`` new channels are split as PyTorch's ``F.pad`` in
    ``pytorch_resnet_cifar10`` splits them: ``(filters - C) // 2`` before the input's
    channels, the rest after. It has no weights.

    Example:
        >>> import numpy as np
        >>> y = ZeroPadShortcut(32, stride=2)(np.ones((1, 8, 8, 16), "float32"))
        >>> tuple(y.shape), float(y[0, 0, 0, 7]), float(y[0, 0, 0, 8])
        ((1, 4, 4, 32), 0.0, 1.0)
    """

    def __init__(self, filters, stride=2, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.stride = int(stride)

    def call(self, inputs):
        x = inputs[:, ::self.stride, ::self.stride, :] if self.stride > 1 else inputs
        missing = self.filters - x.shape[-1]
        if missing < 0:
            raise ValueError(f"ZeroPadShortcut cannot narrow {x.shape[-1]} channels to {self.filters}")
        before = missing // 2
        return ops.pad(x, [[0, 0], [0, 0], [0, 0], [before, missing - before]])

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape

        def shrink(size):
            return None if size is None else -(-size // self.stride)

        return (batch, shrink(height), shrink(width), self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "stride": self.stride}


def _block(x, filters, stride, prefix, zero_init_residual):
    if stride != 1 or x.shape[-1] != filters:
        shortcut = ZeroPadShortcut(filters, stride, name=f"{prefix}_shortcut")(x)
    else:
        shortcut = x
    y = blocks.conv(x, filters, 3, stride, name=f"{prefix}_conv1", pad_name=f"{prefix}_pad1")
    y = blocks.batch_norm(y, name=f"{prefix}_bn1")
    y = layers.ReLU(name=f"{prefix}_relu1")(y)
    y = blocks.conv(y, filters, 3, 1, name=f"{prefix}_conv2")
    y = blocks.batch_norm(y, name=f"{prefix}_bn2", zero_gamma=zero_init_residual)
    y = layers.Add(name=f"{prefix}_add")([shortcut, y])
    return layers.ReLU(name=f"{prefix}_out")(y)


def build_cifar_resnet(depth, *, stem="cifar", width_multiplier=1.0, input_shape=(None, None, 3),
                       zero_init_residual=False, name=None):
    """Build a CIFAR ResNet encoder mapping ``[B, H, W, C]`` images to ``[B, 64 * w]``.

    Args:
        depth: 20, 32, 44, 56 or 110.
        stem: only ``"cifar"`` (the paper's 3x3 stride-1 convolution); accepted so that
            these encoders take the same options as :func:`kerascon.encoders.build_resnet`.
        width_multiplier: scales every stage's channels (16, 32, 64).
        input_shape: ``(H, W, C)``; spatial dims may be ``None``.
        zero_init_residual: start every block as the identity (last BN gamma zero).
        name: model name, default ``"resnet{depth}"``.

    Example:
        >>> build_cifar_resnet(56, width_multiplier=2.0).output.shape[-1]
        128
    """
    if depth not in CIFAR_RESNET_DEPTHS:
        valid = ", ".join(str(d) for d in CIFAR_RESNET_DEPTHS)
        raise ConfigError(f"unsupported CIFAR ResNet depth {depth!r}; valid depths are {valid}")
    if stem != "cifar":
        raise ConfigError(f"the CIFAR ResNet-{depth} has one stem, 'cifar', not {stem!r}; set {{0}} "
                          "or pick resnet18/resnet50 for an ImageNet stem", Setting("stem", "cifar"))
    if not width_multiplier > 0:
        raise ConfigError(f"width_multiplier must be > 0, got {width_multiplier!r}; set {{0}} to a "
                          "positive number such as 1 or 2", Setting("width_multiplier"))
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    x = blocks.cifar_stem(inputs, scale_channels(CIFAR_BASE_WIDTHS[0], width_multiplier))
    for s, base in enumerate(CIFAR_BASE_WIDTHS, start=1):
        filters = scale_channels(base, width_multiplier)
        for k in range(CIFAR_RESNET_DEPTHS[depth]):
            stride = 2 if (s > 1 and k == 0) else 1
            x = _block(x, filters, stride, f"stage{s}_block{k}", zero_init_residual)
    outputs = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(inputs, outputs, name=name or f"resnet{depth}")


def _register(depth):
    def builder(**kwargs):
        return build_cifar_resnet(depth, **kwargs)

    registration = cifar_resnet_registration(depth)
    builder.__name__ = builder.__qualname__ = registration["name"]
    builder.__doc__ = registration["description"]
    register_architecture(**registration)(builder)
    return builder


resnet20, resnet32, resnet44, resnet56, resnet110 = (_register(d) for d in CIFAR_RESNET_DEPTHS)
