"""The layout of a run directory, and its checkpoints.

::

    RUN/
      model.keras                 the model after the latest finished stage
      metrics.json                final metrics of every finished stage (last epoch)
      encoder/encoder.keras       the frozen encoder (model.embedding_model(), saved)
      export/                     the SavedModel (kerascon.export.export_saved_model)
      stages/<stage>/config.yaml  the resolved configuration of that stage
      stages/<stage>/checkpoint.keras, checkpoint.json   last finished epoch (atomic)
      stages/<stage>/metrics.csv  one line per checkpointed epoch
      stages/<stage>/logs/        TensorBoard
      evaluations/<name>.json     stored evaluations (and <name>.npz: 2-D embeddings),
                                  see kerascon.runs.evaluation
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import keras

from kerascon.atomic_files import atomic_path, atomic_write_json, atomic_write_text
from kerascon.errors import RunError, Setting, Step
from kerascon.stages import STAGE_NAMES

__all__ = ["RunDirectory", "RunError", "EpochCheckpoint", "STAGE_NAMES"]


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

    def metrics_csv_path(self, stage: str) -> Path:
        return self.stage_dir(stage) / "metrics.csv"

    def require_model(self, for_stage: str | None = None) -> Path:
        """The path of ``model.keras``; a one-line RunError saying what to run otherwise."""
        if not self.path.is_dir():
            raise RunError(f"run directory {self.path} does not exist; pass the {{0}} of a "
                           "training run", Setting("output_dir"))
        if not self.model_path.is_file():
            unfinished = self.unfinished_stage()
            if unfinished is not None:
                raise RunError(f"run {self.path} has no model.keras: its {unfinished} stage did "
                               "not finish; continue it with {0}",
                               Step("train", (Setting("run_dir", str(self.path)),
                                              Setting("stage", unfinished),
                                              Setting("resume", True))))
            need = "an encoder for the linear stage" if for_stage == "linear" else "a model"
            raise RunError(f"run {self.path} has no model.keras, so it has no {need}; train "
                           "its first stage with {0}",
                           Step("train", (Setting("output_dir", str(self.path)),)))
        return self.model_path

    def finished_stages(self) -> list:
        return list(self.read_metrics())

    def unfinished_stage(self) -> str | None:
        """The most recently started stage that has not finished, if any."""
        finished = set(self.finished_stages())
        started = {stage: (self.stage_dir(stage) / "config.yaml") for stage in STAGE_NAMES}
        candidates = {stage: path.stat().st_mtime_ns for stage, path in started.items()
                      if path.is_file() and stage not in finished}
        return max(candidates, key=candidates.get) if candidates else None

    def remove_temporaries(self) -> list:
        """Delete temporary files a killed writer left behind (``.NAME.*.tmp*``).

        Atomic writes (:mod:`kerascon.atomic_files`) create their temporary file beside the
        destination and rename it at the end; a process killed in between leaves it.
        Only call this while no other process writes into the run.
        """
        removed = []
        folders = [self.path, self.path / "encoder", *sorted((self.path / "stages").glob("*"))]
        for folder in folders:
            if not folder.is_dir():
                continue
            for entry in folder.glob(".*.tmp*"):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                removed.append(entry)
        return removed

    def read_metrics(self) -> dict:
        if not self.metrics_path.is_file():
            return {}
        return json.loads(self.metrics_path.read_text())

    def write_stage_metrics(self, stage: str, metrics: dict) -> None:
        all_metrics = self.read_metrics()
        all_metrics[stage] = metrics
        atomic_write_json(self.metrics_path, all_metrics)

    def resume_state(self, stage: str):
        """(checkpoint path, finished epochs, per-epoch logs) of an interrupted stage, or None."""
        state_path = self.checkpoint_state_path(stage)
        if not state_path.is_file() or not self.checkpoint_path(stage).is_file():
            return None
        state = json.loads(state_path.read_text())
        epochs = int(state["epoch"])
        return self.checkpoint_path(stage), epochs, list(state.get("history", []))[:epochs]


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves model and optimizer after every epoch, atomically, so a run can resume.

    The ``.keras`` file is written under a temporary name and renamed; the small JSON
    state (finished epochs and every epoch's logs) is written the same way afterwards, so
    the pair on disk always describes a complete epoch. ``metrics.csv`` (one row per
    epoch) is rewritten from that state, so after a kill and a resume it holds exactly
    the checkpointed epochs: no row of the epoch in progress, none twice.

    Args:
        run: the run directory.
        stage: the stage being trained.
        history: logs of the epochs already finished (from ``RunDirectory.resume_state``).
    """

    def __init__(self, run: RunDirectory, stage: str, history=()):
        super().__init__()
        self.run = run
        self.stage = stage
        self.history = [dict(logs) for logs in history]

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        self.history = self.history[:epoch] + [logs]
        with atomic_path(self.run.checkpoint_path(self.stage), suffix=".keras") as tmp:
            self.model.save(tmp)
        atomic_write_json(self.run.checkpoint_state_path(self.stage),
                          {"epoch": epoch + 1, "stage": self.stage, "logs": logs,
                           "history": self.history})
        self.write_csv()

    def write_csv(self) -> None:
        """Write ``metrics.csv`` (``epoch`` then the sorted log keys) from ``history``."""
        path = self.run.metrics_csv_path(self.stage)
        if not self.history:
            path.unlink(missing_ok=True)
            return
        keys = sorted({key for logs in self.history for key in logs})
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["epoch", *keys])
        for epoch, logs in enumerate(self.history):
            writer.writerow([epoch, *(logs.get(key, "") for key in keys)])
        atomic_write_text(path, buffer.getvalue())
