"""kerascon: Supervised Contrastive Learning for Keras 3 and TensorFlow.

The main names are available at the top level (imported on first use, so that
``import kerascon`` and the command line start quickly)::

Keras finds kerascon's classes in a ``.keras`` file once their modules are imported: load
with :func:`kerascon.load_model` (or import ``kerascon.model`` before
``keras.saving.load_model``).

    import kerascon
    model = kerascon.SupConModel.from_architecture("resnet18", num_classes=10)
    loss = kerascon.supcon_loss(features, labels)

Submodules: ``losses``, ``layers``, ``model``, ``encoders``, ``data``, ``augment``,
``optimizers``, ``export``, ``text`` (keras-hub text encoders, extra ``kerascon[text]``),
``training``, ``zoo``.
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "SupConModel": "kerascon.model",
    "STAGES": "kerascon.model",
    "supcon_loss": "kerascon.losses",
    "simclr_loss": "kerascon.losses",
    "SupConLoss": "kerascon.losses",
    "SimCLRLoss": "kerascon.losses",
    "ProjectionHead": "kerascon.layers",
    "ImagePreprocessing": "kerascon.layers",
    "L2Normalize": "kerascon.layers",
    "LARS": "kerascon.optimizers",
    "WarmupCosineDecay": "kerascon.optimizers",
    "TrainConfig": "kerascon.config",
}
_SUBMODULES = ("augment", "config", "data", "encoders", "export", "layers", "losses", "model",
               "optimizers", "text", "training", "zoo")

__all__ = sorted(_EXPORTS) + list(_SUBMODULES) + ["load_model"]


def load_model(path, **kwargs):
    """``keras.saving.load_model`` with every kerascon class registered first.

    Example:
        >>> model = kerascon.load_model("runs/digits/model.keras")
    """
    import keras

    for module in ("layers", "losses", "model", "optimizers", "text"):
        importlib.import_module(f"kerascon.{module}")
    return keras.saving.load_model(path, **kwargs)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"kerascon.{name}")
    raise AttributeError(f"module 'kerascon' has no attribute {name!r}")


def __dir__():
    return __all__
