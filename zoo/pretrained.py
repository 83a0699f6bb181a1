"""Registry of pretrained weights (``kerascon.zoo``), named ``ARCH.TAG``.

Each entry is a frozen :class:`PretrainedSpec`: where the file comes from
(``source``: an ``http(s)://`` or ``file://`` URL, or a local path), its
sha256 and size in bytes, its ``format`` (how :func:`kerascon.zoo.load`
reads it), the input size and normalisation the weights expect, the encoder
stem and width, the feature / projection dimensions, the training recipe,
the reported metrics with their citation, and the licence.

The entries live in a :class:`kerascon.registry.Registry` (did-you-mean look-up,
natural-order wildcard listing). Built-in entries: Keras' ImageNet weights
(``keras_*.imagenet``, :mod:`kerascon.zoo.keras_imagenet`), keras-hub's presets
(``hub_*.imagenet``, :mod:`kerascon.zoo.keras_hub_imagenet`) and kerascon's own encoders
shipped in the package (:mod:`kerascon.zoo.published`, e.g. ``resnet18.supcon_digits``).
An entry is added only for a file whose bytes have been checked: its sha256 and size must
be computed from the real file (never copied from memory or guessed), a PyTorch
checkpoint's key layout must be verified with :func:`kerascon.zoo.from_torch`, and its
metrics must be quoted from the cited source or measured. The SupContrast authors' README
links an ImageNet ResNet-50 SupCon checkpoint (``supcon.pth`` on Dropbox), but its hash,
size and key layout could not be verified, so it is not registered. Register it (or any
checkpoint) yourself once you have the file::

    import kerascon.zoo as zoo
    from kerascon.zoo import PretrainedSpec, TrainingRecipe, ReportedMetric

    zoo.register_pretrained(PretrainedSpec(
        name="resnet50.supcon_cifar10_mine",
        source="/data/ckpt/last.pth",                 # or https://... / file://...
        sha256=zoo.sha256_file("/data/ckpt/last.pth"),
        size=os.path.getsize("/data/ckpt/last.pth"),
        format="torch-supcontrast",
        input_size=(32, 32),
        mean=(0.4914, 0.4822, 0.4465), std=(0.2023, 0.1994, 0.2010),
        stem="cifar", feature_dim=2048,
        projection_dim=128, projection_hidden_dim=2048,
        recipe=TrainingRecipe(dataset="cifar10", epochs=1000, batch_size=1024,
                              temperature=0.1, augmentation="SimAugment"),
        license="BSD-2-Clause",
    ))
    model = zoo.load("resnet50.supcon_cifar10_mine")

Example:
    >>> import kerascon.zoo as zoo
    >>> zoo.list_pretrained("resnet50.*")
    ['resnet50.supcon_cifar10_mine']
    >>> zoo.get_pretrained("resnet50.supcon_cifar10_mine").feature_dim
    2048
"""

from __future__ import annotations

import dataclasses
import re
from typing import Optional

from kerascon.errors import ConfigError, ConfigTypeError, KerasconError, Step, closest_names, did_you_mean
from kerascon.registry import Registry

__all__ = [
    "FORMATS",
    "KERAS_APPLICATION",
    "KERAS_HUB_PRESET",
    "KERASCON_FLOAT16",
    "PACKAGE_SOURCE",
    "PretrainedSpec",
    "ReportedMetric",
    "TrainingRecipe",
    "UnknownPretrainedError",
    "get_pretrained",
    "list_pretrained",
    "register_pretrained",
]

