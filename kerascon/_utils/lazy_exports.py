"""Package namespaces whose names load on first use (PEP 562).

A package lists ``name -> module`` and gets a module-level ``__getattr__`` and ``__dir__``:
importing the package stays cheap (no TensorFlow for the parts that do not need it), and the
first access to a name imports its module and caches the value in the package.
"""

from __future__ import annotations

import importlib
import sys

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: dict):
    """``(__getattr__, __dir__)`` for ``package`` serving ``exports`` lazily.

    Example:
        >>> getattr_, dir_ = lazy_exports("kerascon.data", {"load_source": "kerascon.data.dispatch"})
        >>> "load_source" in dir_()
        True
    """

    def __getattr__(name):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
