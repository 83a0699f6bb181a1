"""kerascon.zoo: encoder architectures, pretrained weights and PyTorch import.

Architectures are builders registered by name in :mod:`kerascon.encoders.registry`
(re-exported here unchanged); pretrained weights are registered as ``ARCH.TAG`` entries
(:mod:`.pretrained`): Keras' ImageNet weights (``keras_*.imagenet``, in Keras' cache),
keras-hub's presets (``hub_*.imagenet``, in kagglehub's cache),
kerascon's own encoders shipped in the package (:mod:`.published`, e.g.
``resnet18.supcon_digits``), and your own; downloads go to ``$KERASCON_HOME`` and are
sha256-verified (:mod:`.download`). :func:`load` returns a
:class:`~kerascon.model.SupConModel`; :func:`from_torch` converts SupContrast /
torchvision ResNet checkpoints.

Names load on first use (PEP 562): listing architectures and pretrained entries
(:func:`list_architectures`, :func:`list_pretrained`, :func:`get_pretrained`) reads
plain data and loads neither Keras nor TensorFlow; building or loading a model does.

Example:
    >>> import kerascon.zoo as zoo
    >>> zoo.list_architectures("resnet5*")
    ['resnet50', 'resnet56']
    >>> enc = zoo.build_encoder("resnet18", width_multiplier=0.125)
    >>> enc.output.shape[-1]
    64
    >>> zoo.list_pretrained("keras_resnet50*")   # Keras' ImageNet weights, via Keras' cache
    ['keras_resnet50.imagenet', 'keras_resnet50v2.imagenet']
    >>> model = zoo.load("resnet18.supcon_digits")   # shipped in the package, offline
    >>> model = zoo.from_torch("last.pth", layout="supcontrast", arch="resnet50")
"""

from kerascon._utils.lazy_exports import lazy_exports
from kerascon.zoo import (
    keras_hub_imagenet,  # noqa: F401  (registers hub_*.imagenet; no keras-hub)
    keras_imagenet,  # noqa: F401  (registers keras_*.imagenet; no Keras)
    published,  # noqa: F401  (registers kerascon's own entries; no Keras)
)

# Plain-Python modules, bound now: the function ``download`` must win over the submodule
# of the same name, which Python would otherwise set as this package's attribute.
from kerascon.zoo.catalogue import describe_architecture, list_architectures
from kerascon.zoo.download import (
    ChecksumError,
    DownloadError,
    cache_path,
    download,
    download_hub_preset,
    download_keras_weights,
    keras_cache_dir,
    kerascon_home,
    sha256_file,
    shipped_file,
)
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

_EXPORTS = {
    "ArchitectureSpec": "kerascon.encoders.registry",
    "UnknownArchitectureError": "kerascon.encoders.registry",
    "build_encoder": "kerascon.encoders.registry",
    "get_architecture": "kerascon.encoders.registry",
    "register_architecture": "kerascon.encoders.registry",
    "load": "kerascon.zoo.loader",
    "CheckpointError": "kerascon.zoo.torch_checkpoint",
    "read_state_dict": "kerascon.zoo.torch_checkpoint",
    "LAYOUTS": "kerascon.zoo.torch_checkpoint",
    "from_torch": "kerascon.zoo.torch_import",
}

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
    "describe_architecture",
    "download",
    "download_hub_preset",
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
    "shipped_file",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
