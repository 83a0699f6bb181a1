"""One registry type for kerascon's named tables: stages, architectures, pretrained entries.

A :class:`Registry` maps names to entries, in registration order. It refuses a name
registered twice, looks a name up with a "did you mean" (:func:`kerascon.errors.closest_names`)
and lists the names that match an fnmatch wildcard in natural order (``resnet18`` before
``resnet101``, :mod:`kerascon._utils.natural_order`). It imports neither Keras nor TensorFlow, so
a table can be checked and listed before they load.

Example:
    >>> colours = Registry("colour", [("red", (255, 0, 0)), ("green", (0, 255, 0))])
    >>> colours.lookup("red")
    (255, 0, 0)
    >>> colours.lookup("gren")
    Traceback (most recent call last):
    ...
    kerascon.errors.ConfigError: unknown colour 'gren'; did you mean 'green'? choose one of red, green
    >>> colours.list("*e*")
    ['green', 'red']
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Callable, Iterable, Optional

from kerascon._utils.natural_order import natural_key
from kerascon.errors import ConfigError, KerasconError, closest_names, did_you_mean

__all__ = ["Registry"]

_MISSING = object()


class Registry(Mapping):
    """Names -> entries, with checked registration, did-you-mean lookup and wildcard listing.

    A read-only :class:`~collections.abc.Mapping` for everything else (``registry[name]``
    raises ``KeyError``, ``name in registry``, ``.items()``...); entries are added with
    :meth:`register` only.

    Args:
        kind: what an entry is, for messages: ``"stage"``, ``"architecture"``.
        entries: ``(name, entry)`` pairs to register at once.
        unknown: ``(name, registry) -> KerasconError``, the error :meth:`lookup` raises for
            a name that is not registered (default: a :class:`~kerascon.errors.ConfigError`
            with the closest names and every name).
        duplicate: ``(name, registered entry) -> Exception``, the error :meth:`register`
            raises for a name that is taken (default: a ``ConfigError``).

    Example:
        >>> sizes = Registry("size")
        >>> sizes.register("small", 8)
        8
        >>> sizes.register("small", 16)
        Traceback (most recent call last):
        ...
        kerascon.errors.ConfigError: size 'small' is already registered; choose another name
    """

    def __init__(self, kind: str, entries: Iterable = (), *,
                 unknown: Optional[Callable[[object, "Registry"], KerasconError]] = None,
                 duplicate: Optional[Callable[[str, object], Exception]] = None):
        self.kind = kind
        self._entries: dict = {}
        self._unknown = unknown or self._unknown_error
        self._duplicate = duplicate or self._duplicate_error
        for name, entry in entries:
            self.register(name, entry)

    # ------------------------------------------------------------------ Mapping
    def __getitem__(self, name):
        return self._entries[name]

    def __iter__(self):
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name) -> bool:
        try:
            return name in self._entries
        except TypeError:  # an unhashable name is never registered
            return False

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self)} entries)"

    # ------------------------------------------------------------------ registration
    def register(self, name: str, entry):
        """Add ``entry`` under ``name`` and return it; a name registered twice is an error."""
        if name in self._entries:
            raise self._duplicate(name, self._entries[name])
        self._entries[name] = entry
        return entry

    def pop(self, name, default=_MISSING):
        """Remove ``name`` and return its entry (``default`` when it is not registered)."""
        if default is _MISSING:
            return self._entries.pop(name)
        return self._entries.pop(name, default)

    # ------------------------------------------------------------------ look-up
    def lookup(self, name):
        """The entry registered as ``name``; the registry's error (with a did-you-mean) if none.

        Example:
            >>> Registry("size", [("small", 8)]).lookup("smal")
            Traceback (most recent call last):
            ...
            kerascon.errors.ConfigError: unknown size 'smal'; did you mean 'small'? choose one of small
        """
        if name in self:
            return self._entries[name]
        raise self._unknown(name, self)

    def closest(self, name, n: int = 3) -> list:
        """The registered names ``name`` was probably meant to be (at most ``n``)."""
        return closest_names(name, self._entries, n=n)

    def list(self, pattern: str = "*") -> list:
        """Registered names matching the fnmatch wildcard ``pattern``, in natural order.

        Example:
            >>> Registry("net", [("resnet101", 1), ("resnet18", 2), ("vgg16", 3)]).list("resnet*")
            ['resnet18', 'resnet101']
        """
        return sorted((name for name in self._entries if fnmatch.fnmatchcase(name, pattern)),
                      key=natural_key)

    # ------------------------------------------------------------------ default errors
    def _unknown_error(self, name, known) -> KerasconError:
        names = ", ".join(str(k) for k in known)
        if not names:
            return ConfigError(f"unknown {self.kind} {name!r}; no {self.kind} is registered")
        hint = did_you_mean(closest_names(name, known))
        return ConfigError(f"unknown {self.kind} {name!r}; {hint + ' ' if hint else ''}"
                           f"choose one of {names}")

    def _duplicate_error(self, name, entry) -> KerasconError:
        return ConfigError(f"{self.kind} {name!r} is already registered; choose another name")
