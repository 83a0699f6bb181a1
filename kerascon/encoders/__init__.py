"""Image encoders for kerascon: the architecture registry, ResNet-18..200, the CIFAR ResNets
(ResNet-20/32/44/56/110), Keras' ImageNet
backbones (``keras_*``), keras-hub presets (``hub_*``, with the ``kerascon[hub]`` extra) and an
encoder checker.

Encoders map a preprocessed float image batch ``[B, H, W, C]`` to a feature
matrix ``[B, D]``. Any Keras model or layer with that contract can be used;
:func:`check_encoder` verifies it symbolically and returns ``D``.

Example:
    >>> from kerascon.encoders import resnet50, check_encoder
    >>> enc = resnet50(width_multiplier=0.125, stem="cifar")
    >>> check_encoder(enc, input_shape=(32, 32, 3))
    256

Every architecture is registered by name where it is defined
(:mod:`kerascon.encoders.registry`):

    >>> from kerascon.encoders import build_encoder, list_architectures
    >>> list_architectures("resnet5*")
    ['resnet50', 'resnet56']
    >>> build_encoder("keras_resnet50v2", input_shape=(64, 64, 3)).output.shape[-1]
    2048

See :mod:`kerascon.encoders.resnet` for the stems and the layer naming and
:mod:`kerascon.encoders.keras_applications` for the Keras backbones and
:mod:`kerascon.encoders.keras_hub_backbones` for the keras-hub ones.
"""

from kerascon.encoders import (
    cifar_resnet,  # noqa: F401  (registers resnet20 ... resnet110)
    keras_applications,  # noqa: F401  (registers keras_*)
    keras_hub_backbones,  # noqa: F401  (registers hub_*; no keras-hub)
)
from kerascon.encoders.check import check_encoder
from kerascon.encoders.cifar_resnet import CIFAR_RESNET_DEPTHS, build_cifar_resnet
from kerascon.encoders.keras_applications import raw_pixel_preprocessing
from kerascon.encoders.registry import (
    ArchitectureSpec,
    UnknownArchitectureError,
    build_encoder,
    get_architecture,
    list_architectures,
    register_architecture,
)
from kerascon.encoders.resnet import (
    RESNET_CONFIGS,
    build_resnet,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
    resnet200,
    resnet_feature_dim,
)

__all__ = [
    "ArchitectureSpec",
    "CIFAR_RESNET_DEPTHS",
    "RESNET_CONFIGS",
    "UnknownArchitectureError",
    "build_cifar_resnet",
    "build_encoder",
    "build_resnet",
    "check_encoder",
    "get_architecture",
    "list_architectures",
    "raw_pixel_preprocessing",
    "register_architecture",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnet200",
    "resnet_feature_dim",
]
