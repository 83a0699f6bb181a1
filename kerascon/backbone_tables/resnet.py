"""The ResNets and CIFAR ResNets that kerascon registers, as plain data.

Depths, block counts, channel widths, feature dimensions and each architecture's registry
metadata, without importing Keras or TensorFlow. The encoders
(:mod:`kerascon.encoders.resnet`, :mod:`kerascon.encoders.cifar_resnet`) build and register
their architectures from this table, the Keras-free listing of the zoo
(:mod:`kerascon.zoo.catalogue`) describes them from it, and the PyTorch checkpoint import
(:mod:`kerascon.zoo.torch_import`) recognises their layouts by it.

Example:
    >>> RESNET_CONFIGS[50]
    ('bottleneck', (3, 4, 6, 3))
    >>> resnet_feature_dim(50, 0.125), cifar_resnet_feature_dim()
    (256, 64)
    >>> RESNET_ARCHITECTURES["resnet110"]["family"]
    'cifar_resnet'
"""

from __future__ import annotations

from kerascon.errors import ConfigError

__all__ = [
    "BASE_WIDTHS",
    "BOTTLENECK_EXPANSION",
    "CIFAR_BASE_WIDTHS",
    "CIFAR_RESNET_DEPTHS",
    "RESNET_ARCHITECTURES",
    "RESNET_CONFIGS",
    "RESNET_LICENSE",
    "cifar_resnet_feature_dim",
    "cifar_resnet_registration",
    "resnet_config",
    "resnet_feature_dim",
    "resnet_registration",
    "scale_channels",
]

#: The licence of kerascon's ResNet code.
RESNET_LICENSE = "Apache-2.0"

#: ResNet-18..200 (torchvision's): depth -> (block type, blocks per stage).
RESNET_CONFIGS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
    200: ("bottleneck", (3, 24, 36, 3)),
}
#: Channels of the four ResNet stages at width multiplier 1.
BASE_WIDTHS = (64, 128, 256, 512)
#: A bottleneck block's output channels per inner channel.
BOTTLENECK_EXPANSION = 4

#: CIFAR ResNets (He et al. 2016): depth -> basic blocks per stage (``n``, depth = 6n + 2).
CIFAR_RESNET_DEPTHS = {20: 3, 32: 5, 44: 7, 56: 9, 110: 18}
#: Channels of the stem and the three CIFAR ResNet stages at width multiplier 1.
CIFAR_BASE_WIDTHS = (16, 32, 64)


def scale_channels(channels, width_multiplier):
    """``channels`` times ``width_multiplier``, rounded, at least 1.

    Example:
        >>> scale_channels(64, 0.125), scale_channels(64, 1e-3)
        (8, 1)
    """
    return max(1, int(round(channels * width_multiplier)))


def resnet_config(depth):
    """``(block type, blocks per stage)`` of ResNet-``depth``; a ValueError naming the valid depths.

    Example:
        >>> resnet_config(18)
        ('basic', (2, 2, 2, 2))
    """
    try:
        return RESNET_CONFIGS[int(depth)]
    except (KeyError, TypeError, ValueError):
        valid = ", ".join(str(d) for d in sorted(RESNET_CONFIGS))
        raise ConfigError(
            f"unsupported ResNet depth {depth!r}; valid depths are {valid}"
        ) from None


def resnet_feature_dim(depth, width_multiplier=1.0):
    """Feature dimension of ``build_resnet(depth, width_multiplier=...)``.

    Example:
        >>> resnet_feature_dim(50, 0.125)
        256
    """
    block_type, _ = resnet_config(depth)
    d = scale_channels(BASE_WIDTHS[-1], width_multiplier)
    return d * BOTTLENECK_EXPANSION if block_type == "bottleneck" else d


def cifar_resnet_feature_dim(width_multiplier=1.0):
    """The pooled feature dimension of a CIFAR ResNet of this width.

    Example:
        >>> cifar_resnet_feature_dim(2.0)
        128
    """
    return scale_channels(CIFAR_BASE_WIDTHS[-1], width_multiplier)


def resnet_registration(depth) -> dict:
    """The architecture registry's metadata of ``resnet{depth}`` (ResNet-18..200).

    Example:
        >>> resnet_registration(18)["description"]
        'ResNet-18 encoder (basic blocks [2, 2, 2, 2]); keyword arguments as build_resnet.'
    """
    kind, blocks = resnet_config(depth)
    return dict(name=f"resnet{depth}", family="resnet", feature_dim=resnet_feature_dim(depth),
                default_stem="cifar", input_size=None, license=RESNET_LICENSE,
                description=f"ResNet-{depth} encoder ({kind} blocks {list(blocks)}); keyword "
                            "arguments as build_resnet.")


def cifar_resnet_registration(depth) -> dict:
    """The architecture registry's metadata of the CIFAR ``resnet{depth}`` (20, 32, 44, 56, 110).

    Example:
        >>> cifar_resnet_registration(56)["input_size"]
        (32, 32)
    """
    n = CIFAR_RESNET_DEPTHS[depth]
    return dict(name=f"resnet{depth}", family="cifar_resnet", feature_dim=cifar_resnet_feature_dim(),
                default_stem="cifar", input_size=(32, 32), license=RESNET_LICENSE,
                description=f"CIFAR ResNet-{depth} encoder (He et al. 2016: 3 stages of {n} basic "
                            "blocks, 16/32/64 channels, option A shortcuts); keyword arguments as "
                            "build_cifar_resnet.")


#: name -> registry metadata (the keyword arguments of ``register_architecture``, with the
#: name) of every ResNet and CIFAR ResNet, in registration order.
RESNET_ARCHITECTURES = {
    **{f"resnet{depth}": resnet_registration(depth) for depth in RESNET_CONFIGS},
    **{f"resnet{depth}": cifar_resnet_registration(depth) for depth in CIFAR_RESNET_DEPTHS},
}
