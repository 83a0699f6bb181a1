"""Keras layers of a SupCon model, loaded on first use.

:mod:`kerascon.layers.core`: projection head, L2 normalisation, image preprocessing and
synchronised batch norm; :mod:`kerascon.layers.views`: the layers that make views on the device.

Example:
    >>> from kerascon.layers import ProjectionHead, ViewAugmentation
    >>> head = ProjectionHead(hidden_dim=512, output_dim=128)
    >>> views = ViewAugmentation(views=2, seed=0)
"""

from kerascon._utils.lazy_exports import lazy_exports

_EXPORTS = {
    "IMAGENET_MEAN": "kerascon.layers.core",
    "IMAGENET_STD": "kerascon.layers.core",
    "ImagePreprocessing": "kerascon.layers.core",
    "L2Normalize": "kerascon.layers.core",
    "ProjectionHead": "kerascon.layers.core",
    "RepeatViews": "kerascon.layers.views",
    "ViewAugmentation": "kerascon.layers.views",
    "synchronize_batch_norm": "kerascon.layers.core",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
