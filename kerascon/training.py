"""Run one training stage into a run directory: data, model, optimizer, checkpoints.

This is what ``kerascon train`` calls; notebooks can call it too, or use
:class:`~kerascon.model.SupConModel` and :mod:`kerascon.data` directly.

Example:
    >>> config = TrainConfig(stage="contrastive", arch="resnet18", data="digits", epochs=5)
    >>> run_stage(config, "runs/digits")
    >>> run_stage(config.replace(stage="linear", epochs=5, lr=0.1), "runs/digits")
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterable, Optional

import keras

from kerascon.config import TrainConfig
from kerascon.data import load_source, multiview_dataset, single_view_dataset
from kerascon.distribute import is_chief, resolve_strategy
from kerascon.io import atomic_path, atomic_write_text
from kerascon.model import SupConModel
from kerascon.optimizers import WarmupCosineDecay, build_optimizer
from kerascon.runs import EpochCheckpoint, RunDirectory, RunError

__all__ = ["run_stage", "evaluate_run", "load_run_model"]

_NEW_MODEL_STAGES = ("contrastive", "joint", "ce")


def _sources(config: TrainConfig):
    train = load_source(config.data, split=config.split, data_dir=config.data_dir)
    evaluation = None
    if config.eval_split:
        evaluation = load_source(config.data, split=config.eval_split, data_dir=config.data_dir)
    return train, evaluation


def _train_dataset(config: TrainConfig, source):
    if config.stage in ("contrastive", "joint"):
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
    return SupConModel.from_architecture(
        config.arch, num_classes=num_classes, stem=config.stem,
        width_multiplier=config.width_multiplier, mean=config.mean, std=config.std,
        stage=config.stage, projection_dim=config.projection_dim,
        projection_hidden_dim=config.projection_hidden_dim, head_type=config.head_type,
        temperature=config.temperature, base_temperature=config.base_temperature,
        loss_variant=config.loss_variant, use_labels=config.loss == "supcon",
        joint_weight=config.joint_weight,
    )


def load_run_model(run) -> SupConModel:
    """Load the model of a finished stage from a run directory."""
    path = RunDirectory(run).require_model()
    return keras.saving.load_model(path)


def _prepare_run(run: RunDirectory, config: TrainConfig, resume: bool, overwrite: bool):
    if config.stage in _NEW_MODEL_STAGES and not resume and not run.is_empty():
        if not overwrite:
            raise RunError(
                f"run directory {run.path} already exists and is not empty; pass --resume to "
                "continue it, --overwrite to replace it, or choose another --output"
            )
        shutil.rmtree(run.path)
    if config.stage == "linear":
        run.require_model()
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
    from the stage's last checkpoint (one is written atomically after every epoch).
    The reported metrics are those of the final epoch, never the best one.
    """
    run = RunDirectory(run_dir)
    chief = is_chief()
    resume_state = run.resume_state(config.stage) if resume else None
    if resume and resume_state is None and not run.is_empty() and config.stage != "linear":
        raise RunError(f"run {run.path} has no checkpoint of the {config.stage} stage to resume; "
                       "drop --resume, or pass --overwrite to start again")
    # Everything that can fail on bad input is checked before the run directory is touched.
    if config.stage != "linear":
        from kerascon.zoo import get_architecture

        get_architecture(config.arch)
    train_source, eval_source = _sources(config)
    if chief:
        _prepare_run(run, config, resume, overwrite)
        atomic_write_text(run.stage_dir(config.stage) / "config.yaml", config.to_yaml())
    train_data = _train_dataset(config, train_source)
    steps = config.steps_per_epoch or int(train_data.cardinality())
    if steps < 1:
        raise ValueError(
            f"dataset {train_source.name!r} has fewer examples ({train_source.num_examples}) "
            f"than one batch of {config.batch_size}; lower --batch-size"
        )
    if config.steps_per_epoch:
        train_data = train_data.repeat()

    strategy = resolve_strategy(config.strategy)
    initial_epoch = 0
    with strategy.scope():
        if resume_state is not None:
            checkpoint, initial_epoch = resume_state
            model = keras.saving.load_model(checkpoint)
        else:
            if config.stage == "linear":
                model = keras.saving.load_model(run.model_path)
                model.set_stage("linear", num_classes=train_source.num_classes)
            else:
                model = _new_model(config, train_source.num_classes)
            model.compile(optimizer=_optimizer(config, steps))

    all_callbacks = list(callbacks)
    if chief:
        stage_dir = run.stage_dir(config.stage)
        all_callbacks += [
            EpochCheckpoint(run, config.stage),
            keras.callbacks.CSVLogger(str(stage_dir / "metrics.csv"), append=resume),
            keras.callbacks.TensorBoard(log_dir=str(stage_dir / "logs"), write_graph=False),
        ]
    history = {}
    if initial_epoch < config.epochs:
        history = model.fit(
            train_data, epochs=config.epochs, initial_epoch=initial_epoch,
            steps_per_epoch=steps if config.steps_per_epoch else None,
            callbacks=all_callbacks, verbose=verbose, shuffle=False,
        ).history

    metrics = {f"train_{k}": float(v[-1]) for k, v in history.items()}
    metrics["epochs"] = config.epochs
    if eval_source is not None and model.stage != "contrastive":
        results = model.evaluate(eval_dataset(eval_source, config.image_size), verbose=0,
                                 return_dict=True)
        metrics.update({k: float(v) for k, v in results.items()})
    if chief:
        with atomic_path(run.model_path, suffix=".keras") as tmp:
            model.save(tmp)
        run.write_stage_metrics(config.stage, metrics)
    return metrics


