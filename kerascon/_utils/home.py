"""kerascon's own folder on a user's machine: ``$KERASCON_HOME``, default ``~/.cache/kerascon``.

Downloaded pretrained weights go to ``pretrained/`` under it (:mod:`kerascon.zoo.download`),
keras-hub presets copied by hand to ``hub/<preset>/``
(:mod:`kerascon.encoders.keras_hub_backbones`).

Example:
    >>> from kerascon._utils.home import kerascon_home
    >>> kerascon_home()
    PosixPath('/home/me/.cache/kerascon')
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["HOME_ENV", "kerascon_home"]

HOME_ENV = "KERASCON_HOME"


def kerascon_home():
    """``$KERASCON_HOME``, or ``~/.cache/kerascon`` when it is unset.

    Example:
        >>> kerascon_home()
        PosixPath('/home/me/.cache/kerascon')
    """
    return Path(os.environ.get(HOME_ENV) or "~/.cache/kerascon").expanduser()
