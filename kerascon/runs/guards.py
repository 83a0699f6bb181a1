"""Stop training cleanly: on a non-finite loss, and on SIGTERM or Ctrl-C (SIGINT).

:class:`TrainingGuard` is the Keras callback :func:`~kerascon.runs.training.run_stage`
adds to every stage. After each step it checks the loss: NaN or inf stops training with a
one-line :class:`NonFiniteLossError` (the weights of that step are not saved, so the last
checkpoint stays the last good one). While :func:`stop_requests` is active, SIGTERM (what
a cluster scheduler sends before it kills a job) and a first Ctrl-C only set a flag; the
guard sees it at the next step boundary, checkpoints that step and raises
:class:`TrainingInterrupted`, whose ``exit_status`` is the shell's convention for the
signal (143 for SIGTERM, 130 for SIGINT). A second Ctrl-C interrupts at once.

Example:
    >>> import numpy as np
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> x, y = np.ones((8, 2)), np.ones((8, 1))
    >>> with stop_requests() as requests:
    ...     guard = TrainingGuard(requests, checkpointer=None, steps=2)
    ...     history = model.fit(x, y, batch_size=4, epochs=1, callbacks=[guard], verbose=0)
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
from typing import Iterator, Optional

import keras

from kerascon.errors import RunError, Setting, Step

__all__ = ["NonFiniteLossError", "StopRequests", "TrainingGuard", "TrainingInterrupted",
           "stop_requests"]


class NonFiniteLossError(RunError):
    """The training loss became NaN or infinite; the last good checkpoint is kept."""


class TrainingInterrupted(RunError):
    """Training stopped on a signal after checkpointing; ``exit_status`` = 128 + signal."""

    exit_status = 1

    @classmethod
    def for_signal(cls, signum: int, template: str, *hints) -> "TrainingInterrupted":
        error = cls(template, *hints)
        error.signum = signum
        error.exit_status = 128 + signum
        return error

    def __reduce__(self):
        return (_rebuild_interrupted, (self.template, self.hints, self.exit_status))


def _rebuild_interrupted(template, hints, exit_status):
    error = TrainingInterrupted(template, *hints)
    error.exit_status = exit_status
    return error


class StopRequests:
    """The signal that asked training to stop, if any (set by :func:`stop_requests`)."""

    def __init__(self):
        self.signum: Optional[int] = None

    def request(self, signum: int) -> None:
        self.signum = signum


@contextlib.contextmanager
def stop_requests(signals=(signal.SIGTERM, signal.SIGINT)) -> Iterator[StopRequests]:
    """Turn SIGTERM and a first SIGINT into a stop request while the block runs.

    Outside the main thread (where Python cannot set handlers) nothing is installed and
    signals keep their usual effect. The previous handlers are restored on exit.

    Example:
        >>> with stop_requests() as requests:
        ...     pass
        >>> requests.signum is None
        True
    """
    requests = StopRequests()
    if threading.current_thread() is not threading.main_thread():
        yield requests
        return

    def handler(signum, frame):
        if signum == signal.SIGINT and requests.signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now, without a checkpoint
        requests.request(signum)

    previous = {}
    try:
        for signum in signals:
            previous[signum] = signal.signal(signum, handler)
        yield requests
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _learning_rate(optimizer) -> float:
    lr = optimizer.learning_rate
    if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
        return float(keras.ops.convert_to_numpy(lr(optimizer.iterations)))
    return float(keras.ops.convert_to_numpy(lr))


def _where(epoch: int, step: int) -> str:
    return f"epoch {epoch + 1}, step {step}" if step else f"end of epoch {epoch}"


class TrainingGuard(keras.callbacks.Callback):
    """Stops training on a non-finite loss or a stop request, with a one-line error.

    Args:
        requests: the :class:`StopRequests` of the surrounding :func:`stop_requests`.
        checkpointer: the :class:`~kerascon.runs.checkpoints.EpochCheckpoint` that saves a
            stop request's step (None on workers that do not write checkpoints).
        steps: steps in a full epoch.
        step_offset: steps of the first epoch already done before this ``fit`` (a run
            resumed in the middle of an epoch).
        run_dir, stage, batch_size, lr: for the fix the errors name.

    Example:
        >>> guard = TrainingGuard(StopRequests(), checkpointer=None, steps=10)
    """

    def __init__(self, requests: StopRequests, checkpointer=None, *, steps: int,
                 step_offset: int = 0, run_dir=None, stage: str = "contrastive",
                 batch_size: Optional[int] = None, lr: Optional[float] = None):
        super().__init__()
        self.requests = requests
        self.checkpointer = checkpointer
        self.steps = steps
        self.step_offset = step_offset
        self.run_dir = str(run_dir) if run_dir is not None else None
        self.stage = stage
        self.batch_size = batch_size
        self.lr = lr
        self.last_finite_loss = None
        self._validated = None  # the checkpoint whose weights last gave a finite loss
        self._epoch = 0
        self._first_epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        if self._first_epoch is None:
            self._first_epoch = epoch

    def _step(self, batch: int) -> int:
        return batch + 1 + (self.step_offset if self._epoch == self._first_epoch else 0)

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None:
            loss = float(keras.ops.convert_to_numpy(loss))
            if not math.isfinite(loss):
                raise self._non_finite(loss, self._step(batch))
            self.last_finite_loss = loss
            self._validated = getattr(self.checkpointer, "saved", None)
        if self.requests.signum is not None:
            self._stop(self._step(batch), logs)

    def _run_hints(self, *settings):
        return (Setting("run_dir", self.run_dir), *settings) if self.run_dir else settings

    def _non_finite(self, loss: float, step: int) -> NonFiniteLossError:
        last = f"{self.last_finite_loss:.4g}" if self.last_finite_loss is not None else "none"
        lr = self.lr if self.lr is not None else _learning_rate(self.model.optimizer)
        batch = f" for batch size {self.batch_size}" if self.batch_size else ""
        lower = Setting("lr", float(f"{lr / 10:.3g}"))
        saved = getattr(self.checkpointer, "saved", None)
        if saved and saved != self._validated:
            # No finite step since the last checkpoint: its weights diverge already.
            saved = self.checkpointer.mark_diverged()
        if saved:
            fix = Step("train", self._run_hints(Setting("resume", True), lower))
            then = f"continue from the last good checkpoint ({_where(*saved)}) with a lower one:"
        else:
            # Nothing to resume: the stage's files are removed (kerascon.runs.training), so
            # the same command with a lower rate starts it again.
            fix = lower
            then = "no checkpoint was written yet: run the same command again with a lower one,"
        return NonFiniteLossError(
            f"the {self.stage} loss became {loss} at epoch {self._epoch + 1}, step {step} of "
            f"{self.steps} (last finite loss {last}); the learning rate ({lr:.3g}) is likely too "
            f"high{batch}: {then} {{0}}", fix)

    def _stop(self, step: int, logs) -> None:
        signum = self.requests.signum
        name = signal.Signals(signum).name
        epoch, step = (self._epoch + 1, 0) if step >= self.steps else (self._epoch, step)
        if self.checkpointer is None:
            raise TrainingInterrupted.for_signal(
                signum, f"training stopped by {name} at {_where(epoch, step)}; this worker "
                "writes no checkpoint (the chief does): continue with {0}",
                Step("train", self._run_hints(Setting("resume", True))))
        logs = {k: float(keras.ops.convert_to_numpy(v)) for k, v in (logs or {}).items()}
        if step == 0:  # the last step of an epoch: a regular epoch-end checkpoint
            self.checkpointer.history = self.checkpointer.history[:self._epoch] + [logs]
        self.checkpointer.save(epoch, step, logs)
        if step == 0:
            self.checkpointer.write_csv()
        raise TrainingInterrupted.for_signal(
            signum, f"training stopped by {name} at {_where(epoch, step)} and checkpointed "
            "there; continue with {0}", Step("train", self._run_hints(Setting("resume", True))))
