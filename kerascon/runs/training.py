"""Run one training stage into a run directory: data, model, optimizer, checkpoints.

The command line's training calls this; notebooks can call it too, or use
:class:`~kerascon.model.SupConModel` and :mod:`kerascon.data` directly.

Example:
    >>> config = TrainConfig(stage="contrastive", arch="resnet18", data="digits", epochs=5)
    >>> run_stage(config, "runs/digits")
    >>> run_stage(config.replace(stage="linear", epochs=5, lr=0.1), "runs/digits")
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Iterable, NamedTuple, Optional

import keras

from kerascon._utils.atomic_files import atomic_path, atomic_write_json, atomic_write_text
from kerascon.data.dispatch import load_source, split_folders
from kerascon.data.holdout import TRAIN_SPLIT, HoldOut
from kerascon.data.pipeline import batches_per_epoch, multiview_dataset, single_view_dataset
from kerascon.distribute import is_chief, resolve_strategy
from kerascon.errors import ConfigError, DataError, Placeholder, Setting, Step
from kerascon.model.saving import load_model
from kerascon.model.stages import STAGES
from kerascon.model.supcon_model import SupConModel
from kerascon.optimizers import WarmupCosineDecay, build_optimizer
from kerascon.ownership import (
    OwnershipError,
    folder_contents,
    is_kerascon_entry,
    write_run_marker,
)
from kerascon.runs.checkpoints import EpochCheckpoint
from kerascon.runs.config import HEAD_FIELDS, LINEAR_STAGE_DEFAULTS, TrainConfig
from kerascon.runs.directory import RunDirectory, RunError
from kerascon.runs.guards import TrainingGuard, stop_requests
from kerascon.runs.lost_worker import lost_worker_report
from kerascon.runs.pretrained_encoders import (
    build_pretrained_model,
    pretrained_run,
    pretrained_values,
    recorded_model_values,
)
from kerascon.runs.records import CLASSES_FILE, classifier_classes, first_stage, first_stage_config, stage_config

__all__ = ["HOLDOUT_FILE", "eval_dataset", "resolve_config", "run_holdout", "run_stage"]

#: Where a stage records its hold-out (data without splits): ``stages/<stage>/holdout.json``.
HOLDOUT_FILE = "holdout.json"


# ----------------------------------------------------------------------------- data

def _check_classes(source, config: TrainConfig) -> None:
    if source.num_classes < 2:
        names = f" ({source.class_names[0]!r})" if source.class_names else ""
        split = f" ({config.split} split)" if config.split else ""
        what = "supervised contrastive learning and classifiers need" \
            if config.stage != "linear" else "a classifier needs"
        raise DataError(f"data '{config.data}'{split} has only one class{names}; {what} at "
                        "least 2: add one subfolder per class (or more labels) to the data")


def run_holdout(run_dir, data) -> Optional[HoldOut]:
    """The hold-out a run recorded for ``data`` (``stages/<first stage>/holdout.json``), if any.

    Data without splits of its own is split by a seeded, stratified hold-out; the run's first
    stage records the held-out files (or indices), and later stages and evaluations of the
    same data use exactly those.

    Example:
        >>> holdout = run_holdout("runs/flowers", "/data/flowers")
        >>> holdout.fraction, len(holdout.held_out)
        (0.1, 36)
    """
    run = RunDirectory(run_dir)
    name = first_stage(run.path)
    path = run.stage_dir(name) / HOLDOUT_FILE if name else None
    if path is not None and path.is_file():
        record = json.loads(path.read_text())
        return HoldOut.from_dict(record) if record.get("data") == data else None
    return None


def _holdout(config: TrainConfig, run: RunDirectory, reuse: bool) -> HoldOut:
    """The run's recorded hold-out (later stages, resuming) or a new draw."""
    recorded = run_holdout(run.path, config.data) if reuse else None
    if recorded is None:
        return HoldOut(config.val_fraction, config.seed)
    if abs(recorded.fraction - config.val_fraction) > 1e-9:
        raise ConfigError(f"run {run.path} holds out {recorded.percent} of its data for evaluation and "
                          f"its later stages use the same files; drop {{0}} or set {{1}}",
                          Setting("val_fraction"), Setting("val_fraction", recorded.fraction))
    return recorded


