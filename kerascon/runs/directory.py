"""The layout of a run directory, and its checkpoints.

::

    RUN/
      model.keras                 the model after the latest finished stage
      metrics.json                final metrics of every finished stage (last epoch)
      encoder/encoder.keras       the frozen encoder (model.embedding_model(), saved)
      export/                     the SavedModel (kerascon.export.export_saved_model)
      stages/<stage>/config.yaml  the resolved configuration of that stage
      stages/<stage>/checkpoint.keras, checkpoint.json   last checkpoint (atomic): the end
                                  of an epoch, or the step where a stop request landed
      stages/<stage>/checkpoint.prev.keras, .prev.json   the checkpoint before it, used when
                                  the last one is truncated or corrupt
      stages/<stage>/metrics.csv  one line per checkpointed epoch
      stages/<stage>/logs/        TensorBoard
      evaluations/<name>.json     stored evaluations (and <name>.npz: 2-D embeddings),
                                  see kerascon.runs.evaluation
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import warnings
from pathlib import Path
from typing import NamedTuple, Optional

import keras

from kerascon.atomic_files import DiskFullError, atomic_path, atomic_write_json, atomic_write_text
from kerascon.errors import RunError, Setting, Step
from kerascon.ownership import RUN_MARKER, folder_contents, is_run
from kerascon.stages import STAGE_NAMES, STAGES

__all__ = ["RunDirectory", "RunError", "EpochCheckpoint", "ResumePoint", "STAGE_NAMES"]


def _sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _where(epoch: int, step: int) -> str:
    """Training progress in words: ``end of epoch 2`` or ``epoch 3, step 7``."""
    return f"epoch {epoch + 1}, step {step}" if step else f"end of epoch {epoch}"


class ResumePoint(NamedTuple):
    """Where an interrupted stage continues: its checkpoint and the progress it holds.

    ``epoch`` epochs are finished and ``step`` steps of the next one (0 at an epoch end);
    ``history`` holds the logs of the finished epochs.
    """

    checkpoint: Path
    epoch: int
    step: int
    history: list


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

    def previous_checkpoint_path(self, stage: str) -> Path:
        return self.stage_dir(stage) / "checkpoint.prev.keras"

    def previous_checkpoint_state_path(self, stage: str) -> Path:
        return self.stage_dir(stage) / "checkpoint.prev.json"

    def is_empty(self) -> bool:
        """Whether the directory is missing or holds nothing but its run marker."""
        return not self.path.exists() or all(entry.name == RUN_MARKER
                                             for entry in self.path.iterdir())

    def is_run(self) -> bool:
        """Whether the directory is a kerascon run (:func:`kerascon.ownership.is_run`)."""
        return is_run(self.path)

    def has_checkpoint(self, stage: str) -> bool:
        """Whether ``stage`` has written a checkpoint (intact or not) that a resume could use."""
        return any(path.is_file() for path in (self.checkpoint_state_path(stage),
                                               self.previous_checkpoint_state_path(stage)))

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
            if not self.is_empty() and not self.is_run():
                # A folder of other files: training into it would be refused (and must not
                # be suggested: replacing it would delete those files).
                raise RunError(f"{self.path} is not a kerascon run (it holds "
                               f"{folder_contents(self.path)}, and no "
                               f"{RUN_MARKER}); pass the {{0}} of a training run",
                               Setting("output_dir"))
            need = "an encoder for the linear stage" if for_stage == "linear" else "a model"
            raise RunError(f"run {self.path} has no model.keras, so it has no {need}; train "
                           "its first stage with {0}",
                           Step("train", (Setting("output_dir", str(self.path)),) +
                                ((Setting("overwrite", True),) if not self.is_empty() else ())))
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

    def resume_state(self, stage: str) -> Optional[ResumePoint]:
        """The newest intact checkpoint of an interrupted stage, or None when it has none.

        Each checkpoint's JSON state records the SHA-256 of its ``.keras`` file. When the
        last checkpoint is missing, truncated or corrupt, the previous one (kept beside it)
        is used, with a warning; when neither is intact this raises a one-line RunError.
        """
        files = [self.checkpoint_path(stage), self.previous_checkpoint_path(stage)]
        states = [self.checkpoint_state_path(stage), self.previous_checkpoint_state_path(stage)]
        if not any(path.is_file() for path in files + states):
            return None
        digests = {}  # sha256 -> file, computed once per file

        def file_with(digest):
            for path in files:
                if path.is_file() and path not in digests.values():
                    digests[_sha256(path)] = path
            return digests.get(digest)

        candidates = []
        for state_path in states:
            try:
                state = json.loads(state_path.read_text())
                candidates.append((int(state["epoch"]), int(state.get("step", 0)), state))
            except (OSError, ValueError, KeyError, TypeError):
                continue  # missing or unreadable state: that checkpoint cannot be used
        candidates.sort(key=lambda c: c[:2], reverse=True)
        if len(candidates) > 1 and candidates[0][2].get("diverged"):
            candidates.pop(0)  # its weights gave a NaN loss at once: resume from the one before
        rejected = []
        for epoch, step, state in candidates:
            digest = state.get("sha256")
            if digest is None:  # written before checkpoints recorded their digest
                path = files[0] if files[0].is_file() and not rejected else None
            else:
                path = file_with(digest)
            if path is None:
                rejected.append(_where(epoch, step))
                continue
            if rejected:
                warnings.warn(f"the checkpoint of the {stage} stage at {rejected[0]} is missing, "
                              f"truncated or corrupt; resuming from the one before it "
                              f"({_where(epoch, step)})", RuntimeWarning, stacklevel=2)
            return ResumePoint(path, epoch, step, list(state.get("history", []))[:epoch])
        fix = (Setting("overwrite", True) if STAGES[stage].starts_run else
               Step("train", (Setting("stage", stage), Setting("run_dir", str(self.path)))))
        raise RunError(f"the checkpoint {files[0]} of the {stage} stage is truncated or corrupt "
                       "and no earlier intact checkpoint is kept, so the stage cannot be resumed; "
                       "start it again with {0}", fix)

    def keep_previous_checkpoint(self, stage: str) -> None:
        """Make the current checkpoint and its state the previous ones (atomically each).

        The ``.keras`` file is hard-linked (copied where links are not supported), so the
        current checkpoint stays in place until a new one replaces it.
        """
        current, state = self.checkpoint_path(stage), self.checkpoint_state_path(stage)
        if not (current.is_file() and state.is_file()):
            return
        with atomic_path(self.previous_checkpoint_path(stage), suffix=".keras") as tmp:
            try:
                os.link(current, tmp)
            except OSError:
                shutil.copyfile(current, tmp)
        atomic_write_text(self.previous_checkpoint_state_path(stage), state.read_text())


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
