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

import hashlib
import json
import os
import shutil
import warnings
from pathlib import Path
from typing import NamedTuple, Optional

from kerascon._utils.atomic_files import atomic_path, atomic_write_json, atomic_write_text
from kerascon.errors import Placeholder, RunError, Setting, Step
from kerascon.model.stages import STAGE_NAMES, STAGES
from kerascon.ownership import (
    RUN_MARKER,
    OwnershipError,
    folder_contents,
    is_run,
    protected_reason,
    require_removable_run,
)

__all__ = ["RunDirectory", "RunError", "ResumePoint", "STAGE_NAMES"]


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

    def require_new_run(self, data_paths=(), *, overwrite: bool = False,
                        resumable: bool = True) -> None:
        """A new run goes into a new or empty folder, or (``overwrite``) replaces a run.

        With ``overwrite`` the folder must be one :func:`kerascon.ownership.require_removable_run`
        lets go; otherwise one line saying what would work: ``resume`` only when the unfinished
        stage has a checkpoint (and ``resumable``), ``overwrite`` only when
        :func:`kerascon.ownership.protected_reason` allows replacing the folder (``data_paths``:
        what the new run would read). Needs no Keras, so a front end can check a destination
        before loading TensorFlow.
        """
        if self.is_empty():
            return
        if overwrite:
            require_removable_run(self.path, data_paths=data_paths)
            return
        another = Setting("output_dir", Placeholder("DIR"))
        if not self.is_run():
            raise OwnershipError(
                f"{self.path} already exists and is not a kerascon run (it holds "
                f"{folder_contents(self.path)}); a new run goes into a new or empty folder: choose "
                "another {0}", another)
        fixes, words = [], []
        unfinished = self.unfinished_stage()
        if resumable and unfinished is not None and self.has_checkpoint(unfinished):
            fixes.append(Setting("resume", True))
            words.append("continue it with {%d}" % (len(fixes) - 1))
        if protected_reason(self.path, data_paths) is None:
            fixes.append(Setting("overwrite", True))
            words.append("replace it with {%d}" % (len(fixes) - 1))
        fixes.append(another)
        words.append("choose another {%d}" % (len(fixes) - 1))
        raise RunError(f"run directory {self.path} already exists and is not empty; "
                       + ", ".join(words[:-1]) + (", or " if len(words) > 1 else "") + words[-1],
                       *fixes)

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

        Atomic writes (:mod:`kerascon._utils.atomic_files`) create their temporary file beside the
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
