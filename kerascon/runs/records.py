"""What a run directory records: each stage's configuration, its image size, its model."""

from __future__ import annotations

import json
from typing import Optional

from kerascon.model.stages import STAGES
from kerascon.runs.config import TrainConfig
from kerascon.runs.directory import RunDirectory

__all__ = ["CLASSES_FILE", "classifier_classes", "first_stage", "first_stage_config",
           "image_size_of", "load_run_model", "recorded_classes", "stage_config"]

#: Where a stage records the class names it trained on: ``stages/<stage>/classes.json``.
CLASSES_FILE = "classes.json"


def stage_config(run_dir, stage: str) -> Optional[TrainConfig]:
    """The resolved configuration a run's stage was trained with, if any.

    Example:
        >>> stage_config("runs/digits", "contrastive").image_size
        16
    """
    path = RunDirectory(run_dir).stage_dir(stage) / "config.yaml"
    return TrainConfig.from_yaml(path) if path.is_file() else None


def first_stage(run_dir) -> Optional[str]:
    """The name of the stage that started the run, if any stage was recorded.

    A contrastive, joint or ce stage; a linear stage when the run was started by one, on
    the frozen encoder of a pretrained entry or of another run (``pretrained`` set).

    Example:
        >>> first_stage("runs/digits")
        'contrastive'
    """
    for name, stage in STAGES.items():
        config = stage_config(run_dir, name)
        if config is not None and config.starts_run:
            return name
    return None


def first_stage_config(run_dir) -> Optional[TrainConfig]:
    """The configuration of the stage that started the run (see :func:`first_stage`)."""
    name = first_stage(run_dir)
    return stage_config(run_dir, name) if name else None


def image_size_of(run_dir) -> int:
    """The image size a run was trained at (its linear stage's, else its first stage's).

    Example:
        >>> image_size_of("runs/digits")
        16
    """
    for stage in [name for name, table in STAGES.items() if not table.starts_run]:
        config = stage_config(run_dir, stage)
        if config is not None:
            return config.image_size
    config = first_stage_config(run_dir)
    return (config or TrainConfig()).image_size


def classifier_classes(run_dir) -> Optional[int]:
    """The number of classes of the classifier in a run's ``model.keras`` (None: it has none).

    Read from the archive's ``config.json``, without building the model.

    Example:
        >>> classifier_classes("runs/digits")
        10
    """
    import json
    import zipfile

    with zipfile.ZipFile(RunDirectory(run_dir).model_path) as archive:
        config = json.loads(archive.read("config.json"))
    classes = config.get("config", {}).get("num_classes")
    return int(classes) if classes is not None else None


def load_run_model(run_dir):
    """The :class:`~kerascon.model.SupConModel` of a run's latest finished stage.

    Example:
        >>> load_run_model("runs/digits").stage
        'linear'
    """
    from kerascon.model.saving import load_model  # registers every kerascon class first

    return load_model(RunDirectory(run_dir).require_model())


def recorded_classes(run_dir, stage: str) -> Optional[dict]:
    """What a stage recorded of its classes: ``class_names`` (in label order), ``named``
    (False when they are only label indices) and ``dataset``; None for a stage trained
    before runs recorded them (or not trained).

    Example:
        >>> recorded_classes("runs/digits", "linear")["class_names"][:3]
        ['0', '1', '2']
    """
    path = RunDirectory(run_dir).stage_dir(stage) / CLASSES_FILE
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    return {"class_names": [str(name) for name in record["class_names"]],
            "named": bool(record.get("named", True)), "dataset": record.get("dataset")}
