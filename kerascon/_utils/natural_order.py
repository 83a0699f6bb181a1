"""Natural sort order for names with numbers: ``resnet18`` before ``resnet101``."""

from __future__ import annotations

import re

__all__ = ["natural_key"]


def natural_key(name):
    """Sort key that orders digit runs by value: ``resnet18`` before ``resnet101``.

    Example:
        >>> sorted(["resnet101", "resnet18"], key=natural_key)
        ['resnet18', 'resnet101']
    """
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", name) if part]
