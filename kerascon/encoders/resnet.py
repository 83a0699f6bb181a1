"""ResNet-18/34/50/101/152/200 encoders as Keras functional models.

Each constructor is registered in :mod:`kerascon.encoders.registry` under its
name (``"resnet18"`` ...), default stem ``"cifar"``.

The encoders map a preprocessed float image batch ``[B, H, W, C]`` (NHWC;
normalisation is done by a separate layer before the encoder) to a pooled
feature vector ``[B, D]`` (global average pooling, no classifier head).
``D`` is ``512 * w`` for basic-block nets (18, 34) and ``2048 * w`` for
bottleneck nets (50+), where ``w`` is ``width_multiplier``.

Architecture follows torchvision's ResNet (v1.5: the bottleneck puts the
stride on its 3x3 conv) with two stems:

* ``"cifar"``: 3x3 conv stride 1 + BN + ReLU, no max-pool (as in the
  SupContrast authors' ``networks/resnet_big.py``); 32x32 input -> 4x4 map.
* ``"imagenet"``: 7x7 conv stride 2 (pad 3) + BN + ReLU + 3x3 max-pool
  stride 2 (pad 1); 224x224 input -> 7x7 map.

Strided convolutions use explicit ``ZeroPadding2D`` + ``"valid"`` so outputs
align with PyTorch's. BatchNorm uses momentum 0.9 / epsilon 1e-5 (PyTorch
defaults); convs have no bias and a he-normal ``fan_out`` initializer.

Layer names (stable; used to map PyTorch checkpoints):

=====================================  =====================================
Keras layer                            torchvision equivalent
=====================================  =====================================
``stem_conv`` / ``stem_bn``            ``conv1`` / ``bn1``
``stage{s}_block{k}_conv{i}``          ``layer{s}.{k}.conv{i}``
``stage{s}_block{k}_bn{i}``            ``layer{s}.{k}.bn{i}``
``stage{s}_block{k}_shortcut_conv``    ``layer{s}.{k}.downsample.0``
``stage{s}_block{k}_shortcut_bn``      ``layer{s}.{k}.downsample.1``
``avg_pool``                           ``avgpool`` + ``flatten``
=====================================  =====================================

``s`` is 1..4, ``k`` is 0-based and ``i`` is 1..2 (basic) or 1..3
(bottleneck). Weight-free helper layers are named ``stem_pad``,
``stem_relu``, ``stem_pool_pad``, ``stem_pool``,
``stage{s}_block{k}_pad{i}``, ``_relu{i}``, ``_add`` and ``_out`` (the
block's final ReLU). The input layer is ``input``.

Example:
    >>> from kerascon.encoders import resnet18
    >>> enc = resnet18(width_multiplier=0.125, input_shape=(32, 32, 3))
    >>> tuple(enc.output.shape)
    (None, 64)
"""

from __future__ import annotations

import keras
from keras import layers

from kerascon.backbone_tables.resnet import (
    BASE_WIDTHS,
    BOTTLENECK_EXPANSION,
    RESNET_CONFIGS,
    resnet_config,
    resnet_feature_dim,
    resnet_registration,
    scale_channels,
)
from kerascon.choices import STEMS
from kerascon.encoders import blocks
from kerascon.encoders.registry import register_architecture
from kerascon.errors import ConfigError

__all__ = ["RESNET_CONFIGS", "build_resnet", "resnet_feature_dim", "resnet18", "resnet34", "resnet50",
           "resnet101", "resnet152", "resnet200"]


