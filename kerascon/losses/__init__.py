"""Contrastive losses: SupCon and SimCLR's NT-Xent, dense or in blocks, and against a queue.

:mod:`kerascon.losses.supcon` holds the losses (:func:`supcon_loss`, :class:`SupConLoss`,
:class:`SimCLRLoss`) and the replica set-up, :mod:`kerascon.losses.kernel` the per-anchor maths
every loss shares, :mod:`kerascon.losses.blockwise` the computation one block of anchor rows at a
time and :mod:`kerascon.losses.queue` the loss against momentum keys and a queue. The names
below load on first use.

Example:
    >>> import numpy as np
    >>> from kerascon.losses import SupConLoss, supcon_loss
    >>> loss = supcon_loss(np.random.normal(size=(8, 2, 16)).astype("float32"), np.arange(8) % 4)
    >>> keras_loss = SupConLoss(temperature=0.1)
"""

from kerascon._utils.lazy_exports import lazy_exports

_EXPORTS = {
    "AUTO_BLOCK_ELEMENTS": "kerascon.losses.blockwise",
    "SimCLRLoss": "kerascon.losses.supcon",
    "SupConLoss": "kerascon.losses.supcon",
    "replica_keys": "kerascon.losses.supcon",
    "replica_share": "kerascon.losses.supcon",
    "simclr_loss": "kerascon.losses.supcon",
    "supcon_loss": "kerascon.losses.supcon",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
