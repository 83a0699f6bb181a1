"""What an evaluation of a run reads: its model, the evaluated split and its training data.

Without ``data`` the run is evaluated on the data it was trained on; ``split="recorded"``
is its recorded ``eval_split``.

Errors are one line naming the problem and the step that fixes it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from kerascon.data.dispatch import load_source
from kerascon.data.image_headers import DEFAULT_MAX_IMAGE_PIXELS
from kerascon.errors import DataError, Placeholder, Setting, Step
from kerascon.runs.config import TrainConfig
from kerascon.runs.directory import RunDirectory, RunError
from kerascon.runs.records import first_stage_config, image_size_of, load_run_model, stage_config
from kerascon.runs.training import run_holdout
from kerascon.stages import STAGE_NAMES, STAGES

__all__ = ["EvalInputs", "resolve_inputs", "training_source"]


@dataclass
class EvalInputs:
    """A loaded run model and the data source it is evaluated on.

    ``mode`` is ``"frozen"`` (linear classifier on the frozen encoder), the stage of a
    run's own classifier (``"ce"``, ``"joint"``) or ``"encoder"`` (no classifier: kNN only).
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
    other_data = data is not None and (recorded is None or recorded.data != data)
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
        split = "test" if other_data else recorded.eval_split
    if skip_corrupt is None:
        skip_corrupt = bool(recorded and recorded.skip_corrupt)
    source = load_source(data, split=split, data_dir=data_dir, skip_corrupt=skip_corrupt,
                         holdout=run_holdout(run.path, data),
                         max_image_pixels=recorded.max_image_pixels if recorded else DEFAULT_MAX_IMAGE_PIXELS)
    if model.num_classes is not None and source.num_classes > model.num_classes:
        raise DataError(f"dataset {source.name!r} has {source.num_classes} classes but the "
                         f"classifier has {model.num_classes}; evaluate on the same label set")
    return EvalInputs(run=run, model=model, source=source, data=data, data_dir=data_dir,
                      split=split, image_size=image_size or image_size_of(run), mode=mode,
                      recorded=recorded, other_data=other_data)


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
