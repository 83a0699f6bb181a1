"""Where a new run's encoder comes from: a zoo entry (``ARCH.TAG``) or another run.

``pretrained`` in a :class:`~kerascon.runs.config.TrainConfig` names either a registered
pretrained entry (:mod:`kerascon.zoo`) or a run directory whose ``model.keras`` holds a
trained encoder. Either way the new run takes the encoder with its preprocessing and
input size, and builds a fresh classifier for its own data's classes: a ``linear`` stage
trains it on the frozen encoder, ``joint`` and ``ce`` fine-tune the encoder too.

:func:`pretrained_values` resolves what the configuration records (architecture, stem,
width, normalisation, image size, the encoder's learning-rate multiplier) so that a run's
``config.yaml`` says what its model is; :func:`build_pretrained_model` builds the model.

Example:
    >>> values = pretrained_values({"stage": "linear", "pretrained": "runs/digits"}, given=set())
    >>> values["arch"], values["image_size"]
    ('resnet18', 16)
"""

from __future__ import annotations

import os
from pathlib import Path

from kerascon.errors import ConfigError, RunError, Setting, Step
from kerascon.runs.config import PRETRAINED_BACKBONE_LR_MULTIPLIER

__all__ = ["build_pretrained_model", "pretrained_run", "pretrained_values", "recorded_model_values"]


def _looks_like_path(value: str) -> bool:
    return (os.sep in value or "/" in value or value.startswith(("~", "."))
            or os.path.exists(os.path.expanduser(value)))


def pretrained_run(value) -> Path | None:
    """The run directory ``value`` names, or None when it names a zoo entry.

    Raises:
        RunError: ``value`` looks like a path but is no run directory with a model.

    Example:
        >>> pretrained_run("resnet18.supcon_digits") is None
        True
    """
    value = str(value)
    if not _looks_like_path(value):
        return None
    path = Path(os.path.expanduser(value))
    if not path.is_dir():
        raise RunError(f"pretrained run directory {value} does not exist; pass {{0}} a finished "
                       "run, or a pretrained entry (see {1})", Setting("pretrained"),
                       Step("list_pretrained"))
    if not (path / "model.keras").is_file():
        raise RunError(f"pretrained run directory {value} holds no model.keras (no finished "
                       "stage); finish one of its stages, or pass {0} a pretrained entry (see "
                       "{1})", Setting("pretrained"), Step("list_pretrained"))
    return path.resolve()


def _check_frozen_size(values: dict, given: set, source: str, size: int) -> None:
    """A frozen encoder (linear stage) sees the image size it was trained at, no other."""
    if values["stage"] != "linear" or "image_size" not in given or values["image_size"] == size:
        return
    raise ConfigError(f"pretrained encoder {source} takes {size}x{size} images and the linear "
                      f"stage keeps it frozen, so image_size {values['image_size']} does not fit; "
                      "drop {0} or set {1}", Setting("image_size"), Setting("image_size", size))


def _check_arch(values: dict, given: set, source: str, arch: str) -> None:
    if "arch" in given and values["arch"] != arch:
        raise ConfigError(f"pretrained entry {source!r} is a {arch} encoder, not "
                          f"{values['arch']!r}; drop {{0}} or pick an entry of that architecture",
                          Setting("arch"))


def _from_entry(values: dict, given: set) -> dict:
    from kerascon.zoo.pretrained import get_pretrained

    spec = get_pretrained(values["pretrained"])
    _check_arch(values, given, spec.name, spec.arch)
    resolved = {"arch": spec.arch, "width_multiplier": float(spec.width_multiplier),
                "mean": tuple(spec.mean), "std": tuple(spec.std)}
    if spec.stem is not None:
        resolved["stem"] = spec.stem
    if spec.input_size:
        size = int(spec.input_size[0])
        _check_frozen_size(values, given, repr(spec.name), size)
        if "image_size" not in given:
            resolved["image_size"] = size
    return resolved


def _from_run(values: dict, given: set, run: Path) -> dict:
    from kerascon.runs.records import first_stage_config, image_size_of

    parent = first_stage_config(run)
    if parent is None:
        raise RunError(f"pretrained run directory {run} records no configuration "
                       "(stages/<stage>/config.yaml), so its encoder's input is unknown; pass {0} "
                       "a run trained by kerascon", Setting("pretrained"))
    _check_arch(values, given, str(run), parent.arch)
    size = image_size_of(run)
    _check_frozen_size(values, given, str(run), size)
    resolved = {key: getattr(parent, key) for key in (
        "arch", "stem", "width_multiplier", "mean", "std", "projection_dim",
        "projection_hidden_dim", "head_type")}
    resolved["pretrained"] = str(run)
    if "image_size" not in given:
        resolved["image_size"] = size
    return resolved


def pretrained_values(values: dict, given: set) -> dict:
    """``values`` (a new stage's configuration) completed from its ``pretrained`` encoder.

    The encoder fixes the architecture, stem, width and normalisation; its input size is
    the default image size (a linear stage, which keeps the encoder frozen, accepts no
    other); the encoder's learning-rate multiplier defaults to 0.1. ``given`` names the
    keys the user set (an ``arch`` other than the encoder's is an error).

    Raises:
        ConfigError, RunError, UnknownPretrainedError: one line each.
    """
    run = pretrained_run(values["pretrained"])
    resolved = _from_run(values, given, run) if run else _from_entry(values, given)
    if values.get("backbone_lr_multiplier") is None:
        resolved["backbone_lr_multiplier"] = PRETRAINED_BACKBONE_LR_MULTIPLIER
    return {**values, **resolved}


def _from_run_model(run: Path, num_classes, **model_kwargs):
    """A SupConModel around a run's encoder, preprocessing and projection head, with a
    fresh classifier (``num_classes``) for the new run's classes."""
    from kerascon.model.supcon_model import SupConModel
    from kerascon.runs.records import load_run_model

    loaded = load_run_model(run)
    head = loaded.projection_head
    model = SupConModel(loaded.encoder, num_classes, preprocessing=loaded.preprocessing,
                        projection_dim=head.output_dim, projection_hidden_dim=head.hidden_dim,
                        head_type=head.head_type, **model_kwargs)
    model.projection_head.set_weights(head.get_weights())
    return model


def build_pretrained_model(pretrained: str, num_classes, **model_kwargs):
    """The :class:`~kerascon.model.SupConModel` of a new run on the ``pretrained`` encoder.

    ``pretrained`` is a zoo entry (:func:`kerascon.zoo.load`) or a run directory (its
    ``model.keras``: encoder, preprocessing and projection head). ``model_kwargs`` are
    SupConModel options (``stage``, ``temperature``, fine-tuning ...).
    """
    run = pretrained_run(pretrained)
    if run is not None:
        return _from_run_model(run, num_classes, **model_kwargs)
    from kerascon.zoo import load

    return load(pretrained, num_classes=num_classes, **model_kwargs)


def recorded_model_values(model) -> dict:
    """What a built model is, in configuration keys: its projection head's sizes."""
    head = model.projection_head
    values = {"projection_dim": int(head.output_dim), "head_type": str(head.head_type)}
    if head.hidden_dim is not None:
        values["projection_hidden_dim"] = int(head.hidden_dim)
    return values

