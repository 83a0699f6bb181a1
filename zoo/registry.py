"""Re-export of :mod:`kerascon.encoders.registry` (its home is tier 1, next to the encoders).

Kept so that ``from kerascon.zoo import registry`` goes on working; new code imports
``kerascon.encoders.registry``. ``_ARCHITECTURES`` is the same dict object.

Example:
    >>> from kerascon.zoo.registry import build_encoder
    >>> build_encoder("resnet18", width_multiplier=0.125).output.shape[-1]
    64
"""

from kerascon.encoders.registry import (  # noqa: F401
    _ARCHITECTURES,
    ArchitectureSpec,
    UnknownArchitectureError,
    build_encoder,
    get_architecture,
    list_architectures,
    natural_key,
    register_architecture,
)

__all__ = [
    "ArchitectureSpec",
    "UnknownArchitectureError",
    "build_encoder",
    "get_architecture",
    "list_architectures",
    "natural_key",
    "register_architecture",
]