def evaluate_run(run_dir, data: str, *, split: Optional[str] = "test", data_dir=None,
                 image_size: Optional[int] = None, batch_size: int = 256,
                 frozen: bool = True) -> dict:
    """Top-1 / top-5 (fractions) of a run's classifier on a dataset.

    ``frozen=True`` evaluates the linear classifier on the frozen encoder (the run must
    have finished its linear stage); ``False`` evaluates a ``ce`` or ``joint`` run's own
    classifier.
    """
    run = RunDirectory(run_dir)
    model = load_run_model(run)
    if model.classifier is None:
        raise RunError(f"run {run.path} has no classifier yet; train it with "
                       f"kerascon train --stage linear --run {run.path}")
    if frozen and model.stage != "linear":
        raise RunError(f"run {run.path} is at the {model.stage!r} stage, not 'linear'; run "
                       f"kerascon train --stage linear --run {run.path} first, or drop --frozen")
    if not frozen and model.stage not in ("ce", "joint"):
        raise RunError(f"run {run.path} is a {model.stage!r} run; evaluate it with --frozen")
    if image_size is None:
        image_size = _stage_image_size(run, model.stage)
    source = load_source(data, split=split, data_dir=data_dir)
    if source.num_classes > model.num_classes:
        raise ValueError(f"dataset {source.name!r} has {source.num_classes} classes but the "
                         f"classifier has {model.num_classes}; evaluate on the same label set")
    model.compile(optimizer="sgd")
    results = model.evaluate(eval_dataset(source, image_size, batch_size), verbose=0,
                             return_dict=True)
    return {"top1": float(results["top1"]), "top5": float(results["top5"]),
            "loss": float(results["loss"]), "examples": source.num_examples,
            "dataset": source.name}


def _stage_image_size(run: RunDirectory, stage: str) -> int:
    for candidate in (stage, "contrastive", "joint", "ce"):
        path = run.stage_dir(candidate) / "config.yaml"
        if path.is_file():
            return TrainConfig.from_yaml(path).image_size
    return TrainConfig().image_size


def stage_config(run_dir, stage: str) -> Optional[TrainConfig]:
    """The resolved configuration a run's stage was trained with, if any."""
    path = RunDirectory(run_dir).stage_dir(stage) / "config.yaml"
    return TrainConfig.from_yaml(path) if path.is_file() else None


def image_size_of(run_dir) -> int:
    """The image size a run was trained at."""
    run = RunDirectory(run_dir)
    return _stage_image_size(run, "linear")


__all__ += ["stage_config", "image_size_of", "eval_dataset"]