def _sources(config: TrainConfig, holdout: HoldOut):
    train = load_source(config.data, split=config.split, data_dir=config.data_dir,
                        skip_corrupt=config.skip_corrupt, holdout=holdout,
                        max_image_pixels=config.max_image_pixels)
    _check_classes(train, config)
    evaluation = None
    parts = split_folders(config.data) if config.eval_split and config.split is None else ()
    if parts:
        raise DataError(f"{{0}} trains on all images of '{config.data}' "
                        f"({', '.join(p + '/' for p in parts)} together), so its "
                        f"{config.eval_split!r} split would evaluate training images; set {{1}} "
                        "(and keep the evaluation split), or {2}", Setting("split", None),
                        Setting("split", TRAIN_SPLIT), Setting("eval_split", None))
    if config.eval_split:
        evaluation = load_source(config.data, split=config.eval_split, data_dir=config.data_dir,
                                 skip_corrupt=config.skip_corrupt, setting="eval_split",
                                 holdout=holdout, max_image_pixels=config.max_image_pixels)
        if train.holdout is None and evaluation.holdout is not None:
            raise DataError(f"the {config.eval_split!r} split of '{config.data}' would be held out of "
                            f"the images the {config.split or 'whole'!r} split trains on; set {{0}} "
                            "(train on a seeded share, evaluate on the rest) or {1}",
                            Setting("split", "train"), Setting("eval_split", None))
        if evaluation.class_names != train.class_names:
            differing = sorted(set(train.class_names) ^ set(evaluation.class_names))
            raise DataError(
                f"the classes of the {config.eval_split!r} split differ from those of the "
                f"{config.split!r} split ({', '.join(differing[:4]) or 'order'}); give both the "
                "same class folders, or set {0}", Setting("eval_split", None))
    return train, evaluation


def _train_dataset(config: TrainConfig, source):
    if STAGES[config.stage].multiview:
        return multiview_dataset(
            source, views=config.views, batch_size=config.batch_size, augment=config.augment,
            image_size=config.image_size, shuffle=True, seed=config.seed,
            crop_scale=config.crop_scale, drop_remainder=True,
        )
    return single_view_dataset(
        source, batch_size=config.batch_size, image_size=config.image_size, augment=config.augment,
        shuffle=True, seed=config.seed, crop_scale=config.crop_scale, drop_remainder=True,
    )


def _steps_per_epoch(config: TrainConfig, source) -> int:
    """``config.steps_per_epoch``, else the source's examples // batch size (remainder dropped).

    Steps never come from the dataset's cardinality, which TensorFlow cannot always compute;
    a source with fewer examples than one batch is refused either way (no whole batch).
    """
    steps = batches_per_epoch(source.num_examples, config.batch_size)
    if steps < 1:
        raise DataError(
            f"dataset {source.name!r} has fewer examples ({source.num_examples}) "
            f"than one batch of {config.batch_size}; lower {{0}}", Setting("batch_size"))
    return config.steps_per_epoch or steps


def _check_dataset_length(dataset, source, batch_size: int) -> None:
    """The training dataset yields ``examples // batch_size`` batches, as the steps assume."""
    expected = batches_per_epoch(source.num_examples, batch_size)
    actual = int(dataset.cardinality())
    if actual != expected:
        raise RuntimeError(f"internal error: the training dataset of {source.name!r} has cardinality "
                           f"{actual}, not {expected} ({source.num_examples} examples // batch "
                           f"{batch_size}); please report this")


def eval_dataset(source, image_size: int, batch_size: int = 256):
    return single_view_dataset(source, batch_size=batch_size, image_size=image_size)


