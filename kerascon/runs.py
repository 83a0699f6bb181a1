"""The layout of a run directory, and its checkpoints.

::

    RUN/
      model.keras                 the model after the latest finished stage
      metrics.json                final metrics of every finished stage (last epoch)
      encoder/encoder.keras       frozen encoder written by `kerascon freeze`
      export/                     SavedModel written by `kerascon export`
      stages/<stage>/config.yaml  the resolved configuration of that stage
      stages/<stage>/checkpoint.keras, checkpoint.json   last finished epoch (atomic)
      stages/<stage>/metrics.csv  one line per epoch
      stages/<stage>/logs/        TensorBoard
"""

from __future__ import annotations

import json
from pathlib import Path

import keras

from kerascon.io import atomic_path, atomic_write_json

__all__ = ["RunDirectory", "RunError", "EpochCheckpoint"]


class RunError(RuntimeError):
    """A run directory is missing, incomplete or would be overwritten."""


class RunDirectory:
    """Paths and checks of one run directory.

    Example:
        >>> run = RunDirectory("runs/digits")
        >>> run.model_path
        PosixPath('runs/digits/model.keras')
    """

    def __init__(self, path):
        self.path = path.path if isinstance(path, RunDirectory) else Path(path)

    @property
    def model_path(self) -> Path:
        return self.path / "model.keras"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.json"

    @property
    def encoder_path(self) -> Path:
        return self.path / "encoder" / "encoder.keras"

    def stage_dir(self, stage: str) -> Path:
        return self.path / "stages" / stage

    def checkpoint_path(self, stage: str) -> Path:
        return self.stage_dir(stage) / "checkpoint.keras"

    def checkpoint_state_path(self, stage: str) -> Path:
        return self.stage_dir(stage) / "checkpoint.json"

    def is_empty(self) -> bool:
        return not self.path.exists() or not any(self.path.iterdir())

    def require_model(self) -> Path:
        if not self.path.is_dir():
            raise RunError(f"run directory {self.path} does not exist; pass the --output of a "
                           "finished `kerascon train` run")
        if not self.model_path.is_file():
            raise RunError(f"run {self.path} has no model.keras yet; finish its training stage "
                           "first (kerascon train ... --output RUN)")
        return self.model_path

    def read_metrics(self) -> dict:
        if not self.metrics_path.is_file():
            return {}
        return json.loads(self.metrics_path.read_text())

    def write_stage_metrics(self, stage: str, metrics: dict) -> None:
        all_metrics = self.read_metrics()
        all_metrics[stage] = metrics
        atomic_write_json(self.metrics_path, all_metrics)

    def resume_state(self, stage: str):
        """(checkpoint path, finished epochs) of an interrupted stage, or None."""
        state_path = self.checkpoint_state_path(stage)
        if not state_path.is_file() or not self.checkpoint_path(stage).is_file():
            return None
        state = json.loads(state_path.read_text())
        return self.checkpoint_path(stage), int(state["epoch"])


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves model and optimizer after every epoch, atomically, for ``--resume``.

    The ``.keras`` file is written under a temporary name and renamed; the small JSON
    state (finished epochs) is written the same way afterwards, so the pair on disk
    always describes a complete epoch.
    """

    def __init__(self, run: RunDirectory, stage: str):
        super().__init__()
        self.run = run
        self.stage = stage

    def on_epoch_end(self, epoch, logs=None):
        with atomic_path(self.run.checkpoint_path(self.stage), suffix=".keras") as tmp:
            self.model.save(tmp)
        logs = {k: float(v) for k, v in (logs or {}).items()}
        atomic_write_json(self.run.checkpoint_state_path(self.stage),
                          {"epoch": epoch + 1, "stage": self.stage, "logs": logs})
