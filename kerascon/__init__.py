"""kerascon: Supervised Contrastive Learning for Keras 3 and TensorFlow.

The main names are available at the top level (imported on first use, so that
``import kerascon`` and the command line start quickly). After ``import kerascon``, Keras'
own ``keras.models.load_model`` loads runs and frozen encoders: kerascon registers its
classes with Keras as soon as Keras is imported (:mod:`kerascon.model.saving`);
:func:`kerascon.load_model` does the same.

Example:
    >>> import numpy as np
    >>> import kerascon
    >>> model = kerascon.SupConModel.from_architecture("resnet18", num_classes=10)
    >>> loss = kerascon.supcon_loss(np.zeros((4, 2, 8), "float32"))

Submodules: ``losses``, ``layers``, ``model`` (stages, saving), ``encoders``, ``data``,
``augment``, ``optimizers``, ``evaluation``, ``distribute``, ``export``, ``text`` (keras-hub
text encoders, extra ``kerascon[text]``). Built on them: ``kerascon.zoo`` (pretrained
weights), ``kerascon.runs`` (run directories, training and evaluating a run),
``kerascon.reporting`` and ``kerascon.cli``.
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "SupConModel": "kerascon.model.supcon_model",
    "STAGES": "kerascon.model.stages",
    "supcon_loss": "kerascon.losses.supcon",
    "simclr_loss": "kerascon.losses.supcon",
    "SupConLoss": "kerascon.losses.supcon",
    "SimCLRLoss": "kerascon.losses.supcon",
    "ProjectionHead": "kerascon.layers.core",
    "ImagePreprocessing": "kerascon.layers.core",
    "L2Normalize": "kerascon.layers.core",
    "LARS": "kerascon.optimizers",
    "WarmupCosineDecay": "kerascon.optimizers",
    "load_model": "kerascon.model.saving",
}
# The core library (tier 1, docs/ARCHITECTURE.md). kerascon.zoo, kerascon.runs,
# kerascon.reporting and kerascon.cli build on it and are imported by their full names.
_SUBMODULES = ("augment", "choices", "data", "distribute", "encoders", "errors", "evaluation",
               "export", "layers", "losses", "model", "optimizers", "text")

__all__ = sorted(_EXPORTS) + list(_SUBMODULES)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"kerascon.{name}")
    raise AttributeError(f"module 'kerascon' has no attribute {name!r}")


def __dir__():
    return __all__


def _register_with_keras():
    # Keras finds kerascon's classes in a .keras file once they are registered: now if
    # Keras is loaded, else as soon as it is (this imports neither Keras nor TensorFlow).
    from kerascon.model.saving import register_when_keras_loads

    register_when_keras_loads()


_register_with_keras()