def _schedule(config: TrainConfig, steps_per_epoch: int) -> WarmupCosineDecay:
    return WarmupCosineDecay(
        base_learning_rate=config.lr,
        warmup_steps=config.warmup_epochs * steps_per_epoch,
        total_steps=config.epochs * steps_per_epoch,
    )


def _per_feature_learning_rate(config: TrainConfig, model) -> TrainConfig:
    """``lr = lr_per_feature / feature_dim`` when the stage scales it (the linear probe).

    On normalised features a classifier's step on the logits grows with the number of
    features, so one rate per feature suits encoders of any width (BENCHMARKS.md).
    """
    if not config.lr_per_feature:
        return config
    return config.replace(lr=float(config.lr_per_feature) / int(model.feature_dim))


def _optimizer(config: TrainConfig, steps_per_epoch: int):
    return build_optimizer(config.optimizer, _schedule(config, steps_per_epoch),
                           momentum=config.momentum, weight_decay=config.weight_decay)


def _apply_learning_rate(optimizer, schedule: WarmupCosineDecay) -> None:
    """Give a resumed optimizer the schedule of the current configuration.

    The checkpoint holds the schedule the stage started with; ``lr`` and ``epochs`` given
    at resume apply instead. When the base learning rate changes (typically lowered
    after a NaN loss), the momentum buffers are zeroed: they hold steps scaled by the old
    rate, and a diverging run's buffers would carry the divergence over.
    """
    old = optimizer.learning_rate
    old_base = old.base_learning_rate if isinstance(old, WarmupCosineDecay) else None
    if old_base != schedule.base_learning_rate:
        for variable in optimizer.variables:
            if variable is not optimizer.iterations:
                variable.assign(keras.ops.zeros(variable.shape, variable.dtype))
    optimizer.learning_rate = schedule


def _fit_phases(start_epoch: int, start_step: int, epochs: int, steps: int):
    """``(initial_epoch, epochs, steps_per_epoch or None, step_offset)`` for each fit call.

    A stage resumed in the middle of an epoch first finishes that epoch's remaining steps,
    then trains the remaining epochs in full.
    """
    phases = []
    if start_step and start_epoch < epochs:
        phases.append((start_epoch, start_epoch + 1, steps - start_step, start_step))
        start_epoch += 1
    if start_epoch < epochs:
        phases.append((start_epoch, epochs, None, 0))
    return phases


def _new_model(config: TrainConfig, num_classes: int, steps_per_epoch: int = 1) -> SupConModel:
    keras.utils.set_random_seed(config.seed)
    options = config.model_kwargs(steps_per_epoch)
    if config.pretrained:
        from kerascon.layers.core import synchronize_batch_norm

        # Architecture, preprocessing and head come from the pretrained entry or run.
        options = {key: value for key, value in options.items() if key not in HEAD_FIELDS}
        model = build_pretrained_model(config.pretrained, num_classes=num_classes, **options)
        if config.sync_batch_norm:
            synchronize_batch_norm(model.encoder)
        return model
    return SupConModel.from_architecture(config.arch, num_classes=num_classes,
                                         **config.encoder_kwargs(), **options)


# ----------------------------------------------------------------------------- configuration


# Keys a linear stage inherits from the run it evaluates (same data, same images).
_INHERITED_BY_LINEAR = ("data", "data_dir", "split", "eval_split", "image_size", "arch", "stem",
                        "width_multiplier", "mean", "std", "seed", "strategy", "batch_size",
                        "skip_corrupt", "val_fraction", "max_image_pixels")


