"""What an evaluation of a run reads: its model, the evaluated split and its training data.

Without ``data`` the run is evaluated on the data it was trained on; ``split="recorded"``
is its recorded ``eval_split`` (its hold-out, for data without splits). Other data is
evaluated whole by default, or its own ``test`` split when it has one, and its labels are
matched to the run's classes by name (a subset of them is fine).

Errors are one line naming the problem and the step that fixes it.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass

from kerascon.data.class_mapping import map_class_names
from kerascon.data.dispatch import has_evaluation_split, load_source
from kerascon.data.holdout import HOLDOUT_SPLITS
from kerascon.data.image_headers import DEFAULT_MAX_IMAGE_PIXELS
from kerascon.data.splits import normalize_split
from kerascon.errors import DataError, Placeholder, Setting, Step
from kerascon.model.stages import STAGE_NAMES, STAGES
from kerascon.runs.config import TrainConfig
from kerascon.runs.directory import RunDirectory, RunError
from kerascon.runs.records import (
    first_stage_config,
    image_size_of,
    load_run_model,
    recorded_classes,
    stage_config,
)
from kerascon.runs.training import run_holdout

__all__ = ["EvalInputs", "resolve_inputs", "training_source"]


@dataclass
class EvalInputs:
    """A loaded run model and the data source it is evaluated on.

    ``mode`` is ``"frozen"`` (linear classifier on the frozen encoder), the stage of a
    run's own classifier (``"ce"``, ``"joint"``) or ``"encoder"`` (no classifier: kNN only).
    ``scope`` says which images are evaluated (``"all 200 images of DIR"``, ``"the run's
    held-out 10% of DIR: 20 images"``). ``class_match`` is ``"name"`` when the data's labels
    were matched to the run's classes by name, ``"index"`` when they could only be taken as
    the run's label indices; ``evaluated_classes`` lists the data's classes when they are a
    subset of the run's; ``notes`` are lines that say so.
    """

    run: RunDirectory
    model: object
    source: object
    data: str
    data_dir: str | None
    split: str | None
    image_size: int
    mode: str
    recorded: TrainConfig | None
    other_data: bool
    scope: str = ""
    class_match: str = "name"
    evaluated_classes: tuple | None = None
    notes: tuple = ()

    @property
    def name(self) -> str:
        """File name stem under RUN/evaluations, e.g. ``frozen-test``."""
        parts = [self.mode]
        if self.other_data:
            stem = os.path.splitext(os.path.basename(str(self.data).rstrip("/\\")))[0]
            parts.append(re.sub(r"[^a-z0-9_.]+", "_", stem.lower()).strip("_.") or "data")
        parts.append(self.split or "all")
        return "-".join(parts)


def _train_linear(run: RunDirectory) -> Step:
    return Step("train", (Setting("stage", "linear"), Setting("run_dir", str(run.path))))


def _own_classifier(stage: str) -> bool:
    """A stage that trains the encoder and a classifier together (ce, joint)."""
    return STAGES[stage].has_classifier and STAGES[stage].trains_encoder


def _check_classifier(run: RunDirectory, model, frozen: bool, needs_classifier: bool) -> str:
    """The evaluation mode; a RunError when the model cannot be evaluated that way."""
    if frozen and STAGES[model.stage].trains_encoder:
        raise RunError(f"run {run.path} is at the {model.stage!r} stage, not 'linear'; run "
                       "{0} first, or drop {1}", _train_linear(run), Setting("frozen", True))
    if not needs_classifier:  # kNN alone: the classifier is evaluated when there is one
        if frozen or _own_classifier(model.stage):
            return "frozen" if frozen else model.stage
        return "encoder"
    if model.classifier is None:
        raise RunError(f"run {run.path} has no classifier yet; train it with {{0}}, or evaluate "
                       "its encoder with {1} alone", _train_linear(run), Setting("knn", True))
    if not frozen and not _own_classifier(model.stage):
        raise RunError(f"run {run.path} is at the {model.stage!r} stage, which trains no "
                       "classifier of its own; evaluate it with {0} (after {1}), or its encoder "
                       "with {2} alone", Setting("frozen", True), _train_linear(run),
                       Setting("knn", True))
    return "frozen" if frozen else model.stage


def resolve_inputs(run_dir, data: str | None = None, *, split: str | None = "recorded",
                   data_dir=None, frozen: bool = False, skip_corrupt: bool | None = None,
                   image_size: int | None = None, needs_classifier: bool = True) -> EvalInputs:
    """Load a run's model and open the split to evaluate it on.

    Example:
        >>> inputs = resolve_inputs("runs/digits", frozen=True)
        >>> inputs.name, inputs.source.num_examples
        ('frozen-test', 359)
    """
    run = RunDirectory(run_dir)
    model = load_run_model(run)
    mode = _check_classifier(run, model, frozen, needs_classifier)
    recorded = None
    for stage in (model.stage, *STAGE_NAMES[::-1]):
        recorded = recorded or stage_config(run.path, stage)
    other_data = data is not None and (recorded is None or not _same_data(recorded.data, data))
    if data is not None and not other_data:
        data = recorded.data  # as recorded (the hold-out record names it so)
    if data is None:
        if recorded is None:
            raise RunError(f"run {run.path} records no data (no stages/*/config.yaml); "
                           "pass {0} or {1}", Setting("data", Placeholder("PATH")),
                           Setting("data", Placeholder("NAME")))
        data, data_dir = recorded.data, data_dir or recorded.data_dir
    if split == "recorded":
        if not other_data and recorded is not None and recorded.eval_split is None:
            raise RunError(
                f"run {run.path} was trained with {{0}}, so it has no evaluation split; pass "
                "{1}, or {2} {3} for held-out images", Setting("eval_split", None),
                Setting("split", Placeholder("SPLIT")), Setting("data", Placeholder("PATH")),
                Setting("split", None))
        # Other data is evaluated whole, unless it has an evaluation split of its own.
        split = ("test" if has_evaluation_split(data) else None) if other_data \
            else recorded.eval_split
    if skip_corrupt is None:
        skip_corrupt = bool(recorded and recorded.skip_corrupt)
    source = load_source(data, split=split, data_dir=data_dir, skip_corrupt=skip_corrupt,
                         holdout=run_holdout(run.path, data),
                         max_image_pixels=recorded.max_image_pixels if recorded else DEFAULT_MAX_IMAGE_PIXELS)
    matched = _match_classes(run, model, mode, source) if other_data else {}
    source = matched.get("source", source)
    if model.num_classes is not None and source.num_classes > model.num_classes:
        raise DataError(f"dataset {source.name!r} has {source.num_classes} classes but the "
                         f"classifier has {model.num_classes}; evaluate on the same label set")
    return EvalInputs(run=run, model=model, source=source, data=data, data_dir=data_dir,
                      split=split, image_size=image_size or image_size_of(run), mode=mode,
                      recorded=recorded, other_data=other_data,
                      scope=_scope(source, data, split, other_data),
                      class_match=matched.get("class_match", "name"),
                      evaluated_classes=matched.get("evaluated_classes"),
                      notes=tuple(matched.get("notes", ())))


def _same_data(recorded, data) -> bool:
    """Whether ``data`` names the recorded data (paths compared as absolute paths)."""
    def where(value):
        expanded = os.path.expanduser(str(value))
        return os.path.abspath(expanded) if os.path.exists(expanded) else str(value)

    return recorded is not None and where(recorded) == where(data)


def _scope(source, data, split, other_data: bool) -> str:
    """Which images are evaluated, in words."""
    count = f"{source.num_examples} images"
    split = normalize_split(split)
    if source.holdout is not None and split in HOLDOUT_SPLITS:
        whose = "a" if other_data else "the run's"
        return f"{whose} held-out {source.holdout.percent} of {data}: {count}"
    if split is None:
        return f"all {count} of {data}"
    return f"the {split} split of {data}: {count}"


def _classes_stage(run: RunDirectory, model, mode: str) -> str:
    """The stage whose classes the evaluated outputs are numbered by."""
    if mode == "frozen":
        return "linear"
    if mode != "encoder":
        return model.stage
    config = first_stage_config(run.path)
    return config.stage if config is not None else model.stage


def _run_classes(run: RunDirectory, stage: str):
    """``(class names or None, why there are none)``: recorded, or for a run trained before
    runs recorded them, read from the stage's training data."""
    record = recorded_classes(run.path, stage)
    if record is not None:
        if not record["named"]:
            return None, (f"the run's training data ({record['dataset']}) named no classes")
        return record["class_names"], ""
    config = stage_config(run.path, stage) or first_stage_config(run.path)
    if config is None or config.data is None:
        return None, "the run records no class names and no training data"
    try:
        train = load_source(config.data, split=config.split, data_dir=config.data_dir,
                            skip_corrupt=True, holdout=run_holdout(run.path, config.data),
                            max_image_pixels=config.max_image_pixels)
    except (OSError, ValueError, RuntimeError):
        return None, (f"the run records no class names and its training data "
                      f"({config.data}) cannot be opened")
    if not train.named_classes:
        return None, f"the run's training data ({train.name}) named no classes"
    return list(train.class_names), ""


def _match_classes(run: RunDirectory, model, mode: str, source) -> dict:
    """The evaluated source with its labels numbered by the run's classes, by name."""
    run_names, why = _run_classes(run, _classes_stage(run, model, mode))
    if not source.named_classes or run_names is None:
        reason = why if run_names is None else f"{source.name} names no classes"
        if run_names is not None and source.num_classes <= len(run_names):
            source = dataclasses.replace(source, num_classes=len(run_names),
                                         class_names=tuple(run_names))
        return {"source": source, "class_match": "index",
                "notes": [f"{reason}: its labels are taken as the run's class indices"]}
    mapped = map_class_names(source, run_names, owner="the run's")
    result = {"source": mapped, "class_match": "name", "notes": []}
    if len(source.class_names) < len(run_names):
        result["evaluated_classes"] = tuple(source.class_names)
        result["notes"] = [f"evaluating {len(source.class_names)} of the run's "
                           f"{len(run_names)} classes: {', '.join(source.class_names)}"]
    return result


def training_source(inputs: EvalInputs):
    """The split the run was trained on (for kNN), with the evaluated split's classes.

    Example:
        >>> train = training_source(resolve_inputs("runs/digits", frozen=True))
        >>> train.name
        'digits:train'
    """
    run = inputs.run
    config = first_stage_config(run.path)
    if config is None or config.data is None:
        raise RunError(f"run {run.path} records no training data (no stages/<stage>/config.yaml "
                       "of its first stage), so kNN has no neighbours; drop {0}",
                       Setting("knn", True))
    try:
        train = load_source(config.data, split=config.split, data_dir=config.data_dir,
                            skip_corrupt=config.skip_corrupt, holdout=run_holdout(run.path, config.data),
                            max_image_pixels=config.max_image_pixels)
    except (OSError, ValueError, RuntimeError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise RunError(f"{{0}} needs the training data of run {run.path} ({config.data!r}, split "
                       f"{config.split or 'none'}), which cannot be opened ({reason.split(';')[0]})"
                       "; restore that data at its recorded path, or drop {0}",
                       Setting("knn", True)) from error
    if tuple(train.class_names) != tuple(inputs.source.class_names):
        raise DataError(f"the classes of {inputs.source.name!r} differ from those of the run's "
                        f"training data {train.name!r}; kNN needs the same label set: evaluate "
                        "on data with the training classes, or drop {0}", Setting("knn", True))
    return train
