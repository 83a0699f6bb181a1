"""Run one training stage into a run directory: data, model, optimizer, checkpoints.

The command line's training calls this; notebooks can call it too, or use
:class:`~kerascon.model.SupConModel` and :mod:`kerascon.data` directly.

Example:
    >>> config = TrainConfig(stage="contrastive", arch="resnet18", data="digits", epochs=5)
    >>> run_stage(config, "runs/digits")
    >>> run_stage(config.replace(stage="linear", epochs=5, lr=0.1), "runs/digits")
"""

from __future__ import annotations

import os
import shutil
from typing import Iterable, Optional

import keras

from kerascon.atomic_files import atomic_path, atomic_write_text
from kerascon.data.dispatch import load_source
from kerascon.data.pipeline import multiview_dataset, single_view_dataset
from kerascon.distribute import is_chief, resolve_strategy
from kerascon.errors import DataError, Setting, Step
from kerascon.model import SupConModel
from kerascon.optimizers import WarmupCosineDecay, build_optimizer
from kerascon.runs.config import TrainConfig
from kerascon.runs.directory import EpochCheckpoint, RunDirectory, RunError
from kerascon.runs.records import first_stage_config, stage_config
from kerascon.stages import STAGES

__all__ = ["eval_dataset", "resolve_config", "run_stage"]


# ----------------------------------------------------------------------------- data

def _check_classes(source, config: TrainConfig) -> None:
    if source.num_classes < 2:
        names = f" ({source.class_names[0]!r})" if source.class_names else ""
        split = f" ({config.split} split)" if config.split else ""
        what = "supervised contrastive learning and classifiers need" \
            if config.stage != "linear" else "a classifier needs"
        raise DataError(f"data '{config.data}'{split} has only one class{names}; {what} at "
                        "least 2: add one subfolder per class (or more labels) to the data")


def _sources(config: TrainConfig):
    train = load_source(config.data, split=config.split, data_dir=config.data_dir,
                        skip_corrupt=config.skip_corrupt)
    _check_classes(train, config)
    evaluation = None
    if config.eval_split:
        evaluation = load_source(config.data, split=config.eval_split, data_dir=config.data_dir,
                                 skip_corrupt=config.skip_corrupt, setting="eval_split")
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


def eval_dataset(source, image_size: int, batch_size: int = 256):
    return single_view_dataset(source, batch_size=batch_size, image_size=image_size)


def _optimizer(config: TrainConfig, steps_per_epoch: int):
    total = config.epochs * steps_per_epoch
    schedule = WarmupCosineDecay(
        base_learning_rate=config.lr,
        warmup_steps=config.warmup_epochs * steps_per_epoch,
        total_steps=total,
    )
    return build_optimizer(config.optimizer, schedule, momentum=config.momentum,
                           weight_decay=config.weight_decay)


def _new_model(config: TrainConfig, num_classes: int) -> SupConModel:
    keras.utils.set_random_seed(config.seed)
    if config.pretrained:
        from kerascon.layers import synchronize_batch_norm
        from kerascon.zoo import load

        # Architecture, preprocessing and head come from the pretrained entry.
        model = load(config.pretrained, num_classes=num_classes, stage=config.stage,
                     temperature=config.temperature, base_temperature=config.base_temperature,
                     loss_variant=config.loss_variant, use_labels=config.loss == "supcon",
                     joint_weight=config.joint_weight)
        if config.sync_batch_norm:
            synchronize_batch_norm(model.encoder)
        return model
    return SupConModel.from_architecture(
        config.arch, num_classes=num_classes, stem=config.stem,
        width_multiplier=config.width_multiplier, mean=config.mean, std=config.std,
        stage=config.stage, projection_dim=config.projection_dim,
        projection_hidden_dim=config.projection_hidden_dim, head_type=config.head_type,
        temperature=config.temperature, base_temperature=config.base_temperature,
        loss_variant=config.loss_variant, use_labels=config.loss == "supcon",
        joint_weight=config.joint_weight, sync_batch_norm=config.sync_batch_norm,
    )


# ----------------------------------------------------------------------------- configuration

# Keys a linear stage inherits from the run it evaluates (same data, same images).
_INHERITED_BY_LINEAR = ("data", "data_dir", "split", "eval_split", "image_size", "arch", "stem",
                        "width_multiplier", "mean", "std", "seed", "strategy", "batch_size",
                        "skip_corrupt")
# The probe normalises its features (SupConModel.probe_norm), so one learning rate suits
# encoders of any feature scale (benchmarks/linear_probe_scales.py, BENCHMARKS.md).
_LINEAR_DEFAULTS = {"lr": 0.05, "optimizer": "sgd", "momentum": 0.9, "warmup_epochs": 0,
                    "epochs": 30, "weight_decay": 0.0, "augment": "flip_crop"}


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
    if recorded is not None:
        base = recorded.to_dict()
    elif not STAGES[stage].starts_run and run is not None:
        parent = first_stage_config(run.path)
        if parent is not None:
            base = {key: getattr(parent, key) for key in _INHERITED_BY_LINEAR}
        base.update(_LINEAR_DEFAULTS)
    return TrainConfig.from_dict({**base, **file_values, **overrides, "stage": stage})


# ----------------------------------------------------------------------------- training