def resolve_config(stage: Optional[str] = None, run_dir=None, overrides: Optional[dict] = None,
                   config_file=None, *, resume: bool = False) -> TrainConfig:
    """The configuration of a stage, from lowest to highest precedence:

    the stage's recorded ``config.yaml`` (``resume=True``) or, for a new ``linear`` stage,
    what it inherits from the run's first stage plus the linear defaults; then the YAML
    ``config_file``; then ``overrides`` (``None`` values mean "not given"). Without a
    ``stage``, ``resume=True`` continues the run's unfinished stage; the default is
    contrastive.
    """
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    file_values = TrainConfig.read_yaml(config_file) if config_file else {}
    for values in (file_values, overrides):
        # Record where the data is, not where it was seen from: later stages and
        # evaluations may run from another directory.
        for key in ("data", "data_dir"):
            value = values.get(key)
            if isinstance(value, str) and os.path.exists(os.path.expanduser(value)):
                values[key] = os.path.abspath(os.path.expanduser(value))
    run = RunDirectory(run_dir) if run_dir else None
    stage = (stage or overrides.get("stage") or file_values.get("stage")
             or (run.unfinished_stage() if resume and run else None) or "contrastive")
    base = {}
    recorded = stage_config(run.path, stage) if resume and run else None
    pretrained = (file_values.get("pretrained") or overrides.get("pretrained")) \
        if recorded is None else None
    if recorded is not None:
        base = recorded.to_dict()
    elif not STAGES[stage].starts_run:
        if run is not None and not pretrained:  # a linear stage on a run's encoder
            base = _inherited_by_linear(run)
        base.update(LINEAR_STAGE_DEFAULTS)
    values = {**base, **file_values, **overrides, "stage": stage}
    if "lr" in file_values or "lr" in overrides:
        values["lr_per_feature"] = None  # a learning rate given by the user is taken as it is
    if pretrained:
        values = pretrained_values(values, given=set(file_values) | set(overrides))
    return TrainConfig.from_dict(values)


def _inherited_by_linear(run: RunDirectory) -> dict:
    """What a new linear stage takes from the run it evaluates (same data, same images)."""
    parent = first_stage_config(run.path)
    if parent is None:
        return {}
    if not STAGES[parent.stage].starts_run:  # the run's own first stage is a linear one
        raise RunError(f"run {run.path} was started by a linear stage on the frozen encoder of "
                       f"{parent.pretrained}, and has no other encoder; train it again with {{0}}",
                       Step("train", (Setting("stage", "linear"),
                                      Setting("pretrained", parent.pretrained),
                                      Setting("output_dir", str(run.path)),
                                      Setting("overwrite", True))))
    return {key: getattr(parent, key) for key in _INHERITED_BY_LINEAR}


# ----------------------------------------------------------------------------- training

def _data_paths(config: TrainConfig) -> tuple:
    """The paths training reads (a data folder or file, a data directory), to protect them."""
    return tuple(str(value) for value in (config.data, config.data_dir) if value)


def _prepare_run(run: RunDirectory, config: TrainConfig, resume: bool, overwrite: bool):
    if config.starts_run and not resume:
        if not run.is_empty():
            run.require_new_run(_data_paths(config), overwrite=overwrite)
            shutil.rmtree(run.path)
    if config.starts_run and run.is_empty():
        write_run_marker(run.path)  # a new run: before anything else goes into it
    run.remove_temporaries()  # left behind by a writer that was killed
    stage_dir = run.stage_dir(config.stage)
    if not resume and stage_dir.exists():
        shutil.rmtree(stage_dir)
    stage_dir.mkdir(parents=True, exist_ok=True)


def _check_label_set(source, config: TrainConfig, run: RunDirectory) -> None:
    """A run's classifier serves its own classes; other data needs a new run on its encoder."""
    classes = classifier_classes(run.path)
    if classes is None or classes == source.num_classes:
        return
    raise RunError(f"run {run.path} has a classifier for {classes} classes and "
                   f"'{config.data}' has {source.num_classes}; train a new run on its encoder: "
                   "{0}", Step("train", (Setting("stage", "linear"),
                                         Setting("pretrained", str(run.path)),
                                         Setting("data", config.data),
                                         Setting("output_dir", Placeholder("NEW_RUN")))))


