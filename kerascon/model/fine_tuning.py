"""Fine-tuning a pretrained encoder: a smaller learning rate, frozen batch-norm statistics,
and a warm-up with the encoder frozen.

:class:`~kerascon.model.SupConModel` applies these from its ``backbone_lr_multiplier``,
``freeze_backbone_steps`` and ``freeze_batch_norm`` arguments; the functions here are the
mechanics, usable on any model.
"""

from __future__ import annotations

import keras

from kerascon.errors import ConfigError

__all__ = ["freeze_batch_norm_layers", "schedule_backbone_learning_rate"]


def freeze_batch_norm_layers(model) -> int:
    """Set every batch-norm layer of ``model`` to non-trainable; returns how many.

    In Keras 3 a non-trainable ``BatchNormalization`` runs in inference mode: it uses and
    keeps its moving mean and variance (the ImageNet statistics of a pretrained backbone)
    and its ``gamma``/``beta`` stay fixed. Setting ``model.trainable = True`` afterwards
    makes them trainable again, so call this after every change of ``trainable``.

    Example:
        >>> import keras
        >>> net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4),
        ...                         keras.layers.BatchNormalization()])
        >>> freeze_batch_norm_layers(net)
        1
    """
    frozen = 0
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
            frozen += 1
    return frozen


def schedule_backbone_learning_rate(optimizer, variables, multiplier=1.0, frozen_steps=0):
    """Give ``variables`` ``multiplier`` times the learning rate, after ``frozen_steps``
    steps in which they are not trained at all.

    Needs a kerascon optimizer (:class:`~kerascon.optimizers.CoupledDecaySGD` or
    :class:`~kerascon.optimizers.LARS`): Keras' optimizers have one learning rate for all
    variables, and scaling the gradient instead would be undone by the normalisation of
    adaptive optimizers. Does nothing when ``multiplier == 1`` and ``frozen_steps == 0``.

    Raises:
        ValueError: another optimizer, or a negative multiplier.

    Example:
        >>> from kerascon.optimizers import CoupledDecaySGD
        >>> layer = keras.layers.Dense(2)
        >>> layer.build((None, 3))
        >>> schedule_backbone_learning_rate(CoupledDecaySGD(0.1), layer.trainable_variables, 0.1)
    """
    if float(multiplier) == 1.0 and not frozen_steps:
        return
    if not hasattr(optimizer, "scale_learning_rate_of"):
        raise ConfigError(
            f"a backbone learning-rate multiplier or frozen warm-up needs a kerascon optimizer "
            f"(CoupledDecaySGD or LARS), got {type(optimizer).__name__}; use one of them, or "
            "train the backbone at the full learning rate")
    optimizer.scale_learning_rate_of(variables, multiplier, frozen_steps=frozen_steps)
