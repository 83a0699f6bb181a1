"""Faults during training, each provoked for real (no mock of TensorFlow or the disk).

- a NaN loss from a huge learning rate: one line, exit 1, resume with a lower --lr;
- a full disk (a 2 MiB tmpfs) while writing a checkpoint or an export: one line, the
  previous checkpoint intact, no partial file;
- a truncated checkpoint at --resume: the previous one is used; none left: a refusal;
- SIGTERM / SIGINT, in-process and to the console script: a checkpoint at the next step,
  exit 143 / 130, --resume continues from that step.
"""

import errno
import json
import os
import re
import signal
import subprocess
import time
import warnings

import keras
import numpy as np
import pytest
from conftest import invoke_cli, one_error_line
from test_cli_subprocess import KERASCON, SITECUSTOMIZE

from kerascon._utils.atomic_files import DiskFullError
from kerascon.cli.main import one_line
from kerascon.runs.config import TrainConfig
from kerascon.runs.directory import RunDirectory, RunError
from kerascon.runs.guards import TrainingInterrupted
from kerascon.runs.training import run_stage

pytestmark = [pytest.mark.usefixtures("tiny_architecture"), pytest.mark.slow]

TINY = ["--arch", "cli_test_cnn", "--data", "embedded:digits", "--image-size", "8",
        "--batch-size", "8", "--projection-dim", "8", "--projection-hidden-dim", "16",
        "--eval-split", "none"]


def tiny_config(**changes):
    values = dict(arch="cli_test_cnn", data="embedded:digits", image_size=8, batch_size=8,
                  projection_dim=8, projection_hidden_dim=16, eval_split=None, epochs=3,
                  steps_per_epoch=2, lr=0.05)
    return TrainConfig(**{**values, **changes})


def state_of(run, stage="contrastive"):
    return json.loads(RunDirectory(run).checkpoint_state_path(stage).read_text())


def iterations(path):
    return int(keras.saving.load_model(path).optimizer.iterations.numpy())


def no_temporaries(run):
    return [str(p) for p in run.rglob(".*.tmp*")] == []


# ------------------------------------------------------------------------------ NaN loss

