"""Load ``.keras`` files that hold kerascon classes, with Keras' own loader too.

Keras finds a custom class in a ``.keras`` file only when it is registered
(``keras.saving.register_keras_serializable``), that is once the module defining it has
been imported; it never imports a module named in a file (that would run code from the
file's say-so). kerascon registers its classes as soon as Keras is imported after
``import kerascon`` (or at once, when Keras is imported already), so
``keras.models.load_model("run/model.keras")`` works after ``import kerascon``, with
``safe_mode`` as Keras has it. ``import kerascon`` itself stays light: without Keras it
imports neither Keras nor TensorFlow (:func:`register_when_keras_loads`).

Example:
    >>> import kerascon
    >>> import keras
    >>> model = keras.models.load_model("runs/digits/model.keras")
    >>> model = load_model("runs/digits/model.keras")          # the same
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
import threading
import warnings

__all__ = ["load_model", "register_classes", "register_when_keras_loads"]

# The modules whose classes are registered with Keras' serialization.
_REGISTERING_MODULES = ("encoders", "encoders.batch_norm", "layers.core", "losses.supcon",
                        "model.supcon_model", "model.key_network", "optimizers", "text",
                        "layers.views")

_lock = threading.RLock()
_registered = False


def register_classes() -> None:
    """Import every kerascon module that registers Keras classes (loads Keras)."""
    global _registered
    with _lock:
        for module in _REGISTERING_MODULES:
            importlib.import_module(f"kerascon.{module}")
        _registered = True
    _remove_hook()


def load_model(path, **kwargs):
    """``keras.saving.load_model`` with every kerascon class registered first.

    Example:
        >>> model = load_model("runs/digits/model.keras")
    """
    import keras

    register_classes()
    return keras.saving.load_model(path, **kwargs)


def _initializing(module) -> bool:
    """Whether ``module`` is still being imported (CPython's flag for "partially initialized")."""
    return bool(getattr(getattr(module, "__spec__", None), "_initializing", False))


def _register_if_ready(just_loaded: str) -> None:
    """Register once Keras is loaded and no kerascon module is half imported.

    A kerascon module that imports Keras is half imported when Keras finishes loading;
    registering then would import modules that import it back. So registration waits
    until that module (and every kerascon module above it) has finished loading.
    """
    if _registered or "keras" not in sys.modules:
        return
    for name, module in list(sys.modules.items()):
        if name in ("keras", "kerascon", just_loaded):
            continue
        if (name.startswith("kerascon.") or name.startswith("keras.")) and _initializing(module):
            return
    if _initializing(sys.modules["keras"]) and just_loaded != "keras":
        return
    try:
        register_classes()
    except Exception as error:  # noqa: BLE001 - Keras' own import must not fail because of it
        warnings.warn(f"kerascon could not register its Keras classes ({error}); load runs with "
                      "kerascon.load_model", RuntimeWarning, stacklevel=2)


class _LoaderThenRegister(importlib.abc.Loader):
    """Wraps a module's loader: after the module has loaded, :func:`_register_if_ready`."""

    def __init__(self, loader, name: str):
        self._loader = loader
        self._name = name

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _register_if_ready(self._name)

    def __getattr__(self, name):  # get_source, get_resource_reader, is_package...
        return getattr(self._loader, name)


class _RegisterAfterImport(importlib.abc.MetaPathFinder):
    """Finds ``keras`` and kerascon's modules as the other finders do, with a wrapped loader."""

    def find_spec(self, fullname, path=None, target=None):
        if _registered or not (fullname == "keras" or fullname.startswith("kerascon.")):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _LoaderThenRegister(spec.loader, fullname)
                return spec
        return None


_HOOK = _RegisterAfterImport()


def _remove_hook() -> None:
    if _HOOK in sys.meta_path:
        sys.meta_path.remove(_HOOK)


def register_when_keras_loads() -> None:
    """Register kerascon's classes now if Keras is loaded, else as soon as it is.

    Called by ``import kerascon``; it imports nothing heavy itself.
    """
    with _lock:
        if _registered:
            return
        if _HOOK not in sys.meta_path:
            sys.meta_path.insert(0, _HOOK)
    _register_if_ready("kerascon")
