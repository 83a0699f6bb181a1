"""Split names: ``"none"`` means the data as a whole (no TensorFlow needed here)."""

from __future__ import annotations

__all__ = ["normalize_split"]


def normalize_split(split):
    """``None``, ``"none"`` (any case) or an empty string mean no split; else the name.

    Example:
        >>> normalize_split("None"), normalize_split("train")
        (None, 'train')
    """
    if split is None or (isinstance(split, str) and split.strip().lower() in ("none", "")):
        return None
    return str(split)