def _undo_failed_start(run: RunDirectory, stage: str, starts_run: bool, existed: bool) -> None:
    """Remove what a start that failed before its first checkpoint wrote.

    A stage that starts a run removes the run's files (kerascon's own entries only) and
    the folder itself when this call created it (a folder that existed, empty, stays); a
    later stage (linear) removes its stage folder. The same command then starts again.
    """
    if run.has_checkpoint(stage):
        return
    if not starts_run:
        shutil.rmtree(run.stage_dir(stage), ignore_errors=True)
        return
    for entry in list(run.path.iterdir()) if run.path.is_dir() else ():
        if is_kerascon_entry(entry.name):
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    if not existed:
        try:
            run.path.rmdir()
        except OSError:  # something else appeared in it meanwhile: left as it is
            pass


def _check_start(config: TrainConfig, run: RunDirectory, resume: bool, overwrite: bool,
                 chief: bool):
    """Everything that can fail on bad input, before the run directory is touched.

    Returns the stage's :class:`~kerascon.runs.directory.ResumePoint` (``None`` when it
    starts afresh).
    """
    starts_run = config.starts_run  # also a linear stage on a pretrained encoder
    if resume and config.stage in run.finished_stages():
        raise RunError(f"the {config.stage} stage of run {run.path} has finished, so there is "
                       "nothing to resume; train another stage without resuming (e.g. {0}), or "
                       "start again with {1}",
                       Step("train", (Setting("stage", "linear"), Setting("run_dir", str(run.path)))),
                       Step("train", (Setting("output_dir", str(run.path)),
                                      Setting("overwrite", True))))
    resume_state = run.resume_state(config.stage) if resume else None
    if resume and resume_state is None and not run.is_empty() and starts_run:
        if not run.is_run():
            raise OwnershipError(f"{run.path} is not a kerascon run (it holds "
                                 f"{folder_contents(run.path)}), so there is nothing to resume; "
                                 "start a new run in another {0}",
                                 Setting("output_dir", Placeholder("DIR")))
        raise RunError(f"run {run.path} has no checkpoint of the {config.stage} stage to resume; "
                       "drop {0}, or set {1} to start again",
                       Setting("resume", True), Setting("overwrite", True))
    if not starts_run:
        run.require_model(for_stage="linear")
    elif config.pretrained:
        pretrained_values(config.to_dict(), given=set())  # unknown names fail before any write
        if not resume and pretrained_run(config.pretrained) == run.path.resolve():
            raise RunError(f"run {run.path} cannot start from its own encoder: the new run "
                           "would replace the one it reads; choose another {0}",
                           Setting("output_dir"))
    else:
        from kerascon.encoders import get_architecture

        get_architecture(config.arch)
    if chief and starts_run and not resume:  # other workers may see the chief's files already
        # What a new run would delete: only a run, never the user's files.
        run.require_new_run(_data_paths(config), overwrite=overwrite)
    if not starts_run and not run.is_run():
        raise OwnershipError(f"{run.path} is not a kerascon run (it holds "
                             f"{folder_contents(run.path)}); pass the {{0}} of a training run",
                             Setting("output_dir"))
    return resume_state


def _record_stage(run: RunDirectory, config: TrainConfig, train_source) -> None:
    """The stage's files before training: its configuration, classes and hold-out."""
    atomic_write_text(run.stage_dir(config.stage) / "config.yaml", config.to_yaml())
    # The classes by name, in label order: evaluations match other data by name.
    atomic_write_json(run.stage_dir(config.stage) / CLASSES_FILE, {
        "class_names": [str(name) for name in train_source.class_names],
        "named": bool(train_source.named_classes), "dataset": train_source.name})
    if train_source.holdout is not None:  # which files went where, for later stages
        atomic_write_json(run.stage_dir(config.stage) / HOLDOUT_FILE, {
            "data": config.data, "train_dataset": train_source.name,
            "train_examples": train_source.num_examples, **train_source.holdout.to_dict()})


