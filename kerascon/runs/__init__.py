"""Runs: a training configuration, run directories, training and evaluating a run.

Tier 3 of kerascon (see docs/ARCHITECTURE.md): built on the core library, used by the
command line and by notebooks that want a run directory. Names load on first use, so
``kerascon.runs.config`` and ``kerascon.runs.evaluation_store`` import without TensorFlow.

Example:
    >>> from kerascon.runs import TrainConfig, run_stage
    >>> config = TrainConfig(stage="contrastive", data="embedded:digits", image_size=16,
    ...                      width_multiplier=0.25, epochs=1)
    >>> metrics = run_stage(config, "runs/digits")
"""

from kerascon._utils.lazy_exports import lazy_exports

_EXPORTS = {
    "TrainConfig": "kerascon.runs.config",
    "RunDirectory": "kerascon.runs.directory",
    "RunError": "kerascon.runs.directory",
    "EpochCheckpoint": "kerascon.runs.checkpoints",
    "first_stage_config": "kerascon.runs.records",
    "image_size_of": "kerascon.runs.records",
    "load_run_model": "kerascon.runs.records",
    "stage_config": "kerascon.runs.records",
    "resolve_config": "kerascon.runs.training",
    "run_stage": "kerascon.runs.training",
    "CorruptionOptions": "kerascon.runs.evaluation",
    "run_evaluation": "kerascon.runs.evaluation",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
