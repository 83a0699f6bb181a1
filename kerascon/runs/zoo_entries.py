"""Build and verify kerascon's own pretrained entries (those that carry a recipe).

:func:`build_entry` reruns an entry's recipe (its training configurations, in order: the
contrastive stage, then the linear stage) into a run directory, evaluates it (linear
top-1 and kNN top-1 on the test split) and writes the encoder's weights as the float16
file an entry ships (``RUN/zoo/encoder.npz``), with its sha256 and size.
:func:`verify_entry` re-measures an entry's card: it loads the entry's weights (offline,
checksum verified) into a run directory, trains the linear classifier on the frozen
encoder as the recipe's linear stage says, evaluates linear top-1 and kNN top-1 on the
test split, and compares them with the card: a metric more than ``tolerance`` points
below the card fails.

Example:
    >>> result = verify_entry("resnet18.supcon_digits")
    >>> result["ok"], [(m["name"], m["measured"]) for m in result["metrics"]]
    >>> built = build_entry("resnet18.supcon_digits", "runs/supcon_digits")
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Optional

from kerascon._utils.atomic_files import atomic_path, atomic_write_text
from kerascon.errors import ConfigError, Placeholder, Setting
from kerascon.ownership import write_run_marker
from kerascon.runs.config import TrainConfig
from kerascon.runs.directory import RunDirectory
from kerascon.runs.evaluation import run_evaluation
from kerascon.runs.records import stage_config
from kerascon.runs.training import resolve_config, run_stage

__all__ = ["CARD_METRICS", "KNN_K", "KNN_TEMPERATURE", "TOLERANCE", "build_entry",
           "build_recipe", "recipe_paths", "require_same_recipe", "verify_entry"]

#: card metric name -> key of the stored evaluation (a fraction; the card says percent).
CARD_METRICS = {"linear top-1 (%)": "top1", "kNN top-1 (%)": "knn_top1"}
KNN_K = 200
KNN_TEMPERATURE = 0.1
TOLERANCE = 1.0  # points of percent a re-measured metric may fall below the card


def recipe_paths(name) -> list:
    """The recipe's configuration files of the pretrained entry ``name``, in stage order.

    Raises:
        UnknownPretrainedError: unknown name (with a did-you-mean).
        ConfigError: the entry carries no recipe (e.g. Keras' ImageNet weights).

    Example:
        >>> [p.name for p in recipe_paths("resnet18.supcon_digits")]
        ['contrastive.yaml', 'linear.yaml']
    """
    from kerascon.zoo.pretrained import get_pretrained

    spec = get_pretrained(name)
    files = spec.recipe.config_files if spec.recipe is not None else ()
    if not files:
        raise ConfigError(f"{spec.name} has no recipe to rerun (only kerascon's own entries "
                          "carry one); pick an entry with a recipe, e.g. resnet18.supcon_digits")
    package = Path(__file__).resolve().parent.parent / "zoo"
    return [package / f for f in files]


def _new_run(output, overwrite: bool, data=None) -> RunDirectory:
    """The run directory ``output`` for a new run; one line if it holds something else."""
    run = RunDirectory(output)
    # Replacing it deletes it: only a run may go (kerascon.ownership).
    run.require_new_run([data] if data else (), overwrite=overwrite, resumable=False)
    return run


#: Fields a resumed build may differ in: where things are, not what is trained.
_WHERE_FIELDS = ("data", "data_dir")


def require_same_recipe(recorded: TrainConfig, config: TrainConfig, run_path, fields) -> None:
    """One line naming the first of ``fields`` (those the recipe sets) in which a run's
    recorded stage differs from the recipe. Values the stage derived (a linear stage's
    learning rate from ``lr_per_feature``) are not the recipe's, so they are not compared.

    Example:
        >>> recipe = TrainConfig.from_yaml("contrastive.yaml")
        >>> require_same_recipe(stage_config("runs/r20", "contrastive"), recipe, "runs/r20",
        ...                     ["epochs"])  # the same epochs: no error
    """
    old, new = recorded.to_dict(), config.to_dict()
    for field in fields:
        if field not in _WHERE_FIELDS and old.get(field) != new[field]:
            raise ConfigError(
                f"run {run_path} was built with {config.stage} {field} {old.get(field)!r}, the "
                f"recipe says {new[field]!r}; resume with the recipe it was built with, or build "
                "into a new {0}", Setting("output_dir", Placeholder("DIR")))


def _resumed_run(output) -> RunDirectory:
    """The run ``output`` a build continues: it must be a run (one line otherwise)."""
    run = RunDirectory(output)
    if run.is_empty():
        return run
    if not run.is_run():
        raise ConfigError(f"{run.path} is not a kerascon run, so there is no build to resume; "
                          "pass the {0} of an earlier build, or start a new one without {1}",
                          Setting("output_dir"), Setting("resume", True))
    return run


def _build_stage(config: TrainConfig, config_file, run: RunDirectory, index: int, *,
                 resume: bool, overwrite: bool, callbacks) -> None:
    """Train one recipe stage; with ``resume``, continue or skip what the run already did."""
    if resume:
        recorded = stage_config(run.path, config.stage)
        if recorded is not None:
            require_same_recipe(recorded, config, run.path, TrainConfig.read_yaml(config_file))
            if config.stage in run.finished_stages():
                return
            if run.has_checkpoint(config.stage):
                run_stage(config, run.path, resume=True, callbacks=callbacks)
                return
    run_stage(config, run.path, overwrite=overwrite and index == 0, callbacks=callbacks)


def _measure(run_dir) -> dict:
    result = run_evaluation(run_dir, frozen=True, knn=True, knn_k=KNN_K,
                            knn_temperature=KNN_TEMPERATURE)
    return {name: 100.0 * float(result[key]) for name, key in CARD_METRICS.items()}


def build_recipe(config_files, output, *, data: Optional[str] = None,
                 data_dir: Optional[str] = None, overwrite: bool = False, resume: bool = False,
                 callbacks_for: Optional[Callable] = None) -> dict:
    """Train ``config_files`` (first stage, then the later ones) into the run ``output``,
    measure it and write its encoder as float16 weights (``RUN/zoo/encoder.npz``).

    ``resume=True`` continues a build that stopped (a stage from its last checkpoint; a
    finished stage is kept); a stage recorded with another recipe is refused in one line
    naming the differing field. ``data``/``data_dir`` replace the recipe's data source.

    Example:
        >>> build_recipe(["contrastive.yaml", "linear.yaml"], "runs/digits")["sha256"]
    """
    from kerascon.runs.records import load_run_model
    from kerascon.zoo.download import sha256_file
    from kerascon.zoo.float16_weights import save_float16_weights

    if resume and overwrite:
        raise ConfigError("{0} continues a build and {1} replaces it; pass one of them",
                          Setting("resume", True), Setting("overwrite", True))
    run = _resumed_run(output) if resume else _new_run(output, overwrite, data)
    overrides = {"data": data, "data_dir": data_dir}
    for index, config_file in enumerate(config_files):
        config = resolve_config(None, run.path if index else None,
                                overrides if index == 0 else {}, config_file)
        callbacks = callbacks_for(config) if callbacks_for else ()
        _build_stage(config, config_file, run, index, resume=resume, overwrite=overwrite,
                     callbacks=callbacks)
    metrics = _measure(run.path)
    weights = run.path / "zoo" / "encoder.npz"
    weights.parent.mkdir(exist_ok=True)
    save_float16_weights(load_run_model(run.path).encoder, weights)
    return {"run": str(run.path), "metrics": metrics, "weights": str(weights),
            "sha256": sha256_file(weights), "size": os.path.getsize(weights)}


def build_entry(name, output, *, data: Optional[str] = None, data_dir: Optional[str] = None,
                overwrite: bool = False, resume: bool = False,
                callbacks_for: Optional[Callable] = None) -> dict:
    """Rerun the recipe of the pretrained entry ``name`` into the run directory ``output``.

    Example:
        >>> build_entry("resnet18.supcon_digits", "runs/supcon_digits")["metrics"]
    """
    return {"name": str(name), **build_recipe(recipe_paths(name), output, data=data,
                                              data_dir=data_dir, overwrite=overwrite,
                                              resume=resume, callbacks_for=callbacks_for)}


def _seed_run(spec, run: RunDirectory, first_config) -> None:
    """A run whose model is the entry's weights, recorded with the recipe's first stage."""
    from kerascon.zoo.loader import load

    model = load(spec.name)
    write_run_marker(run.path)  # before anything else goes into the run
    stage_dir = run.stage_dir(first_config.stage)
    stage_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(stage_dir / "config.yaml", first_config.to_yaml())
    with atomic_path(run.model_path, suffix=".keras") as tmp:
        model.save(tmp)
    run.write_stage_metrics(first_config.stage, {"epochs": 0})  # weights loaded, not trained


def verify_entry(name, *, data: Optional[str] = None, data_dir: Optional[str] = None,
                 linear_epochs: Optional[int] = None,
                 output=None, overwrite: bool = False, tolerance: float = TOLERANCE,
                 callbacks_for: Optional[Callable] = None) -> dict:
    """Re-measure the card of the pretrained entry ``name`` on its test split.

    Args:
        data: the recipe's data elsewhere (e.g. a copy of the data set); default: the
            recipe's own ``data``.
        data_dir: the TFDS data directory the recipe's TFDS data set is prepared in.
        linear_epochs: train the linear classifier for this many epochs instead of the
            recipe's (a quick check; the comparison with the card still applies).
        output: keep the run directory here (default: a temporary one, removed).
        tolerance: points a metric may fall below the card.

    Returns:
        ``{"name", "ok", "metrics": [{"name", "card", "measured", "ok"}], "linear_epochs",
        "run"}`` (percent).

    Example:
        >>> verify_entry("resnet18.supcon_digits", linear_epochs=2)["metrics"][1]["measured"]
    """
    from kerascon.zoo.pretrained import get_pretrained

    spec = get_pretrained(name)
    files = recipe_paths(spec)
    if len(files) < 2:
        raise ConfigError(f"{spec.name}'s recipe has no linear stage to measure it with; add "
                          "one to its recipe")
    card = {m.name: m.value for m in spec.metrics if m.name in CARD_METRICS}
    first = resolve_config(None, None, {"data": data, "data_dir": data_dir}, files[0]).replace(pretrained=spec.name)
    if linear_epochs is not None and linear_epochs < 1:
        raise ConfigError(f"linear_epochs must be >= 1, got {linear_epochs}")
    with tempfile.TemporaryDirectory(prefix="kerascon-verify-") as scratch:
        run = _new_run(output if output is not None else Path(scratch) / "run", overwrite, data)
        if not run.is_empty():  # a run (checked above): replaced
            import shutil

            shutil.rmtree(run.path)
        _seed_run(spec, run, first)
        linear = resolve_config(None, run.path, {"epochs": linear_epochs}, files[1])
        run_stage(linear, run.path, callbacks=callbacks_for(linear) if callbacks_for else ())
        measured = _measure(run.path)
    rows = []
    for metric, value in measured.items():
        expected = card.get(metric)
        ok = expected is None or value >= expected - tolerance
        rows.append({"name": metric, "card": expected, "measured": round(value, 2), "ok": ok})
    return {"name": spec.name, "ok": all(r["ok"] for r in rows), "metrics": rows,
            "linear_epochs": linear.epochs, "data": first.data,
            "run": str(run.path) if output is not None else None}