def test_nan_loss_stops_with_one_line_and_resumes_with_a_lower_lr(tmp_path):
    run = tmp_path / "run"
    # lr 1e6 on the tiny CNN: the loss stays finite for a few steps, then turns NaN (in
    # epoch 3 with the current data pipeline, measured). Which step exactly depends on the
    # augmentation's random draws, so the expectations follow the step the error reports.
    result = invoke_cli("train", *TINY, "--epochs", "4", "--steps-per-epoch", "2",
                        "--lr", "1e6", "--output", run, "--quiet")
    line = one_error_line(result)
    found = re.search(r"loss became nan at epoch (\d+), step (\d+) of 2", line)
    assert found, line
    epoch, step = int(found.group(1)), int(found.group(2))
    # A NaN at an epoch's first step means the end of the previous epoch had diverged
    # already: the last good checkpoint is one epoch further back.
    good = epoch - 1 if step > 1 else epoch - 2
    assert good >= 1, f"diverged too early for this test to resume from a checkpoint: {line}"
    assert f"last good checkpoint (end of epoch {good})" in line, line
    assert "last finite loss" in line and "learning rate (1e+06) is likely too high" in line
    assert f"kerascon train --run {run} --resume --lr 100000.0" in line, line
    state = state_of(run)
    # The checkpoint of the end of epoch - 1 is flagged diverged only when no finite step
    # followed it.
    assert (state["epoch"], state["step"]) == (epoch - 1, 0)
    assert state.get("diverged", False) is (step == 1)
    point = RunDirectory(run).resume_state("contrastive")
    assert (point.epoch, point.step) == (good, 0)
    model = keras.saving.load_model(point.checkpoint)
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert not (run / "model.keras").exists() and no_temporaries(run)

    # --resume takes a new learning rate: recorded in config.yaml and used by the optimizer.
    result = invoke_cli("train", "--run", run, "--resume", "--lr", "0.01", "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert np.isfinite(metrics["train_loss"]) and metrics["epochs"] == 4
    assert "lr: 0.01" in (run / "stages/contrastive/config.yaml").read_text()
    model = keras.saving.load_model(run / "model.keras")
    assert int(model.optimizer.iterations.numpy()) == 8
    schedule = model.optimizer.get_config()["learning_rate"]
    assert schedule["config"]["base_learning_rate"] == 0.01


# ------------------------------------------------------------------------------ disk full

@pytest.fixture
def small_disk(tmp_path):
    """A real 2 MiB tmpfs (root may mount); unmounted afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); this test needs "
                    "root (or CAP_SYS_ADMIN)")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk, leave=0):
    """Write a filler file until the disk is full (then free ``leave`` bytes)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for chunk in (1 << 16, 1 << 12, 1 << 9, 1):
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError as error:
                assert error.errno == errno.ENOSPC
    finally:
        os.close(fd)
    if leave:
        os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


class FillDiskAt(keras.callbacks.Callback):
    def __init__(self, disk, epoch):
        super().__init__()
        self.disk, self.epoch = disk, epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            fill(self.disk)


def test_disk_full_while_checkpointing_and_exporting(small_disk):
    run = small_disk / "run"
    stage_dir = RunDirectory(run).stage_dir("contrastive")
    with pytest.raises(DiskFullError) as caught:
        run_stage(tiny_config(), run, callbacks=[FillDiskAt(small_disk, epoch=1)])
    line = one_line(caught.value)
    assert "\n" not in line and line.startswith(
        f"no space left on device while writing checkpoint {stage_dir}/checkpoint.keras "
        "(end of epoch 2); the checkpoint at end of epoch 1 is intact"), line
    assert line.endswith(f"then continue with kerascon train --run {run} --resume"), line
    assert caught.value.errno == errno.ENOSPC  # the operating system's code, passed on
    assert no_temporaries(run)
    assert state_of(run)["epoch"] == 1
    point = RunDirectory(run).resume_state("contrastive")
    assert (point.epoch, point.step) == (1, 0) and iterations(point.checkpoint) == 2

    (small_disk / "filler").unlink()  # space freed: the run continues
    metrics = run_stage(tiny_config(), run, resume=True)
    assert metrics["epochs"] == 3 and iterations(run / "model.keras") == 6

    # Export onto the full disk: one line, exit 1, nothing half-written.
    filler = fill(small_disk)
    line = one_error_line(invoke_cli("export", "--run", run))
    assert "no space left on device while writing" in line and str(run / "export") in line
    assert not (run / "export").exists() and no_temporaries(run)
    filler.unlink()
    assert invoke_cli("export", "--run", run).exit_code == 0
    assert (run / "export" / "saved_model.pb").is_file()


def test_disk_full_at_the_first_checkpoint_through_the_cli(small_disk):
    run = small_disk / "run"
    invoke_cli("train", *TINY, "--epochs", "1", "--steps-per-epoch", "1", "--output", run,
               "--quiet")  # creates the run's files once, to size the space they need
    # Blocks, not sizes: every small file (config, classes, hold-out) takes a whole page.
    kept = sum(p.stat().st_blocks * 512 for p in run.rglob("*") if p.is_file() and
               p.suffix != ".keras")
    import shutil

    shutil.rmtree(run)
    fill(small_disk, leave=kept + 8192)  # room for config and logs, not for the checkpoint
    result = invoke_cli("train", *TINY, "--epochs", "2", "--steps-per-epoch", "1",
                        "--output", run, "--quiet")
    line = one_error_line(result)
    assert "no space left on device while writing checkpoint" in line, line
    assert "no earlier checkpoint exists" in line and "run the same command again" in line, line
    # The half-made run is removed (not a run without a checkpoint that blocks the retry).
    assert not run.exists()


# ------------------------------------------------------------------------------ signals

class SignalAt(keras.callbacks.Callback):
    """Sends a real signal to this process after ``batch`` of ``epoch``.

    run_stage's guard runs before the callbacks given to it, so it sees the request at
    the end of the next step.
    """

    def __init__(self, signum, epoch, batch):
        super().__init__()
        self.signum, self.epoch, self.batch = signum, epoch, batch

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self._epoch, batch) == (self.epoch, self.batch):
            os.kill(os.getpid(), self.signum)


def test_sigterm_checkpoints_the_step_and_a_corrupt_checkpoint_falls_back(tmp_path):
    run = tmp_path / "run"
    config = tiny_config(steps_per_epoch=3)
    handler = signal.getsignal(signal.SIGTERM)
    with pytest.raises(TrainingInterrupted) as caught:
        run_stage(config, run, callbacks=[SignalAt(signal.SIGTERM, epoch=1, batch=0)])
    assert caught.value.exit_status == 143 and signal.getsignal(signal.SIGTERM) is handler
    assert one_line(caught.value) == (f"training stopped by SIGTERM at epoch 2, step 2 and "
                                      f"checkpointed there; continue with kerascon train "
                                      f"--run {run} --resume")
    directory = RunDirectory(run)
    state = state_of(run)
    assert (state["epoch"], state["step"]) == (1, 2)
    assert iterations(directory.checkpoint_path("contrastive")) == 5  # 3 + 2 steps
    previous = json.loads(directory.previous_checkpoint_state_path("contrastive").read_text())
    assert (previous["epoch"], previous["step"]) == (1, 0)

    # Truncate the last checkpoint: resuming warns and uses the previous one (epoch 1 end).
    checkpoint = directory.checkpoint_path("contrastive")
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    with pytest.warns(RuntimeWarning, match="epoch 2, step 2 is missing, truncated or corrupt"):
        point = directory.resume_state("contrastive")
    assert (point.epoch, point.step) == (1, 0) and iterations(point.checkpoint) == 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        metrics = run_stage(config, run, resume=True)
    assert metrics["epochs"] == 3 and iterations(run / "model.keras") == 9
    assert [row.split(",")[0] for row in
            (run / "stages/contrastive/metrics.csv").read_text().splitlines()] == \
        ["epoch", "0", "1", "2"]


