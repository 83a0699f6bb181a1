"""``kerascon.view_layers``: a thin re-export for the import path the README documents.

The layers live in :mod:`kerascon.layers.views` (also served by :mod:`kerascon.layers`).

Example:
    >>> from kerascon.view_layers import ViewAugmentation
    >>> augment = ViewAugmentation(views=2, seed=0)
"""

from kerascon.layers.views import RepeatViews, ViewAugmentation

__all__ = ["RepeatViews", "ViewAugmentation"]
