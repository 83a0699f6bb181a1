"""Registry of encoder architectures: one name -> one builder and its metadata.

Builders are plain functions ``(**kwargs) -> keras.Model`` registered under a
unique name with :func:`register_architecture`, in the module that defines them
(as timm does); each entry is stored as a frozen :class:`ArchitectureSpec` in a
:class:`kerascon.registry.Registry` (did-you-mean look-up, natural-order wildcard listing).
:mod:`kerascon.encoders` imports the modules that register the built-ins
(ResNets in :mod:`.resnet`, Keras' ImageNet backbones in
:mod:`.keras_applications`). ``kerascon.zoo`` re-exports these names.

Example:
    >>> from kerascon import encoders
    >>> encoders.list_architectures("resnet1*")
    ['resnet18', 'resnet101', 'resnet110', 'resnet152']
    >>> encoders.get_architecture("resnet50").feature_dim
    2048
    >>> enc = encoders.build_encoder("resnet18", width_multiplier=0.125)

Registering your own::

    @encoders.register_architecture("tiny_cnn", family="custom", feature_dim=8)
    def tiny_cnn(**kwargs):
        \"\"\"A two-layer CNN.\"\"\"
        return keras.Sequential([keras.layers.Conv2D(8, 3),
                                 keras.layers.GlobalAveragePooling2D()])
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional

from kerascon._utils.natural_order import natural_key  # noqa: F401  (re-exported for callers)
from kerascon.errors import ConfigError, UnknownArchitectureError
from kerascon.registry import Registry

__all__ = [
    "ArchitectureSpec",
    "UnknownArchitectureError",
    "build_encoder",
    "get_architecture",
    "list_architectures",
    "register_architecture",
]


@dataclasses.dataclass(frozen=True)
class ArchitectureSpec:
    """A registered architecture: its builder and metadata.

    Attributes:
        name: registry name, e.g. ``"resnet50"``.
        builder: ``(**kwargs) -> keras.Model`` mapping images to ``[B, D]``.
        family: architecture family, e.g. ``"resnet"``.
        feature_dim: output feature dimension at width multiplier 1
            (``None`` if unknown).
        default_stem: stem used when none is given (``None`` if not applicable).
        description: one-line summary.
        input_size: ``(H, W)`` the architecture is designed for (``None``: any).
        raw_pixels: ``True`` when the encoder takes raw ``[0, 255]`` pixels and
            normalises them itself (Keras applications), so the model around it
            must not normalise again; ``False`` (default) when it takes images
            already normalised by :class:`kerascon.layers.ImagePreprocessing`.
        license: licence of the architecture's code, e.g. ``"Apache-2.0"``.

    Example:
        >>> spec = get_architecture("resnet18")
        >>> (spec.family, spec.feature_dim, spec.default_stem)
        ('resnet', 512, 'cifar')
    """

    name: str
    builder: Callable
    family: str = "custom"
    feature_dim: Optional[int] = None
    default_stem: Optional[str] = None
    description: str = ""
    input_size: Optional[tuple] = None
    raw_pixels: bool = False
    license: str = ""

    def build(self, /, **kwargs):
        """Call the builder with ``kwargs`` and return the model."""
        return self.builder(**kwargs)


def _already_registered(name, spec) -> ConfigError:
    return ConfigError(f"architecture {name!r} is already registered (by {spec.builder.__module__}); "
                       "choose another name")


#: name -> :class:`ArchitectureSpec` of every registered architecture.
_ARCHITECTURES: Registry = Registry("architecture", unknown=UnknownArchitectureError.for_name,
                                    duplicate=_already_registered)


def register_architecture(
    name=None,
    *,
    family="custom",
    feature_dim=None,
    default_stem=None,
    description=None,
    input_size=None,
    raw_pixels=False,
    license="",
):
    """Decorator registering a builder function under ``name``.

    ``name`` defaults to the function's ``__name__`` and ``description`` to
    the first line of its docstring. The decorator may also be used bare
    (``@register_architecture``). The function is returned unchanged.

    Raises:
        ConfigError: (a ``ValueError``) if ``name`` is already registered.

    Example:
        >>> @register_architecture("my_net", family="custom", feature_dim=8)
        ... def my_net(**kwargs):
        ...     \"\"\"My tiny encoder.\"\"\"
        ...     ...
    """
    if callable(name):  # used bare: @register_architecture
        return register_architecture()(name)

    def decorator(fn):
        arch_name = name or fn.__name__
        desc = description
        if desc is None:
            doc = (fn.__doc__ or "").strip()
            desc = doc.splitlines()[0] if doc else ""
        _ARCHITECTURES.register(arch_name, ArchitectureSpec(
            name=arch_name,
            builder=fn,
            family=family,
            feature_dim=feature_dim,
            default_stem=default_stem,
            description=desc,
            input_size=None if input_size is None else tuple(int(v) for v in input_size),
            raw_pixels=bool(raw_pixels),
            license=license,
        ))
        return fn

    return decorator


def list_architectures(pattern="*"):
    """Registered names matching the fnmatch wildcard ``pattern``, in natural order.

    Example:
        >>> list_architectures("resnet5*")
        ['resnet50', 'resnet56']
    """
    return _ARCHITECTURES.list(pattern)


def get_architecture(name):
    """Return the :class:`ArchitectureSpec` registered as ``name``.

    Raises:
        UnknownArchitectureError: (a ``ValueError``) naming close matches.

    Example:
        >>> get_architecture("resnet34").feature_dim
        512
    """
    return _ARCHITECTURES.lookup(name)


def build_encoder(name, /, **kwargs):
    """Build the registered architecture ``name`` with ``kwargs``.

    ``name`` is positional-only, so ``kwargs`` may contain a ``name`` for the
    model itself: ``build_encoder("resnet18", name="backbone")``.

    Example:
        >>> enc = build_encoder("resnet50", stem="imagenet", width_multiplier=0.5)
        >>> enc.output.shape[-1]
        1024
    """
    return get_architecture(name).build(**kwargs)