def _check_new_run(run: RunDirectory):
    if not run.is_empty():
        raise RunError(
            f"run directory {run.path} already exists and is not empty; set {{0}} to "
            "continue it, {1} to replace it, or choose another {2}",
            Setting("resume", True), Setting("overwrite", True), Setting("output_dir"))


def _prepare_run(run: RunDirectory, config: TrainConfig, resume: bool, overwrite: bool):
    if STAGES[config.stage].starts_run and not resume and not run.is_empty():
        if not overwrite:
            _check_new_run(run)
        shutil.rmtree(run.path)
    run.remove_temporaries()  # left behind by a writer that was killed
    stage_dir = run.stage_dir(config.stage)
    if not resume and stage_dir.exists():
        shutil.rmtree(stage_dir)
    stage_dir.mkdir(parents=True, exist_ok=True)


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
    run killed at any moment loses at most the epoch in progress).
    The reported metrics are those of the final epoch, never the best one; with
    ``config.skip_corrupt`` they include ``skipped_images``, the unreadable files left out.
    """
    run = RunDirectory(run_dir)
    chief = is_chief()
    # First: MultiWorkerMirroredStrategy must exist before TensorFlow runs any op.
    strategy = resolve_strategy(config.strategy)
    # Everything that can fail on bad input is checked before the run directory is touched.
    stage = STAGES[config.stage]
    if resume and config.stage in run.finished_stages():
        raise RunError(f"the {config.stage} stage of run {run.path} has finished, so there is "
                       "nothing to resume; train another stage without resuming (e.g. {0}), or "
                       "start again with {1}",
                       Step("train", (Setting("stage", "linear"), Setting("run_dir", str(run.path)))),
                       Step("train", (Setting("output_dir", str(run.path)),
                                      Setting("overwrite", True))))
    resume_state = run.resume_state(config.stage) if resume else None
    if resume and resume_state is None and not run.is_empty() and stage.starts_run:
        raise RunError(f"run {run.path} has no checkpoint of the {config.stage} stage to resume; "
                       "drop {0}, or set {1} to start again",
                       Setting("resume", True), Setting("overwrite", True))
    if not stage.starts_run:
        run.require_model(for_stage="linear")
    elif config.pretrained:
        from kerascon.zoo import get_pretrained

        get_pretrained(config.pretrained)  # unknown names fail before anything is written
    else:
        from kerascon.encoders import get_architecture

        get_architecture(config.arch)
    if chief and stage.starts_run and not resume and not overwrite:
        _check_new_run(run)  # other workers may see the chief's files already
    train_source, eval_source = _sources(config)
    train_data = _train_dataset(config, train_source)
    steps = config.steps_per_epoch or int(train_data.cardinality())
    if steps < 1:
        raise DataError(
            f"dataset {train_source.name!r} has fewer examples ({train_source.num_examples}) "
            f"than one batch of {config.batch_size}; lower {{0}}", Setting("batch_size"))
    if config.steps_per_epoch:
        train_data = train_data.repeat()
    if chief:
        _prepare_run(run, config, resume, overwrite)
        atomic_write_text(run.stage_dir(config.stage) / "config.yaml", config.to_yaml())

    initial_epoch, epoch_logs = 0, []
    with strategy.scope():
        if resume_state is not None:
            checkpoint, initial_epoch, epoch_logs = resume_state
            model = keras.saving.load_model(checkpoint)
        else:
            if not stage.starts_run:
                model = keras.saving.load_model(run.model_path)
                model.set_stage(config.stage, num_classes=train_source.num_classes)
            else:
                model = _new_model(config, train_source.num_classes)
            model.compile(optimizer=_optimizer(config, steps))

    all_callbacks = list(callbacks)
    checkpointer = EpochCheckpoint(run, config.stage, history=epoch_logs)
    if chief:
        stage_dir = run.stage_dir(config.stage)
        checkpointer.write_csv()  # drops rows of epochs that never reached the checkpoint
        all_callbacks += [
            checkpointer,
            keras.callbacks.TensorBoard(log_dir=str(stage_dir / "logs"), write_graph=False),
        ]
    history = {}
    if initial_epoch < config.epochs:
        history = model.fit(
            train_data, epochs=config.epochs, initial_epoch=initial_epoch,
            steps_per_epoch=steps if config.steps_per_epoch else None,
            callbacks=all_callbacks, verbose=verbose, shuffle=False,
        ).history
    # A stage resumed after its last checkpoint trains no epoch: report that epoch's logs.
    last = {k: v[-1] for k, v in history.items()} or \
        (checkpointer.history[-1] if checkpointer.history else {})
    metrics = {f"train_{k}": float(v) for k, v in last.items()}
    metrics["epochs"] = config.epochs
    if config.skip_corrupt:
        skipped = set(train_source.skipped) | set(eval_source.skipped if eval_source else ())
        metrics["skipped_images"] = len(skipped)
    if eval_source is not None and stage.has_classifier:
        results = model.evaluate(eval_dataset(eval_source, config.image_size), verbose=0,
                                 return_dict=True)
        metrics.update({k: float(v) for k, v in results.items()})
    if chief:
        with atomic_path(run.model_path, suffix=".keras") as tmp:
            model.save(tmp)
        run.write_stage_metrics(config.stage, metrics)
    return metrics
