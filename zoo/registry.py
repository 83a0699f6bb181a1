"""Registry of encoder architectures (``kerascon.zoo``).

Builders are plain functions ``(**kwargs) -> keras.Model`` registered under a
unique name with :func:`register_architecture`; each entry is stored as a
frozen :class:`ArchitectureSpec` holding the builder and its metadata.

Example:
    >>> import kerascon.zoo as zoo
    >>> zoo.list_architectures("resnet1*")
    ['resnet101', 'resnet152', 'resnet18']
    >>> zoo.get_architecture("resnet50").feature_dim
    2048
    >>> enc = zoo.build_encoder("resnet18", width_multiplier=0.125)

Registering your own::

    @zoo.register_architecture("tiny_cnn", family="custom", feature_dim=8)
    def tiny_cnn(**kwargs):
        \"\"\"A two-layer CNN.\"\"\"
        return keras.Sequential([keras.layers.Conv2D(8, 3),
                                 keras.layers.GlobalAveragePooling2D()])
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
from typing import Callable, Optional

__all__ = [
    "ArchitectureSpec",
    "UnknownArchitectureError",
    "build_encoder",
    "get_architecture",
    "list_architectures",
    "register_architecture",
]


class UnknownArchitectureError(ValueError):
    """Raised by :func:`get_architecture` / :func:`build_encoder` for unknown names."""


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

    def build(self, /, **kwargs):
        """Call the builder with ``kwargs`` and return the model."""
        return self.builder(**kwargs)


_ARCHITECTURES: dict[str, ArchitectureSpec] = {}


def register_architecture(
    name=None,
    *,
    family="custom",
    feature_dim=None,
    default_stem=None,
    description=None,
):
    """Decorator registering a builder function under ``name``.

    ``name`` defaults to the function's ``__name__`` and ``description`` to
    the first line of its docstring. The decorator may also be used bare
    (``@register_architecture``). The function is returned unchanged.

    Raises:
        ValueError: if ``name`` is already registered.

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
        if arch_name in _ARCHITECTURES:
            raise ValueError(
                f"architecture {arch_name!r} is already registered "
                f"(by {_ARCHITECTURES[arch_name].builder.__module__}); "
                f"choose another name"
            )
        desc = description
        if desc is None:
            doc = (fn.__doc__ or "").strip()
            desc = doc.splitlines()[0] if doc else ""
        _ARCHITECTURES[arch_name] = ArchitectureSpec(
            name=arch_name,
            builder=fn,
            family=family,
            feature_dim=feature_dim,
            default_stem=default_stem,
            description=desc,
        )
        return fn

    return decorator


def list_architectures(pattern="*"):
    """Sorted registered names matching the fnmatch wildcard ``pattern``.

    Example:
        >>> list_architectures("resnet*")
        ['resnet101', 'resnet152', 'resnet18', 'resnet200', 'resnet34', 'resnet50']
    """
    return sorted(n for n in _ARCHITECTURES if fnmatch.fnmatchcase(n, pattern))


def get_architecture(name):
    """Return the :class:`ArchitectureSpec` registered as ``name``.

    Raises:
        UnknownArchitectureError: (a ``ValueError``) naming close matches.

    Example:
        >>> get_architecture("resnet34").feature_dim
        512
    """
    try:
        return _ARCHITECTURES[name]
    except (KeyError, TypeError):
        pass
    close = difflib.get_close_matches(str(name), list(_ARCHITECTURES), n=1, cutoff=0.6)
    if close:
        msg = f"did you mean {close[0]!r}? See kerascon.zoo.list_architectures()"
    else:
        msg = "see kerascon.zoo.list_architectures() for the available names"
    raise UnknownArchitectureError(f"unknown architecture {name!r}; {msg}")


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