def _stage_model(config: TrainConfig, run: RunDirectory, resume_state, num_classes: int,
                 steps: int):
    """``(model, config, resume point)``: the checkpoint's model, or a new compiled one.

    ``config`` comes back with what the model fixes (the linear probe's learning rate per
    feature, a pretrained encoder's recorded values).
    """
    if resume_state is not None:
        model = load_model(resume_state.checkpoint)
        config = _per_feature_learning_rate(config, model)
        _apply_learning_rate(model.optimizer, _schedule(config, steps))
        return model, config
    if not config.starts_run:
        keras.utils.set_random_seed(config.seed)  # the new classifier's initialisation
        model = load_model(run.model_path)
        model.set_stage(config.stage, num_classes=num_classes)
    else:
        model = _new_model(config, num_classes, steps)
        if config.pretrained:  # the head is the pretrained one, or the entry's size
            config = config.replace(**recorded_model_values(model))
    config = _per_feature_learning_rate(config, model)
    model.compile(optimizer=_optimizer(config, steps))
    return model, config


def _fit(model, config: TrainConfig, run: RunDirectory, strategy, train_data, steps: int,
         resume_state, callbacks, chief: bool, verbose: int):
    """Train the remaining epochs with checkpoints, TensorBoard and the stop guards.

    Returns ``(history of the last fit call, the checkpointer)``.
    """
    initial_epoch, initial_step, epoch_logs = (resume_state[1:] if resume_state is not None
                                               else (0, 0, []))
    all_callbacks = list(callbacks)
    checkpointer = EpochCheckpoint(run, config.stage, history=epoch_logs,
                                   saved=(initial_epoch, initial_step) if resume_state else None)
    if chief:
        stage_dir = run.stage_dir(config.stage)
        checkpointer.write_csv()  # drops rows of epochs that never reached the checkpoint
        all_callbacks += [
            checkpointer,
            keras.callbacks.TensorBoard(log_dir=str(stage_dir / "logs"), write_graph=False),
        ]
    history = {}
    with stop_requests() as requests, lost_worker_report(strategy, run, config.stage):
        for first, last, phase_steps, offset in _fit_phases(initial_epoch, initial_step,
                                                            config.epochs, steps):
            guard = TrainingGuard(requests, checkpointer if chief else None, steps=steps,
                                  step_offset=offset, run_dir=run.path, stage=config.stage,
                                  batch_size=config.batch_size, lr=config.lr)
            history = model.fit(
                train_data, epochs=last, initial_epoch=first,
                steps_per_epoch=phase_steps or (steps if config.steps_per_epoch else None),
                callbacks=[guard, *all_callbacks], verbose=verbose, shuffle=False,
            ).history
    return history, checkpointer


class _StageData(NamedTuple):
    """What a stage trains and evaluates on."""

    train_source: object
    eval_source: object  # None without an evaluation split
    steps: int  # steps per epoch
    train_data: object  # the training tf.data.Dataset (repeated with steps_per_epoch)


def _stage_data(config: TrainConfig, run: RunDirectory, resume: bool, resume_state) -> _StageData:
    """The sources, steps per epoch and the training dataset (its length checked); a later
    stage's data must have the classes of the run's classifier."""
    holdout = _holdout(config, run, reuse=resume or not config.starts_run)
    train_source, eval_source = _sources(config, holdout)
    steps = _steps_per_epoch(config, train_source)
    train_data = _train_dataset(config, train_source)
    _check_dataset_length(train_data, train_source, config.batch_size)
    if config.steps_per_epoch:
        train_data = train_data.repeat()
    if not config.starts_run and resume_state is None:
        _check_label_set(train_source, config, run)
    return _StageData(train_source, eval_source, steps, train_data)


def _finish(model, config: TrainConfig, run: RunDirectory, chief: bool, history: dict,
            checkpointer, data: _StageData) -> dict:
    """The stage's final metrics; the chief saves the model and records them."""
    metrics = _final_metrics(model, config, history, checkpointer, data.train_source,
                             data.eval_source)
    if chief:
        with atomic_path(run.model_path, suffix=".keras") as tmp:
            model.save(tmp)
        run.write_stage_metrics(config.stage, metrics)
    return metrics


