"""The names a user chooses from, one table each, importable without TensorFlow.

The modules that implement each choice validate against these tables, the training
configuration checks them, and front ends (the command line) offer them as their choices,
so a new name is added in one place. Stages have their own table in :mod:`kerascon.model.stages`.

Example:
    >>> "lars" in OPTIMIZERS, AUGMENT_POLICIES[0]
    (True, 'simclr')
"""

from __future__ import annotations

__all__ = ["AUGMENT_POLICIES", "CONTRAST_MODES", "KEY_BATCH_NORM_MODES", "LOSSES", "LOSS_VARIANTS", "OPTIMIZERS",
           "STEMS", "STRATEGIES"]

#: Augmentation policies of :func:`kerascon.augment.make_augmentation`.
AUGMENT_POLICIES: tuple[str, ...] = ("simclr", "randaugment", "autoaugment", "stacked",
                                     "flip_crop", "none")
#: Contrastive losses: ``supcon`` uses the labels; ``simclr`` is its label-free case.
LOSSES: tuple[str, ...] = ("supcon", "simclr")
#: Which views anchor the contrastive loss: every view (``all``, the paper's) or the first
#: view of each example only (``one``).
CONTRAST_MODES: tuple[str, ...] = ("all", "one")
#: Where the SupCon loss averages over an anchor's positives: outside the log (``out``, the
#: paper's L_out, eq. 2) or inside it (``in``, L_in, eq. 3).
LOSS_VARIANTS: tuple[str, ...] = ("out", "in")
#: Optimizers of :func:`kerascon.optimizers.build_optimizer`.
OPTIMIZERS: tuple[str, ...] = ("sgd", "lars", "rmsprop")
#: ResNet stems: ``cifar`` (3x3 conv, no pooling) or ``imagenet`` (7x7/2 conv + max pool).
STEMS: tuple[str, ...] = ("cifar", "imagenet")
#: Distribution strategies of :func:`kerascon.distribute.resolve_strategy`.
STRATEGIES: tuple[str, ...] = ("auto", "default", "mirrored", "multiworker", "tpu")
#: How a momentum key network's batch norm normalises (:mod:`kerascon.model.key_network`): the key
#: batch's own statistics, or the moving statistics copied from the query network.
KEY_BATCH_NORM_MODES: tuple[str, ...] = ("batch", "moving")
