"""Checkpoints of a training stage: a Keras callback that saves model and optimizer
atomically after every epoch (and on a stop request), so a run can resume.

The run directory's layout and the reading side (:meth:`RunDirectory.resume_state`) are in
:mod:`kerascon.runs.directory`, which needs no Keras.
"""

from __future__ import annotations

import csv
import io
import json

import keras

from kerascon._utils.atomic_files import DiskFullError, atomic_path, atomic_write_json, atomic_write_text
from kerascon.errors import Setting, Step
from kerascon.runs.directory import RunDirectory, _sha256, _where

__all__ = ["EpochCheckpoint"]


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves model and optimizer after every epoch, atomically, so a run can resume.

    The ``.keras`` file is written under a temporary name; only when it is complete does
    the current checkpoint become the previous one (``checkpoint.prev.*``) and the new
    file take its place; the small JSON state (progress, every epoch's logs and the
    file's SHA-256) is written the same way afterwards. At any moment the directory holds
    at least one checkpoint whose state matches its file. ``metrics.csv`` (one row per
    epoch) is rewritten from that state, so after a kill and a resume it holds exactly
    the checkpointed epochs: no row of the epoch in progress, none twice.
    :meth:`save` also checkpoints in the middle of an epoch (on a stop request).

    Args:
        run: the run directory.
        stage: the stage being trained.
        history: logs of the epochs already finished (from ``RunDirectory.resume_state``).
        saved: ``(epoch, step)`` of the checkpoint training starts from, if any.
    """

    def __init__(self, run: RunDirectory, stage: str, history=(), saved=None):
        super().__init__()
        self.run = run
        self.stage = stage
        self.history = [dict(logs) for logs in history]
        self.saved = saved

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        self.history = self.history[:epoch] + [logs]
        self.save(epoch + 1, 0, logs)
        self.write_csv()

    def save(self, epoch: int, step: int, logs=None) -> None:
        """Checkpoint after ``epoch`` finished epochs and ``step`` steps of the next one."""
        path = self.run.checkpoint_path(self.stage)
        state = {"epoch": epoch, "step": step, "stage": self.stage, "logs": dict(logs or {}),
                 "history": self.history[:epoch]}
        try:
            with atomic_path(path, suffix=".keras") as tmp:
                self.model.save(tmp)
                state["sha256"] = _sha256(tmp)
                self.run.keep_previous_checkpoint(self.stage)
            atomic_write_json(self.run.checkpoint_state_path(self.stage), state)
        except DiskFullError as error:
            if self.saved:
                kept, then = f"the checkpoint at {_where(*self.saved)} is intact", "continue"
                fix = Step("train", (Setting("run_dir", str(self.run.path)),
                                     Setting("resume", True)))
            else:  # the stage's files are removed (kerascon.runs.training): start again
                kept, then, fix = "no earlier checkpoint exists", "run the same command again", None
            full = DiskFullError(f"no space left on device while writing checkpoint {path} "
                                 f"({_where(epoch, step)}); {kept} and no partial file is left: "
                                 f"free space on that disk, then {then}"
                                 + (" with {0}" if fix else ""), *((fix,) if fix else ()))
            full.errno = error.errno
            raise full from error
        self.saved = (epoch, step)

    def mark_diverged(self):
        """Flag the last checkpoint as diverged (its weights gave a non-finite loss).

        Resuming then starts from the previous checkpoint. Returns that checkpoint's
        ``(epoch, step)``, or None when there is none.
        """
        state_path = self.run.checkpoint_state_path(self.stage)
        previous_path = self.run.previous_checkpoint_state_path(self.stage)
        if not state_path.is_file() or not previous_path.is_file():
            return None
        state = json.loads(state_path.read_text())
        atomic_write_json(state_path, {**state, "diverged": True})
        previous = json.loads(previous_path.read_text())
        self.saved = (int(previous["epoch"]), int(previous.get("step", 0)))
        return self.saved

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
