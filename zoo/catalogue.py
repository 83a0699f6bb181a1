"""The built-in architectures as plain data: names, families and feature dimensions
without importing Keras or TensorFlow.

The architecture registry (:mod:`kerascon.encoders.registry`) is filled by importing the
encoder modules, which import Keras; listing the zoo should not need that. This table
describes the same built-in architectures (``tests/test_zoo_list.py`` checks it against
the registry, field by field), read from the plain tables the encoder modules register
them from: the Keras and keras-hub backbones from :mod:`kerascon.backbone_tables.keras_applications`
and :mod:`kerascon.backbone_tables.hub_presets`, the ResNets and CIFAR ResNets from
:mod:`kerascon.backbone_tables.resnet`. Both are :class:`kerascon.registry.Registry` objects. Once
:mod:`kerascon.encoders` is imported, the functions here read the real registry instead,
so architectures registered at run time show too. Building an encoder always goes through
the real registry (:func:`kerascon.encoders.build_encoder`).

Example:
    >>> from kerascon.zoo.catalogue import describe_architecture, list_architectures
    >>> list_architectures("resnet1*")
    ['resnet18', 'resnet101', 'resnet110', 'resnet152']
    >>> describe_architecture("resnet50").feature_dim
    2048
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Optional

from kerascon.errors import UnknownArchitectureError
from kerascon.registry import Registry

__all__ = ["ArchitectureInfo", "BUILTIN_ARCHITECTURES", "architecture_names",
           "check_architecture_name", "describe_architecture", "list_architectures"]


@dataclasses.dataclass(frozen=True)
class ArchitectureInfo:
    """What :class:`kerascon.encoders.ArchitectureSpec` says about an architecture, less
    its builder.

    Example:
        >>> ArchitectureInfo("resnet18", "resnet", 512, "cifar").feature_dim
        512
    """

    name: str
    family: str = "custom"
    feature_dim: Optional[int] = None
    default_stem: Optional[str] = None
    description: str = ""
    input_size: Optional[tuple] = None
    raw_pixels: bool = False
    license: str = ""


def _resnets():
    from kerascon.backbone_tables.resnet import RESNET_ARCHITECTURES

    return [ArchitectureInfo(**registration) for registration in RESNET_ARCHITECTURES.values()]


def _keras_backbones():
    from kerascon.backbone_tables.keras_applications import CODE_LICENSE, KERAS_BACKBONES

    return [ArchitectureInfo(b.arch, b.family, b.feature_dim, None, b.description, b.input_size,
                             True, CODE_LICENSE) for b in KERAS_BACKBONES.values()]


def _hub_backbones():
    from kerascon.backbone_tables.hub_presets import HUB_CODE_LICENSE, HUB_PRESETS

    return [ArchitectureInfo(p.arch, p.family, p.feature_dim, None, p.description, p.input_size,
                             True, HUB_CODE_LICENSE) for p in HUB_PRESETS.values()]


#: name -> :class:`ArchitectureInfo` of every architecture kerascon registers itself.
BUILTIN_ARCHITECTURES: Registry = Registry(
    "architecture", ((info.name, info) for info in _keras_backbones() + _hub_backbones() + _resnets()),
    unknown=UnknownArchitectureError.for_name)


def _registry() -> Registry:
    """The real registry once the encoders are imported (it may hold user architectures),
    else the built-in table."""
    if "kerascon.encoders" in sys.modules:
        from kerascon.encoders import registry

        return registry._ARCHITECTURES
    return BUILTIN_ARCHITECTURES


def architecture_names():
    """Every known architecture name (registration order).

    Example:
        >>> "resnet18" in architecture_names()
        True
    """
    return list(_registry())


def list_architectures(pattern="*"):
    """Architecture names matching the fnmatch wildcard ``pattern``, in natural order.

    Example:
        >>> list_architectures("resnet5*")
        ['resnet50', 'resnet56']
    """
    return _registry().list(pattern)


def check_architecture_name(name) -> None:
    """Raise the registry's error for an unknown architecture ``name``, without Keras.

    Raises:
        UnknownArchitectureError: (a ``ValueError``) with a did-you-mean.

    Example:
        >>> check_architecture_name("resnet18")           # known: no error
        >>> check_architecture_name("resnet81")
        Traceback (most recent call last):
        ...
        kerascon.errors.UnknownArchitectureError: unknown architecture 'resnet81'; did you mean 'resnet18'? ...
    """
    _registry().lookup(name)


def describe_architecture(name):
    """The :class:`ArchitectureInfo` of ``name`` (from the registry once it is loaded).

    Raises:
        UnknownArchitectureError: (a ``ValueError``) with a did-you-mean.

    Example:
        >>> describe_architecture("resnet18").default_stem
        'cifar'
    """
    spec = _registry().lookup(name)  # raises with a did-you-mean, without loading Keras
    if isinstance(spec, ArchitectureInfo):
        return spec
    return ArchitectureInfo(**{f.name: getattr(spec, f.name)
                               for f in dataclasses.fields(ArchitectureInfo)})
