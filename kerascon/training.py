"""Run one training stage into a run directory: data, model, optimizer, checkpoints.

This is what ``kerascon train`` calls; notebooks can call it too, or use
:class:`~kerascon.model.SupConModel` and :mod:`kerascon.data` directly.

Example:
    >>> config = TrainConfig(stage="contrastive", arch="resnet18", data="digits", epochs=5)
    >>> run_stage(config, "runs/digits")
    >>> run_stage(config.replace(stage="linear", epochs=5, lr=0.1), "runs/digits")
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import sys
import threading
from typing import Iterable, Optional

import keras

from kerascon.config import TrainConfig, normalize_split
from kerascon.data import (EMBEDDED_DATASETS, from_image_folder, from_tfds, load_source,
                           multiview_dataset, single_view_dataset)
from kerascon.distribute import is_chief, resolve_strategy
from kerascon.atomic_files import atomic_path, atomic_write_text
from kerascon.model import SupConModel
from kerascon.optimizers import WarmupCosineDecay, build_optimizer
from kerascon.runs import EpochCheckpoint, RunDirectory, RunError

__all__ = ["run_stage", "evaluate_run", "load_run_model", "open_source",
           "resolve_config"]

_NEW_MODEL_STAGES = ("contrastive", "joint", "ce")


# ----------------------------------------------------------------------------- data

_DATA_HINT = ("pass --data PATH (an image folder with one subfolder per class, or a .npz file) "
              "or --dataset NAME (a TFDS dataset such as cifar10)")


def _visible_entries(folder: str):
    return [entry for entry in os.scandir(folder) if not entry.name.startswith(".")]


def _image_folder(root: str, split: Optional[str], option: str, skip_corrupt: bool):
    """An image folder split, with errors that say how to lay the folder out."""
    root = os.path.abspath(root)
    if not _visible_entries(root):
        raise ValueError(f"image folder '{root}' is empty; put images in '{root}/train/<class>/' "
                         f"and '{root}/test/<class>/', or in '{root}/<class>/' with --split none "
                         "--eval-split none")
    folder = root
    if split is not None:
        folder = os.path.join(root, split)
        if not os.path.isdir(folder):
            subfolders = sorted(e.name for e in _visible_entries(root) if e.is_dir())
            if option == "--eval-split":
                fix = (f"pass --eval-split none to skip the final evaluation, or add held-out "
                       f"images in '{root}/{split}/<class>/'")
            elif subfolders:
                fix = (f"if its subfolders ({', '.join(subfolders[:4])}"
                       f"{', ...' if len(subfolders) > 4 else ''}) are the classes, pass "
                       f"--split none (and --eval-split none), or arrange it as "
                       f"'{root}/train/<class>/' and '{root}/test/<class>/'")
            else:
                fix = (f"arrange it as '{root}/train/<class>/' and '{root}/test/<class>/', or "
                       f"as '{root}/<class>/' with --split none")
            raise ValueError(f"image folder '{root}' has no '{split}/' subfolder for "
                             f"{option} {split}; {fix}")
    # Unreadable files are found here and reported below, not by the data module's logger.
    data_logger = logging.getLogger("kerascon.data")
    level = data_logger.level
    data_logger.setLevel(logging.ERROR)
    try:
        source = from_image_folder(folder, on_error="skip")
    finally:
        data_logger.setLevel(level)
    if source.skipped and not skip_corrupt:
        more = (f" ({len(source.skipped) - 1} more unreadable file(s) in the folder)"
                if len(source.skipped) > 1 else "")
        raise ValueError(f"cannot decode image '{source.skipped[0]}' (corrupt or not an image); "
                         f"delete it, or pass --skip-corrupt to leave unreadable images out{more}")
    return source


def _online(host: str = "storage.googleapis.com", port: int = 443, timeout: float = 3.0) -> bool:
    """Whether the internet looks reachable, answered within ``timeout`` seconds.

    Name resolution can block far longer than a socket timeout, so the probe runs in a
    daemon thread that is simply abandoned when it takes too long.
    """
    result = []

    def probe():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def _tfds_source(name: str, split: str, data_dir: Optional[str]):
    """A TFDS split; fails fast, with the alternatives, when it is not prepared and offline."""
    import tensorflow_datasets as tfds

    absl_logger = logging.getLogger("absl")  # TFDS warns about folders it looks into
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)
    try:
        builder = tfds.builder(name, data_dir=data_dir)
        prepared = builder.is_prepared()
    except tfds.core.registered.DatasetNotFoundError:
        where = f" in --data-dir {data_dir}" if data_dir else ""
        raise ValueError(f"{name!r} is neither an existing file or folder nor a TFDS dataset "
                         f"(registered or prepared{where}); {_DATA_HINT}") from None
    finally:
        absl_logger.setLevel(level)
    if prepared:
        return from_tfds(name, split=split, data_dir=data_dir, download=False)
    root = str(getattr(builder, "data_dir_root", None) or data_dir or "~/tensorflow_datasets")
    fix = (f"pass --data-dir DIR with a copy prepared elsewhere (`tfds build {name} --data_dir "
           "DIR`), or --data PATH to an image folder or .npz file instead")
    if not _online():
        raise RuntimeError(f"TFDS dataset {name!r} is not prepared in '{root}' and cannot be "
                           f"downloaded (no network); {fix}")
    try:
        # TFDS prints its download messages on stdout, which --json keeps for the result.
        with contextlib.redirect_stdout(sys.stderr):
            return from_tfds(name, split=split, data_dir=data_dir, download=True)
    except RuntimeError as error:
        cause = error.__cause__
        detail = str(cause).strip().splitlines()[0][:200] if cause and str(cause).strip() else ""
        detail = f" ({type(cause).__name__}: {detail})" if detail else ""
        raise RuntimeError(f"cannot download and prepare TFDS dataset {name!r} into "
                           f"'{root}'{detail}; {fix}") from error


def open_source(spec: Optional[str], split: Optional[str] = "train", data_dir=None, *,
                skip_corrupt: bool = False, option: str = "--split"):
    """Open ``spec`` like :func:`kerascon.data.load_source`, with command-line advice.

    Image folders use ``<spec>/<split>/<class>/`` (``split=None``: ``<spec>/<class>/``);
    a corrupt image is an error naming the file unless ``skip_corrupt``; a TFDS dataset that
    is not prepared in ``data_dir`` is an error at once when there is no network (instead
    of TFDS's download retries). ``option`` names the option that chose ``split``.
    """
    if spec is None or not str(spec).strip():
        raise ValueError(f"no data given; {_DATA_HINT}")
    spec = str(spec).strip()
    split = normalize_split(split)
    expanded = os.path.expanduser(spec)
    lowered = spec.lower()
    if os.path.isdir(expanded):
        return _image_folder(expanded, split, option, skip_corrupt)
    if lowered.startswith("embedded:") or (lowered in EMBEDDED_DATASETS
                                           and not os.path.exists(expanded)):
        return load_source(spec, split=split)
    if os.path.exists(expanded) and not lowered.endswith(".npz"):
        raise ValueError(f"data file '{os.path.abspath(expanded)}' is neither an image folder nor "
                         f"a .npz file; {_DATA_HINT}")
    if lowered.endswith(".npz") or spec.startswith(("/", "./", "../", "~", ".\\")) \
            or os.path.isabs(spec):
        if not os.path.exists(expanded):
            raise FileNotFoundError(f"data path '{os.path.abspath(expanded)}' does not exist; "
                                    "check --data, which takes an image folder (one subfolder "
                                    "per class) or a .npz file")
        return load_source(expanded, split=split)
    return _tfds_source(spec, split or "train", data_dir)


def _check_classes(source, config: TrainConfig) -> None:
    if source.num_classes < 2:
        names = f" ({source.class_names[0]!r})" if source.class_names else ""
        split = f" ({config.split} split)" if config.split else ""
        what = "supervised contrastive learning and classifiers need" \
            if config.stage != "linear" else "a classifier needs"
        raise ValueError(f"data '{config.data}'{split} has only one class{names}; {what} at "
                         "least 2: add one subfolder per class (or more labels) to the data")


def _sources(config: TrainConfig):
    train = open_source(config.data, split=config.split, data_dir=config.data_dir,
                        skip_corrupt=config.skip_corrupt)
    _check_classes(train, config)
    evaluation = None
    if config.eval_split:
        evaluation = open_source(config.data, split=config.eval_split, data_dir=config.data_dir,
                                 skip_corrupt=config.skip_corrupt, option="--eval-split")
        if evaluation.class_names != train.class_names:
            differing = sorted(set(train.class_names) ^ set(evaluation.class_names))
            raise ValueError(
                f"the classes of the {config.eval_split!r} split differ from those of the "
                f"{config.split!r} split ({', '.join(differing[:4]) or 'order'}); give both the "
                "same class folders, or pass --eval-split none"
            )
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


def load_run_model(run) -> SupConModel:
    """Load the model of a finished stage from a run directory."""
    path = RunDirectory(run).require_model()
    return keras.saving.load_model(path)


# ----------------------------------------------------------------------------- configuration

# Keys a linear stage inherits from the run it evaluates (same data, same images).
_INHERITED_BY_LINEAR = ("data", "data_dir", "split", "eval_split", "image_size", "arch", "stem",
                        "width_multiplier", "mean", "std", "seed", "strategy", "batch_size",
                        "skip_corrupt")
_LINEAR_DEFAULTS = {"lr": 0.5, "epochs": 30, "weight_decay": 0.0, "augment": "flip_crop"}


def resolve_config(stage: Optional[str] = None, run_dir=None, overrides: Optional[dict] = None,
                   config_file=None, *, resume: bool = False) -> TrainConfig:
    """The configuration of a stage, from lowest to highest precedence:

    the stage's recorded ``config.yaml`` (``resume=True``) or, for a new ``linear`` stage,
    what it inherits from the run's first stage plus the linear defaults; then the YAML
    ``config_file``; then ``overrides`` (``None`` values mean "not given"). Without a
    ``stage``, ``--resume`` continues the run's unfinished stage; the default is contrastive.
    """
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    file_values = TrainConfig.read_yaml(config_file) if config_file else {}
    for values in (file_values, overrides):
        # Record where the data is, not where it was seen from: later stages and `eval`
        # may run from another directory.
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
    elif stage == "linear" and run is not None:
        parent = (stage_config(run.path, "contrastive") or stage_config(run.path, "joint")
                  or stage_config(run.path, "ce"))
        if parent is not None:
            base = {key: getattr(parent, key) for key in _INHERITED_BY_LINEAR}
        base.update(_LINEAR_DEFAULTS)
    return TrainConfig.from_dict({**base, **file_values, **overrides, "stage": stage})


# ----------------------------------------------------------------------------- training

def _check_new_run(run: RunDirectory):
    if not run.is_empty():
        raise RunError(
            f"run directory {run.path} already exists and is not empty; pass --resume to "
            "continue it, --overwrite to replace it, or choose another --output"
        )


def _prepare_run(run: RunDirectory, config: TrainConfig, resume: bool, overwrite: bool):
    if config.stage in _NEW_MODEL_STAGES and not resume and not run.is_empty():
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
    if resume and config.stage in run.finished_stages():
        raise RunError(f"the {config.stage} stage of run {run.path} has finished, so there is "
                       "nothing to resume; drop --resume to train another stage (e.g. --stage "
                       f"linear --run {run.path}), or start again with --output {run.path} "
                       "--overwrite")
    resume_state = run.resume_state(config.stage) if resume else None
    if resume and resume_state is None and not run.is_empty() and config.stage != "linear":
        raise RunError(f"run {run.path} has no checkpoint of the {config.stage} stage to resume; "
                       "drop --resume, or pass --overwrite to start again")
    if config.stage == "linear":
        run.require_model(for_stage="linear")
    elif config.pretrained:
        from kerascon.zoo import get_pretrained

        get_pretrained(config.pretrained)  # unknown names fail before anything is written
    else:
        from kerascon.zoo import get_architecture

        get_architecture(config.arch)
    if chief and config.stage in _NEW_MODEL_STAGES and not resume and not overwrite:
        _check_new_run(run)  # other workers may see the chief's files already
    train_source, eval_source = _sources(config)
    train_data = _train_dataset(config, train_source)
    steps = config.steps_per_epoch or int(train_data.cardinality())
    if steps < 1:
        raise ValueError(
            f"dataset {train_source.name!r} has fewer examples ({train_source.num_examples}) "
            f"than one batch of {config.batch_size}; lower --batch-size"
        )
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
            if config.stage == "linear":
                model = keras.saving.load_model(run.model_path)
                model.set_stage("linear", num_classes=train_source.num_classes)
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
    if eval_source is not None and model.stage != "contrastive":
        results = model.evaluate(eval_dataset(eval_source, config.image_size), verbose=0,
                                 return_dict=True)
        metrics.update({k: float(v) for k, v in results.items()})
    if chief:
        with atomic_path(run.model_path, suffix=".keras") as tmp:
            model.save(tmp)
        run.write_stage_metrics(config.stage, metrics)
    return metrics


# ----------------------------------------------------------------------------- evaluation

def evaluate_run(run_dir, data: Optional[str] = None, *, split: Optional[str] = "recorded",
                 data_dir=None, batch_size: int = 256, frozen: bool = True,
                 skip_corrupt: Optional[bool] = None) -> dict:
    """Top-1 / top-5 (fractions) of a run's classifier on a dataset.

    ``frozen=True`` evaluates the linear classifier on the frozen encoder (the run must
    have finished its linear stage); ``False`` evaluates a ``ce`` or ``joint`` run's own
    classifier. ``data=None`` uses the data the run was trained on; ``split="recorded"``
    its evaluation split (``--eval-split``), ``None`` the data as a whole. The result is
    also stored in ``RUN/evaluations/`` (see
    :func:`kerascon.evaluation.run_eval.run_evaluation`, which adds kNN, calibration and
    corruption robustness).
    """
    from kerascon.evaluation.run_eval import run_evaluation

    result = run_evaluation(run_dir, data, split=split, data_dir=data_dir, frozen=frozen,
                            batch_size=batch_size, skip_corrupt=skip_corrupt)
    keys = ("top1", "top5", "loss", "examples", "dataset", "skipped_images")
    return {k: result[k] for k in keys if k in result}


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
