"""kerascon.zoo: encoder architectures, pretrained weights and PyTorch import.

Architectures are builders registered by name in :mod:`kerascon.encoders.registry`
(re-exported here unchanged); pretrained
weights are registered as ``ARCH.TAG`` entries (:mod:`.pretrained`), fetched
into ``$KERASCON_HOME`` and sha256-verified (:mod:`.download`), and loaded as
a :class:`~kerascon.model.SupConModel` (:func:`load`). :func:`from_torch`
converts SupContrast / torchvision ResNet checkpoints.

Example:
    >>> import kerascon.zoo as zoo
    >>> zoo.list_architectures("resnet*")
    ['resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152', 'resnet200']
    >>> enc = zoo.build_encoder("resnet18", width_multiplier=0.125)
    >>> enc.output.shape[-1]
    64
    >>> zoo.list_pretrained("keras_resnet50*")   # Keras' ImageNet weights, via Keras' cache
    ['keras_resnet50.imagenet', 'keras_resnet50v2.imagenet']
    >>> model = zoo.from_torch("last.pth", layout="supcontrast", arch="resnet50")
"""

from kerascon.encoders.registry import (
    ArchitectureSpec,
    UnknownArchitectureError,
    build_encoder,
    get_architecture,
    list_architectures,
    register_architecture,
)
from kerascon.zoo import keras_imagenet  # noqa: F401,E402  (registers keras_*.imagenet)
from kerascon.zoo.download import (
    ChecksumError,
    DownloadError,
    cache_path,
    download,
    download_keras_weights,
    keras_cache_dir,
    kerascon_home,
    sha256_file,
)
from kerascon.zoo.loader import load
from kerascon.zoo.pretrained import (
    FORMATS,
    PretrainedSpec,
    ReportedMetric,
    TrainingRecipe,
    UnknownPretrainedError,
    get_pretrained,
    list_pretrained,
    register_pretrained,
)
from kerascon.zoo.torch_checkpoint import CheckpointError, read_state_dict
from kerascon.zoo.torch_import import LAYOUTS, from_torch

__all__ = [
    "ArchitectureSpec",
    "CheckpointError",
    "ChecksumError",
    "DownloadError",
    "FORMATS",
    "LAYOUTS",
    "PretrainedSpec",
    "ReportedMetric",
    "TrainingRecipe",
    "UnknownArchitectureError",
    "UnknownPretrainedError",
    "build_encoder",
    "cache_path",
    "download",
    "download_keras_weights",
    "from_torch",
    "get_architecture",
    "get_pretrained",
    "keras_cache_dir",
    "kerascon_home",
    "list_architectures",
    "list_pretrained",
    "load",
    "read_state_dict",
    "register_architecture",
    "register_pretrained",
    "sha256_file",
]