#: format -> file suffix in the cache. ``torch-*`` formats are read with
#: :func:`kerascon.zoo.from_torch` (``weights_only=True``), ``keras`` with
#: ``keras.saving.load_model(..., safe_mode=True)``; ``keras-application`` is a
#: ``keras.applications`` weights file kept in Keras' own cache under Keras' own
#: name and hash (see :mod:`kerascon.zoo.keras_imagenet`).
FORMATS = {
    "torch-supcontrast": ".pth",
    "torch-torchvision": ".pth",
    "torch-cifar_resnet": ".pth",
    "keras": ".keras",
    "keras-application": ".h5",
    "keras-hub-preset": "",
    "kerascon-float16": ".npz",
}
KERAS_APPLICATION = "keras-application"
#: A keras-hub preset folder (config, weights, image converter) found or downloaded through
#: kagglehub's cache (:mod:`kerascon.encoders.keras_hub_backbones`); ``source`` is its handle.
KERAS_HUB_PRESET = "keras-hub-preset"
#: An encoder's weights as float16 arrays in an ``.npz`` (keys: the variables' paths),
#: read by :mod:`kerascon.zoo.float16_weights` into the entry's architecture.
KERASCON_FLOAT16 = "kerascon-float16"
#: ``source`` prefix of a file shipped inside the package (relative to ``kerascon/zoo``).
PACKAGE_SOURCE = "package:"
_NAME = re.compile(r"^[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_KERAS_HASH = re.compile(r"^([0-9a-f]{32}|[0-9a-f]{64})$")


class UnknownPretrainedError(KerasconError, ValueError):
    """Raised by :func:`get_pretrained` (and ``load``/``download``) for unknown names."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainingRecipe:
    """How the weights were trained.

    ``config_files`` are the exact recipe, one training configuration per stage in order
    (YAML files of :class:`kerascon.runs.TrainConfig` keys; paths relative to the
    ``kerascon/zoo`` package for shipped entries): the first trains the encoder, a
    ``linear`` one trains the classifier that measures it. ``hardware`` says where and how
    long; ``dataset_license`` is the licence of the training data.

    Example:
        >>> TrainingRecipe(dataset="cifar10", epochs=1000, batch_size=1024,
        ...                temperature=0.1, augmentation="SimAugment")
    """

    dataset: str
    epochs: Optional[int] = None
    batch_size: Optional[int] = None
    temperature: Optional[float] = None
    augmentation: Optional[str] = None
    method: str = "SupCon"
    notes: str = ""
    config_files: tuple = ()
    hardware: str = ""
    dataset_license: str = ""


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReportedMetric:
    """A metric reported for the weights, with where it was reported.

    Example:
        >>> ReportedMetric(name="linear top-1 (%)", value=96.0, dataset="cifar10",
        ...                citation="HobbitLong/SupContrast README")
    """

    name: str
    value: float
    dataset: str
    citation: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class PretrainedSpec:
    """One pretrained-weights entry; immutable.

    Attributes:
        name: ``"ARCH.TAG"``, e.g. ``"resnet50.supcon_in1k"``; ``ARCH`` is the
            registered architecture the weights fit.
        source: ``http(s)://`` or ``file://`` URL, or a local path.
        sha256: lowercase hex sha256 of the file (always verified); may be ``None``
            for ``keras-application`` entries, which Keras verifies by its own hash, and
            ``keras-hub-preset`` entries (folders in kagglehub's cache).
        size: file size in bytes (``None`` allowed for ``keras-application`` and
            ``keras-hub-preset``).
        format: a key of :data:`FORMATS`.
        input_size: ``(H, W)`` the weights were trained at.
        mean, std: per-channel normalisation of ``[0, 1]`` pixels.
        stem: encoder stem (``"cifar"`` / ``"imagenet"``); ``None`` if n/a.
        width_multiplier: encoder width multiplier.
        feature_dim: encoder output dimension.
        projection_dim, projection_hidden_dim, head_type: the projection head
            stored in the file (``None`` dims: no head stored).
        num_classes: classes of a classifier stored in the file, if any.
        recipe: :class:`TrainingRecipe` (``None``: unknown).
        metrics: tuple of :class:`ReportedMetric`.
        license: licence of the weights, e.g. ``"BSD-2-Clause"``.
        description: one-line summary.
        keras_file, keras_file_hash: ``keras-application`` entries only: the file
            name Keras caches the weights under (``~/.keras/models/<keras_file>``)
            and Keras' own hash of it (md5 or sha256, as in Keras' source).

    Example:
        >>> spec = get_pretrained("resnet50.supcon_cifar10_mine")
        >>> (spec.arch, spec.tag, spec.filename)
        ('resnet50', 'supcon_cifar10_mine', 'resnet50.supcon_cifar10_mine.pth')
    """

    name: str
    source: str
    format: str
    input_size: tuple
    mean: tuple
    std: tuple
    feature_dim: int
    license: str
    stem: Optional[str] = None
    width_multiplier: float = 1.0
    projection_dim: Optional[int] = None
    projection_hidden_dim: Optional[int] = None
    head_type: str = "mlp"
    num_classes: Optional[int] = None
    recipe: Optional[TrainingRecipe] = None
    metrics: tuple = ()
    description: str = ""
    sha256: Optional[str] = None
    size: Optional[int] = None
    keras_file: Optional[str] = None
    keras_file_hash: Optional[str] = None

    def __post_init__(self):
        def fix(field, value):
            object.__setattr__(self, field, value)

        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ConfigError(
                f"pretrained name must look like 'ARCH.TAG' (letters, digits, '_', '-'), "
                f"got {self.name!r}"
            )
        if self.format not in FORMATS:
            raise ConfigError(
                f"{self.name}: unknown format {self.format!r}; expected one of {sorted(FORMATS)}"
            )
        keras_app = self.format == KERAS_APPLICATION
        if keras_app:
            self._check_keras_file()
        # Keras (its own file hashes) and kagglehub keep these files; kerascon adds no hash.
        hashed_elsewhere = self.format in (KERAS_APPLICATION, KERAS_HUB_PRESET)
        if not (hashed_elsewhere and self.sha256 is None):
            sha = str(self.sha256 or "").lower()
            if not _SHA256.match(sha):
                raise ConfigError(
                    f"{self.name}: sha256 must be 64 hex digits computed from the real file "
                    f"(kerascon.zoo.sha256_file), got {self.sha256!r}"
                )
            fix("sha256", sha)
        if not (hashed_elsewhere and self.size is None) and (
                not isinstance(self.size, int) or self.size <= 0):
            raise ConfigError(f"{self.name}: size must be a positive number of bytes, got {self.size!r}")
        if not self.source:
            raise ConfigError(f"{self.name}: source must be a URL or a local path")
        fix("source", str(self.source))
        fix("input_size", tuple(int(v) for v in self.input_size))
        fix("mean", tuple(float(v) for v in self.mean))
        fix("std", tuple(float(v) for v in self.std))
        if len(self.input_size) != 2:
            raise ConfigError(f"{self.name}: input_size must be (H, W), got {self.input_size}")
        if len(self.mean) != len(self.std) or any(s <= 0 for s in self.std):
            raise ConfigError(f"{self.name}: mean and std need one entry per channel, std > 0")
        metrics = tuple(self.metrics)
        if not all(isinstance(m, ReportedMetric) for m in metrics):
            raise ConfigTypeError(f"{self.name}: metrics must be ReportedMetric instances")
        fix("metrics", metrics)

    def _check_keras_file(self):
        name = self.keras_file
        if not name or "/" in name or "\\" in name:
            raise ConfigError(f"{self.name}: keras-application entries need keras_file, the "
                              f"bare file name Keras caches the weights under, got {name!r}")
        digest = str(self.keras_file_hash or "").lower()
        if not _KERAS_HASH.match(digest):
            raise ConfigError(f"{self.name}: keras_file_hash must be Keras' md5 (32 hex digits) "
                              f"or sha256 (64) of {name}, got {self.keras_file_hash!r}")
        object.__setattr__(self, "keras_file_hash", digest)

    @property
    def arch(self):
        """The architecture part of the name (before the dot)."""
        return self.name.split(".", 1)[0]

    @property
    def tag(self):
        """The tag part of the name (after the dot)."""
        return self.name.split(".", 1)[1]

    @property
    def shipped(self):
        """Whether the file is shipped inside the package (``source`` ``package:PATH``)."""
        return self.source.startswith(PACKAGE_SOURCE)

    @property
    def filename(self):
        """File name in the cache: ``NAME`` plus the format's suffix (Keras' own name for
        ``keras-application`` entries)."""
        if self.format == KERAS_APPLICATION:
            return self.keras_file
        if self.format == KERAS_HUB_PRESET and self.source.startswith("kaggle://"):
            return self.source.removeprefix("kaggle://").split("/")[3]  # owner/model/keras/<preset>
        if self.format == KERAS_HUB_PRESET:  # a local preset folder
            return self.source.rstrip("/").rsplit("/", 1)[-1]
        return self.name + FORMATS[self.format]


def _unknown_pretrained(name, known) -> "UnknownPretrainedError":
    close = closest_names(name, known)
    if close:
        hint = did_you_mean(close)
    elif not known:
        hint = "no pretrained weights are registered (see kerascon.zoo.register_pretrained)"
    else:
        hint = "see {0} for the available names"
    if "." not in str(name):
        hint += f"; pretrained weights are named ARCH.TAG, e.g. '{name}.TAG'"
    return UnknownPretrainedError(f"unknown pretrained weights {name!r}; {hint}", Step("list_pretrained"))


def _already_registered(name, spec) -> ConfigError:
    return ConfigError(f"pretrained weights {name!r} are already registered; choose another tag")


#: ``ARCH.TAG`` -> :class:`PretrainedSpec` of every registered entry.
_PRETRAINED: Registry = Registry("pretrained weights", unknown=_unknown_pretrained,
                                 duplicate=_already_registered)


def register_pretrained(spec):
    """Add ``spec`` (a :class:`PretrainedSpec`) to the registry and return it.

    Torch-format and keras-application entries must name a registered architecture
    (their weights are mapped onto it).

    Raises:
        ConfigError: (a ``ValueError``) if the name is taken;
        UnknownArchitectureError: (a ``ValueError``) if the architecture is unknown.

    Example:
        >>> import dataclasses
        >>> shipped = get_pretrained("resnet18.supcon_digits")
        >>> register_pretrained(dataclasses.replace(shipped, name="resnet18.mine"))
    """
    if not isinstance(spec, PretrainedSpec):
        raise ConfigTypeError(f"register_pretrained takes a PretrainedSpec, got {type(spec).__name__}")
    if spec.name in _PRETRAINED:
        raise _already_registered(spec.name, _PRETRAINED[spec.name])
    if spec.format.startswith("torch-") or spec.format in (KERAS_APPLICATION, KERAS_HUB_PRESET,
                                                           KERASCON_FLOAT16):
        from kerascon.zoo.catalogue import describe_architecture

        describe_architecture(spec.arch)  # raises with suggestions; loads no Keras if built in
    return _PRETRAINED.register(spec.name, spec)


def list_pretrained(pattern="*"):
    """Registered pretrained names matching the fnmatch wildcard ``pattern``, in natural
    order (``resnet18.*`` before ``resnet101.*``).

    Example:
        >>> list_pretrained("resnet50.*")
        ['resnet50.supcon_cifar10_mine']
    """
    return _PRETRAINED.list(pattern)


def get_pretrained(name):
    """Return the :class:`PretrainedSpec` registered as ``name``.

    Raises:
        UnknownPretrainedError: (a ``ValueError``) naming close matches.

    Example:
        >>> get_pretrained("resnet50.supcon_cifar10_mine").license
        'BSD-2-Clause'
    """
    if isinstance(name, PretrainedSpec):
        return name
    return _PRETRAINED.lookup(name)
