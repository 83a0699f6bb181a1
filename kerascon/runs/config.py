"""Typed training configuration: one dataclass, unknown keys rejected.

Importing it loads neither Keras nor TensorFlow: the choices it checks come from the
library's own tables (:mod:`kerascon.model.stages`, :data:`LOSSES`, :data:`STRATEGIES`...).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from pathlib import Path
from typing import Any, Optional

import yaml

from kerascon.choices import (
    AUGMENT_POLICIES,
    CONTRAST_MODES,
    KEY_BATCH_NORM_MODES,
    LOSS_VARIANTS,
    LOSSES,
    OPTIMIZERS,
    STEMS,
    STRATEGIES,
)
from kerascon.data.holdout import DEFAULT_VAL_FRACTION
from kerascon.data.image_headers import DEFAULT_MAX_IMAGE_PIXELS
from kerascon.data.splits import normalize_split
from kerascon.errors import ConfigError, Setting
from kerascon.model.stages import STAGE_NAMES, STAGES

__all__ = ["HEAD_FIELDS", "LINEAR_LR_PER_FEATURE", "LINEAR_STAGE_DEFAULTS", "PRETRAINED_BACKBONE_LR_MULTIPLIER",
           "TrainConfig", "ConfigError", "normalize_split"]

#: The linear probe's learning rate times its feature dimension: lr 0.05 at 768 features,
#: 0.3 at 128, 0.019 at 2048 (benchmarks/linear_probe_scales.py, BENCHMARKS.md).
LINEAR_LR_PER_FEATURE = 38.4

#: What a linear stage sets instead of the :class:`TrainConfig` defaults (values given by
#: the user still win). The probe normalises its features (SupConModel.probe_norm), so one
#: learning rate per feature suits encoders of any feature scale.
LINEAR_STAGE_DEFAULTS = {"lr_per_feature": LINEAR_LR_PER_FEATURE, "optimizer": "sgd",
                         "momentum": 0.9, "warmup_epochs": 0, "epochs": 30, "weight_decay": 0.0,
                         "augment": "flip_crop"}

#: The encoder's learning rate relative to the heads' when fine-tuning pretrained weights
#: (the default of ``backbone_lr_multiplier`` with ``pretrained``).
PRETRAINED_BACKBONE_LR_MULTIPLIER = 0.1

#: The fields that size the projection head; a pretrained encoder brings its own head.
HEAD_FIELDS = ("projection_dim", "projection_hidden_dim", "head_type")


def _check_type(name: str, value, annotation: str) -> None:
    """A one-line ConfigError when ``value`` does not fit the field's annotation."""
    optional = annotation.startswith("Optional[")
    base = annotation[len("Optional["):-1] if optional else annotation
    if value is None:
        if optional:
            return
        raise ConfigError(f"{name} must not be empty (null); give a {base} value")
    numbers = (int, float)
    if base == "bool":
        ok = isinstance(value, bool)
    elif base == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif base == "float":
        ok = isinstance(value, numbers) and not isinstance(value, bool) and math.isfinite(value)
    elif base == "str":
        ok = isinstance(value, str)
    else:  # tuple: a flat list of finite numbers
        ok = isinstance(value, (list, tuple)) and all(
            isinstance(v, numbers) and not isinstance(v, bool) and math.isfinite(v) for v in value)
        base = "list of numbers"
    if not ok:
        wanted = {"bool": "true or false", "int": "an integer", "float": "a finite number",
                  "str": "a string"}.get(base, f"a {base}")
        raise ConfigError(f"{name} must be {wanted}, got {value!r} ({type(value).__name__})")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training stage; written into the run as ``config.yaml``.

    Example:
        >>> config = TrainConfig(stage="contrastive", arch="resnet18", data="digits",
        ...                      epochs=10, batch_size=64)
        >>> config.replace(stage="linear", epochs=5)
    """

    stage: str = "contrastive"
    arch: str = "resnet18"
    stem: str = "cifar"
    width_multiplier: float = 1.0
    data: Optional[str] = "embedded:digits"
    data_dir: Optional[str] = None
    split: Optional[str] = "train"
    eval_split: Optional[str] = "test"
    epochs: int = 10
    steps_per_epoch: Optional[int] = None
    batch_size: int = 128
    views: int = 2
    image_size: int = 32
    temperature: float = 0.1
    base_temperature: Optional[float] = None
    loss: str = "supcon"
    loss_variant: str = "out"
    augment: str = "simclr"
    crop_scale: Optional[tuple] = (0.2, 1.0)
    optimizer: str = "sgd"
    lr: float = 0.05
    # When set, the stage's learning rate is lr_per_feature / the encoder's feature dimension
    # (the linear stage's default); an lr given explicitly clears it.
    lr_per_feature: Optional[float] = None
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_epochs: int = 0
    projection_dim: int = 128
    projection_hidden_dim: int = 2048
    head_type: str = "mlp"
    joint_weight: float = 1.0
    # The joint stage's loss is ce_weight * cross-entropy + joint_weight * SupCon.
    ce_weight: float = 1.0
    label_smoothing: float = 0.0
    contrast_mode: str = "all"
    mean: tuple = (0.485, 0.456, 0.406)
    std: tuple = (0.229, 0.224, 0.225)
    seed: int = 0
    strategy: str = "auto"
    sync_batch_norm: bool = False
    pretrained: Optional[str] = None
    skip_corrupt: bool = False
    # Fine-tuning a pretrained encoder (kerascon.model.fine_tuning); None: 0.1 with pretrained, else 1.
    backbone_lr_multiplier: Optional[float] = None
    freeze_batch_norm: bool = False
    freeze_backbone_epochs: int = 0
    # Momentum encoder and labelled queue (kerascon.model.key_network); None: off.
    momentum_encoder: Optional[float] = None
    queue_size: int = 0
    key_batch_norm: str = "batch"
    val_fraction: float = DEFAULT_VAL_FRACTION
    max_image_pixels: Optional[int] = DEFAULT_MAX_IMAGE_PIXELS

    def __post_init__(self):
        for field in dataclasses.fields(self):
            _check_type(field.name, getattr(self, field.name), field.type)
        for name, choices in (("stage", STAGE_NAMES), ("loss", LOSSES), ("stem", STEMS),
                              ("augment", AUGMENT_POLICIES), ("optimizer", OPTIMIZERS),
                              ("strategy", STRATEGIES), ("key_batch_norm", KEY_BATCH_NORM_MODES),
                              ("contrast_mode", CONTRAST_MODES), ("loss_variant", LOSS_VARIANTS)):
            if getattr(self, name) not in choices:
                raise ConfigError(f"unknown {name} {getattr(self, name)!r}; choose one of "
                                  f"{', '.join(choices)}")
        for name in ("epochs", "batch_size", "views", "image_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise ConfigError(f"steps_per_epoch must be >= 1, got {self.steps_per_epoch}")
        if not self.temperature > 0:
            raise ConfigError(
                f"temperature must be > 0, got {self.temperature}; the paper uses {{0}}",
                Setting("temperature", 0.1))
        if not 0 <= self.joint_weight <= 1:
            raise ConfigError(f"joint_weight {self.joint_weight:g} is outside [0, 1] (the weight of "
                              "SupCon next to cross-entropy in the joint stage); set {0}, or any "
                              "value between 0 and 1", Setting("joint_weight", 0.5))
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")
        if not (self.joint_weight >= 0 and self.ce_weight >= 0):
            raise ConfigError(f"joint_weight and ce_weight must be >= 0, got {self.joint_weight} and "
                              f"{self.ce_weight}")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}; "
                              "0.1 is usual")
        if self.lr_per_feature is not None and not self.lr_per_feature > 0:
            raise ConfigError(f"lr_per_feature must be > 0, got {self.lr_per_feature}")
        if self.backbone_lr_multiplier is not None and not self.backbone_lr_multiplier >= 0:
            raise ConfigError(f"backbone_lr_multiplier must be >= 0, got {self.backbone_lr_multiplier}; "
                              "0.1 is usual for pretrained weights")
        if not 0 <= self.freeze_backbone_epochs <= self.epochs:
            raise ConfigError(f"freeze_backbone_epochs must be between 0 and epochs ({self.epochs}), "
                              f"got {self.freeze_backbone_epochs}")
        if self.momentum_encoder is not None and not 0 <= self.momentum_encoder < 1:
            raise ConfigError(f"momentum_encoder must be in [0, 1), got {self.momentum_encoder}; "
                              "0.999 is MoCo's value")
        if self.queue_size < 0 or (self.queue_size and self.momentum_encoder is None):
            raise ConfigError(f"queue_size must be >= 0 and needs a momentum encoder, got "
                              f"{self.queue_size}; set {{0}} too", Setting("momentum_encoder", 0.999))
        if self.warmup_epochs < 0 or self.warmup_epochs > self.epochs:
            raise ConfigError(
                f"warmup_epochs must be between 0 and epochs ({self.epochs}), got {self.warmup_epochs}"
            )
        if isinstance(self.val_fraction, bool) or not 0.0 < float(self.val_fraction) < 1.0:
            raise ConfigError(f"val_fraction must lie between 0 and 1 (the share of every class held out "
                              f"when the data has no evaluation split), got {self.val_fraction!r}")
        if self.max_image_pixels is not None and (isinstance(self.max_image_pixels, bool) or not isinstance(
                self.max_image_pixels, int) or self.max_image_pixels < 1):
            raise ConfigError(f"max_image_pixels must be an integer >= 1, got {self.max_image_pixels!r}")
        object.__setattr__(self, "val_fraction", float(self.val_fraction))
        object.__setattr__(self, "split", normalize_split(self.split))
        object.__setattr__(self, "eval_split", normalize_split(self.eval_split))
        if self.crop_scale is not None:
            object.__setattr__(self, "crop_scale", tuple(float(v) for v in self.crop_scale))
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))

    @property
    def starts_run(self) -> bool:
        """The stage builds a new model, so it starts a new run: a contrastive, joint or ce
        stage, or any stage (also linear) that starts from a ``pretrained`` encoder.

        Example:
            >>> TrainConfig(stage="linear").starts_run, TrainConfig(stage="ce").starts_run
            (False, True)
            >>> TrainConfig(stage="linear", pretrained="resnet18.supcon_digits").starts_run
            True
        """
        return STAGES[self.stage].starts_run or self.pretrained is not None

    # ------------------------------------------------------------------ the model
    def model_kwargs(self, steps_per_epoch: int = 1) -> dict[str, Any]:
        """The :class:`~kerascon.model.SupConModel` keyword arguments this configuration sets:
        the stage, the projection head (:data:`HEAD_FIELDS`), the loss, the momentum queue
        and the fine-tuning of the encoder. ``steps_per_epoch`` turns
        ``freeze_backbone_epochs`` into optimizer steps.

        Example:
            >>> kwargs = TrainConfig(loss="simclr", pretrained="resnet18.supcon_digits").model_kwargs()
            >>> kwargs["use_labels"], kwargs["backbone_lr_multiplier"]
            (False, 0.1)
        """
        multiplier = self.backbone_lr_multiplier
        if multiplier is None:
            multiplier = PRETRAINED_BACKBONE_LR_MULTIPLIER if self.pretrained else 1.0
        return {
            "stage": self.stage,
            **{name: getattr(self, name) for name in HEAD_FIELDS},
            "temperature": self.temperature, "base_temperature": self.base_temperature,
            "loss_variant": self.loss_variant, "contrast_mode": self.contrast_mode,
            "use_labels": self.loss == "supcon", "joint_weight": self.joint_weight,
            "ce_weight": self.ce_weight, "label_smoothing": self.label_smoothing,
            "momentum_encoder": self.momentum_encoder, "queue_size": self.queue_size,
            "key_batch_norm": self.key_batch_norm, "backbone_lr_multiplier": multiplier,
            "freeze_backbone_steps": self.freeze_backbone_epochs * int(steps_per_epoch),
            "freeze_batch_norm": self.freeze_batch_norm,
        }

    def encoder_kwargs(self) -> dict[str, Any]:
        """The encoder options of :meth:`kerascon.model.SupConModel.from_architecture`
        (with :attr:`arch`): stem, width, input normalisation, synchronised batch norm.

        Example:
            >>> TrainConfig(stem="imagenet").encoder_kwargs()["stem"]
            'imagenet'
        """
        return {"stem": self.stem, "width_multiplier": self.width_multiplier, "mean": self.mean,
                "std": self.std, "sync_batch_norm": self.sync_batch_norm}

    # ------------------------------------------------------------------ conversion
    @classmethod
    def field_names(cls):
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        """Build from a mapping; an unknown key is an error that suggests the right one."""
        names = cls.field_names()
        for key in values:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"unknown configuration key {key!r}{hint}")
        return cls(**values)

    @classmethod
    def from_yaml(cls, path, **overrides) -> "TrainConfig":
        """Read a YAML file of option values; ``overrides`` (not None) take precedence."""
        values = cls.read_yaml(path)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(values)

    @classmethod
    def read_yaml(cls, path) -> dict[str, Any]:
        """The option values of a YAML file (dashes in keys become underscores), checked.

        Raises:
            ConfigError: missing file, invalid YAML, not a mapping, or an unknown key.
        """
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist; check {{0}}",
                              Setting("config_file"))
        try:
            values = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"config file {path} is not valid YAML: {str(error).splitlines()[0]}")
        if not isinstance(values, dict):
            raise ConfigError(f"config file {path} must hold a mapping of option: value")
        values = {str(k).replace("-", "_"): v for k, v in values.items()}
        names = cls.field_names()
        for key in values:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=1)
                hint = (f"; did you mean {close[0]!r}?" if close else
                        "; keys are the fields of kerascon.runs.config.TrainConfig")
                raise ConfigError(f"unknown configuration key {key!r}{hint} (in {path})")
        return values

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def replace(self, **changes) -> "TrainConfig":
        return dataclasses.replace(self, **changes)