def _final_metrics(model, config: TrainConfig, history: dict, checkpointer, train_source,
                   eval_source) -> dict:
    """The last epoch's training logs, skipped images, and the evaluation split's metrics."""
    # A stage resumed after its last checkpoint trains no epoch: report that epoch's logs.
    last = {k: v[-1] for k, v in history.items()} or \
        (checkpointer.history[-1] if checkpointer.history else {})
    metrics = {f"train_{k}": float(v) for k, v in last.items()}
    metrics["epochs"] = config.epochs
    if config.skip_corrupt:
        skipped = set(train_source.skipped) | set(eval_source.skipped if eval_source else ())
        metrics["skipped_images"] = len(skipped)
    if eval_source is not None and eval_source.holdout is not None:
        metrics["held_out_examples"] = eval_source.num_examples
    if eval_source is not None and STAGES[config.stage].has_classifier:
        results = model.evaluate(eval_dataset(eval_source, config.image_size), verbose=0,
                                 return_dict=True)
        metrics.update({k: float(v) for k, v in results.items()})
    return metrics


def run_stage(
    config: TrainConfig,
    run_dir,
    *,
    resume: bool = False,
    overwrite: bool = False,
    callbacks: Iterable[keras.callbacks.Callback] = (),
    verbose: int = 0,
) -> dict:
    """Train ``config.stage`` into ``run_dir`` and return its final metrics.

    ``contrastive``, ``joint`` and ``ce`` start a new model; ``linear`` loads the run's
    model and trains the classifier on its frozen encoder. ``resume=True`` continues
    from the stage's last checkpoint (one is written atomically after every epoch, so a
    run killed at any moment loses at most the epoch in progress; SIGTERM or Ctrl-C
    checkpoints the current step and raises
    :class:`~kerascon.runs.guards.TrainingInterrupted`, and resuming continues from that
    step; the previous checkpoint is kept and used when the last one is corrupt). On resume
    the learning-rate schedule is rebuilt from ``config`` (so ``lr`` and ``epochs`` may be
    changed); optimizer state and step count come from the checkpoint. A NaN or infinite
    loss stops training with :class:`~kerascon.runs.guards.NonFiniteLossError`.
    The reported metrics are those of the final epoch, never the best one; with
    ``config.skip_corrupt`` they include ``skipped_images``, the unreadable files left out.
    A start that fails before its first checkpoint removes what it wrote.
    """
    run = RunDirectory(run_dir)
    chief = is_chief()
    # First: MultiWorkerMirroredStrategy must exist before TensorFlow runs any op.
    strategy = resolve_strategy(config.strategy)
    resume_state = _check_start(config, run, resume, overwrite, chief)
    data = _stage_data(config, run, resume, resume_state)
    # Until its first checkpoint a new run (or stage) is undone if anything fails, so the
    # same command can start again: no half-made run that blocks the retry.
    existed = run.path.is_dir() and run.is_empty()
    created = False
    try:
        if chief:
            _prepare_run(run, config, resume, overwrite)
            # This call starts the stage afresh: it wrote the run's marker or the stage folder.
            created = resume_state is None
            _record_stage(run, config, data.train_source)
        with strategy.scope():
            model, config = _stage_model(config, run, resume_state, data.train_source.num_classes,
                                         data.steps)
        if chief and (config.lr_per_feature or config.pretrained):  # what the stage really trains
            atomic_write_text(run.stage_dir(config.stage) / "config.yaml", config.to_yaml())
        history, checkpointer = _fit(model, config, run, strategy, data.train_data, data.steps,
                                     resume_state, callbacks, chief, verbose)
    except BaseException:
        if created:
            _undo_failed_start(run, config.stage, config.starts_run, existed)
        raise
    return _finish(model, config, run, chief, history, checkpointer, data)