def test_resume_from_a_step_and_refusal_when_no_checkpoint_is_intact(tmp_path):
    run = tmp_path / "run"
    config = tiny_config(steps_per_epoch=3)
    with pytest.raises(TrainingInterrupted) as caught:  # the first Ctrl-C
        run_stage(config, run, callbacks=[SignalAt(signal.SIGINT, epoch=0, batch=0)])
    assert caught.value.exit_status == 130 and "by SIGINT at epoch 1, step 2" in str(caught.value)
    assert (state_of(run)["epoch"], state_of(run)["step"]) == (0, 2)
    assert not RunDirectory(run).previous_checkpoint_path("contrastive").exists()
    # Resume from step 2 of epoch 1: 1 more step finishes epoch 1, then 2 full epochs.
    steps_seen = []

    class Count(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            steps_seen.append(batch)

    with pytest.raises(TrainingInterrupted):  # stopped again at the end of epoch 2
        run_stage(config, run, resume=True,
                  callbacks=[Count(), SignalAt(signal.SIGTERM, epoch=1, batch=1)])
    # Phase 1: epoch 1's last step; phase 2: epoch 2, stopped by the guard at its third
    # step (callbacks after the guard do not see that step's end; iterations below do).
    assert steps_seen == [0, 0, 1]
    assert (state_of(run)["epoch"], state_of(run)["step"]) == (2, 0)  # an epoch end
    assert iterations(RunDirectory(run).checkpoint_path("contrastive")) == 6

    # Both checkpoints corrupt: a clear refusal, no training.
    directory = RunDirectory(run)
    for path in (directory.checkpoint_path("contrastive"),
                 directory.previous_checkpoint_path("contrastive")):
        path.write_bytes(b"not a zip file")
    with pytest.raises(RunError) as refused:
        run_stage(config, run, resume=True)
    line = one_line(refused.value)
    assert "is truncated or corrupt and no earlier intact checkpoint is kept" in line, line
    assert line.endswith("start it again with --overwrite"), line


def test_console_script_sigterm_then_sigint_then_resume(tmp_path):
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(hooks), os.environ.get("PYTHONPATH")) if p))
    env.pop("KERASCON_DEBUG", None)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the console script's own default applies
    run = tmp_path / "run"
    state_path = RunDirectory(run).checkpoint_state_path("contrastive")
    steps = 20

    def train_until_signal(args, signum, after_epoch):
        process = subprocess.Popen([str(KERASCON), "train", *map(str, args), "--epochs", "100",
                                    "--quiet"],
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        deadline = time.monotonic() + 120
        while not (state_path.is_file() and json.loads(state_path.read_text())["epoch"]
                   >= after_epoch):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "training did not reach the epoch in time"
            time.sleep(0.05)
        os.kill(process.pid, signum)
        stdout, stderr = process.communicate(timeout=60)
        return process.returncode, stdout, stderr

    status, stdout, stderr = train_until_signal(
        [*TINY, "--steps-per-epoch", steps, "--output", run], signal.SIGTERM, after_epoch=1)
    lines = stderr.strip().splitlines()
    assert status == 143 and stdout == "" and len(lines) == 1, stderr
    assert lines[0].startswith("Interrupted: training stopped by SIGTERM at ") and \
        lines[0].endswith(f"checkpointed there; continue with kerascon train --run {run} "
                          "--resume"), lines[0]
    state = state_of(run)
    checkpoint = RunDirectory(run).checkpoint_path("contrastive")
    assert iterations(checkpoint) == state["epoch"] * steps + state["step"]
    first_stop = state["epoch"] * steps + state["step"]

    status, _, stderr = train_until_signal(["--run", run, "--resume"], signal.SIGINT,
                                           after_epoch=state["epoch"] + 1)
    assert status == 130 and "Interrupted: training stopped by SIGINT" in stderr, stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, stderr
    state = state_of(run)
    assert iterations(checkpoint) == state["epoch"] * steps + state["step"] > first_stop

    finish = state["epoch"] + 1
    done = subprocess.run([str(KERASCON), "train", "--run", str(run), "--resume", "--epochs",
                           str(finish), "--quiet"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert iterations(run / "model.keras") == finish * steps
    assert json.loads((run / "metrics.json").read_text())["contrastive"]["epochs"] == finish