def build_resnet(
    depth,
    *,
    stem="cifar",
    width_multiplier=1.0,
    input_shape=(None, None, 3),
    zero_init_residual=False,
    name=None,
):
    """Build a ResNet encoder mapping ``[B, H, W, C]`` images to ``[B, D]``.

    Args:
        depth: one of 18, 34, 50, 101, 152, 200.
        stem: ``"cifar"`` (3x3 stride-1 conv, no max-pool) or ``"imagenet"``
            (7x7 stride-2 conv + 3x3 stride-2 max-pool).
        width_multiplier: scales every stage's channels (base 64, 128, 256,
            512; may be fractional, e.g. 0.125 -> 8 base channels).
        input_shape: ``(H, W, C)``; spatial dims may be ``None``.
        zero_init_residual: initialise the last BN gamma of every residual
            branch to zero so each block starts as the identity.
        name: model name, default ``"resnet{depth}"``.

    Returns:
        A ``keras.Model`` whose output is the globally average-pooled feature
        vector (in the compute dtype under mixed precision).

    Example:
        >>> enc = build_resnet(50, stem="imagenet", width_multiplier=0.25)
        >>> enc.output.shape[-1]
        512
    """
    block_type, stage_depths = resnet_config(depth)
    if stem not in STEMS:
        raise ConfigError(f"unknown stem {stem!r}; expected one of {STEMS}")
    if not width_multiplier > 0:
        raise ConfigError(f"width_multiplier must be > 0, got {width_multiplier!r}")

    inputs = keras.Input(shape=tuple(input_shape), name="input")
    stem_fn = blocks.cifar_stem if stem == "cifar" else blocks.imagenet_stem
    x = stem_fn(inputs, scale_channels(BASE_WIDTHS[0], width_multiplier))

    for s, (n_blocks, base) in enumerate(zip(stage_depths, BASE_WIDTHS), start=1):
        filters = scale_channels(base, width_multiplier)
        for k in range(n_blocks):
            stride = 2 if (s > 1 and k == 0) else 1
            prefix = f"stage{s}_block{k}"
            if block_type == "basic":
                x = blocks.basic_block(
                    x, filters, stride, prefix=prefix,
                    zero_init_residual=zero_init_residual,
                )
            else:
                x = blocks.bottleneck_block(
                    x, filters, stride, prefix=prefix,
                    expansion=BOTTLENECK_EXPANSION,
                    zero_init_residual=zero_init_residual,
                )

    outputs = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(inputs, outputs, name=name or f"resnet{depth}")


# The ResNet constructors, registered where they are defined with the metadata of
# kerascon.backbone_tables.resnet (which the Keras-free zoo listing reads too).


@register_architecture(**resnet_registration(18))
def resnet18(**kwargs):
    """ResNet-18 encoder (basic blocks [2, 2, 2, 2]); keyword arguments as build_resnet.

    Example:
        >>> resnet18(width_multiplier=0.125, input_shape=(32, 32, 3)).output.shape[-1]
        64
    """
    return build_resnet(18, **kwargs)


@register_architecture(**resnet_registration(34))
def resnet34(**kwargs):
    """ResNet-34 encoder (basic blocks [3, 4, 6, 3]); keyword arguments as build_resnet.

    Example:
        >>> resnet34(width_multiplier=0.125, input_shape=(32, 32, 3)).output.shape[-1]
        64
    """
    return build_resnet(34, **kwargs)


@register_architecture(**resnet_registration(50))
def resnet50(**kwargs):
    """ResNet-50 encoder (bottleneck blocks [3, 4, 6, 3]); keyword arguments as build_resnet.

    Example:
        >>> resnet50(width_multiplier=0.125, input_shape=(32, 32, 3)).output.shape[-1]
        256
    """
    return build_resnet(50, **kwargs)


@register_architecture(**resnet_registration(101))
def resnet101(**kwargs):
    """ResNet-101 encoder (bottleneck blocks [3, 4, 23, 3]); keyword arguments as build_resnet.

    Example:
        >>> resnet101(width_multiplier=0.125, input_shape=(32, 32, 3)).output.shape[-1]
        256
    """
    return build_resnet(101, **kwargs)


@register_architecture(**resnet_registration(152))
def resnet152(**kwargs):
    """ResNet-152 encoder (bottleneck blocks [3, 8, 36, 3]); keyword arguments as build_resnet.

    Example:
        >>> resnet152(width_multiplier=0.125, input_shape=(32, 32, 3)).output.shape[-1]
        256
    """
    return build_resnet(152, **kwargs)


@register_architecture(**resnet_registration(200))
def resnet200(**kwargs):
    """ResNet-200 encoder (bottleneck blocks [3, 24, 36, 3]); keyword arguments as build_resnet.

    Example:
        >>> resnet200(width_multiplier=0.125, input_shape=(32, 32, 3)).output.shape[-1]
        256
    """
    return build_resnet(200, **kwargs)
