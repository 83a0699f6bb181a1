"""Load ``.keras`` files that hold kerascon classes."""

from __future__ import annotations

import importlib

__all__ = ["load_model"]

# The modules whose classes are registered with Keras' serialization.
_REGISTERING_MODULES = ("encoders", "encoders.batch_norm", "layers", "losses", "model", "momentum",
                        "optimizers", "text", "view_layers")


def load_model(path, **kwargs):
    """``keras.saving.load_model`` with every kerascon class registered first.

    Example:
        >>> model = load_model("runs/digits/model.keras")
    """
    import keras

    for module in _REGISTERING_MODULES:
        importlib.import_module(f"kerascon.{module}")
    return keras.saving.load_model(path, **kwargs)
