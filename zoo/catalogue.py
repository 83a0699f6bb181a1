"""The built-in architectures as plain data: names, families and feature dimensions
without importing Keras or TensorFlow.

The architecture registry (:mod:`kerascon.encoders.registry`) is filled by importing the
encoder modules, which import Keras; listing the zoo should not need that. This table
describes the same built-in architectures (``tests/test_zoo_list.py`` checks it against
the registry, field by field): the Keras and keras-hub backbones from the plain tables the
encoder modules register them from (:mod:`kerascon.keras_application_table`,
:mod:`kerascon.hub_presets`), the ResNets and CIFAR ResNets from their depths and block counts. Once
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
import fnmatch
import sys
from typing import Optional

from kerascon.errors import UnknownArchitectureError
from kerascon.natural_order import natural_key

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
    rows = ((18, "basic", (2, 2, 2, 2)), (34, "basic", (3, 4, 6, 3)),
            (50, "bottleneck", (3, 4, 6, 3)), (101, "bottleneck", (3, 4, 23, 3)),
            (152, "bottleneck", (3, 8, 36, 3)), (200, "bottleneck", (3, 24, 36, 3)))
    return [ArchitectureInfo(
        f"resnet{depth}", "resnet", 512 if kind == "basic" else 2048, "cifar",
        f"ResNet-{depth} encoder ({kind} blocks {list(blocks)}); keyword arguments as "
        "build_resnet.", None, False, "Apache-2.0") for depth, kind, blocks in rows]


def _cifar_resnets():
    rows = ((20, 3), (32, 5), (44, 7), (56, 9), (110, 18))
    return [ArchitectureInfo(
        f"resnet{depth}", "cifar_resnet", 64, "cifar",
        f"CIFAR ResNet-{depth} encoder (He et al. 2016: 3 stages of {n} basic blocks, 16/32/64 "
        "channels, option A shortcuts); keyword arguments as build_cifar_resnet.", (32, 32), False,
        "Apache-2.0") for depth, n in rows]


def _keras_backbones():
    from kerascon.keras_application_table import CODE_LICENSE, KERAS_BACKBONES

    return [ArchitectureInfo(b.arch, b.family, b.feature_dim, None, b.description, b.input_size,
                             True, CODE_LICENSE) for b in KERAS_BACKBONES.values()]


def _hub_backbones():
    from kerascon.hub_presets import HUB_CODE_LICENSE, HUB_PRESETS

    return [ArchitectureInfo(p.arch, p.family, p.feature_dim, None, p.description, p.input_size,
                             True, HUB_CODE_LICENSE) for p in HUB_PRESETS.values()]


#: name -> :class:`ArchitectureInfo` of every architecture kerascon registers itself.
BUILTIN_ARCHITECTURES = {info.name: info
                         for info in _keras_backbones() + _hub_backbones() + _resnets() + _cifar_resnets()}


def _registry():
    """The real registry once the encoders are imported (it may hold user architectures)."""
    if "kerascon.encoders" in sys.modules:
        from kerascon.encoders import registry

        return registry._ARCHITECTURES
    return None


def architecture_names():
    """Every known architecture name (registration order).

    Example:
        >>> "resnet18" in architecture_names()
        True
    """
    registry = _registry()
    return list(registry if registry is not None else BUILTIN_ARCHITECTURES)


def list_architectures(pattern="*"):
    """Architecture names matching the fnmatch wildcard ``pattern``, in natural order.

    Example:
        >>> list_architectures("resnet5*")
        ['resnet50', 'resnet56']
    """
    return sorted((n for n in architecture_names() if fnmatch.fnmatchcase(n, pattern)),
                  key=natural_key)


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
    names = architecture_names()
    if name not in names:
        raise UnknownArchitectureError.for_name(name, names)


def describe_architecture(name):
    """The :class:`ArchitectureInfo` of ``name`` (from the registry once it is loaded).

    Raises:
        UnknownArchitectureError: (a ``ValueError``) with a did-you-mean.

    Example:
        >>> describe_architecture("resnet18").default_stem
        'cifar'
    """
    if _registry() is None:
        check_architecture_name(name)  # an unknown name fails without loading Keras
        return BUILTIN_ARCHITECTURES[name]
    from kerascon.encoders.registry import get_architecture

    spec = get_architecture(name)  # raises with a did-you-mean
    return ArchitectureInfo(**{f.name: getattr(spec, f.name)
                               for f in dataclasses.fields(ArchitectureInfo)})
