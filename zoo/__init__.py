"""kerascon.zoo: a registry of encoder architectures.

Example:
    >>> import kerascon.zoo as zoo
    >>> zoo.list_architectures("resnet*")
    ['resnet101', 'resnet152', 'resnet18', 'resnet200', 'resnet34', 'resnet50']
    >>> enc = zoo.build_encoder("resnet18", width_multiplier=0.125)
    >>> enc.output.shape[-1]
    64
"""

from kerascon.zoo.registry import (
    ArchitectureSpec,
    UnknownArchitectureError,
    build_encoder,
    get_architecture,
    list_architectures,
    register_architecture,
)
from kerascon.zoo import architectures  # noqa: F401  (registers built-ins)

__all__ = [
    "ArchitectureSpec",
    "UnknownArchitectureError",
    "build_encoder",
    "get_architecture",
    "list_architectures",
    "register_architecture",
]
