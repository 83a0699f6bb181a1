"""A rich progress bar per epoch: step, loss, learning rate, images/s and ETA."""

from __future__ import annotations

import time

import keras
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


def _learning_rate(optimizer) -> float:
    lr = optimizer.learning_rate
    if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
        return float(lr(optimizer.iterations))
    return float(keras.ops.convert_to_numpy(lr))


class RichProgress(keras.callbacks.Callback):
    """Keras callback drawing one rich progress bar per epoch and a summary line.

    The bar (step m/n, loss, learning rate, images/s, ETA) is drawn only on a terminal
    and disappears at the end of the epoch; the summary line is always printed.

    Args:
        images_per_step: images (views counted) per step, for images/s.
        console: where to draw; stderr by default, so stdout stays clean for --json.
        epochs: the stage's number of epochs, shown as ``epoch k/epochs``. A resumed stage
            trains in more than one ``fit`` call (first the rest of the interrupted epoch),
            and each call's own ``epochs`` would show ``epoch 1/1`` then ``epoch 2/2``.
    """

    def __init__(self, images_per_step: int, console: Console | None = None,
                 epochs: int | None = None):
        super().__init__()
        self.steps = None
        self.epochs = epochs
        self.images_per_step = images_per_step
        self.console = console or Console(stderr=True)
        self._progress = None
        self._start = time.perf_counter()

    def on_train_begin(self, logs=None):
        self.steps = self.params.get("steps")

    def _total_epochs(self):
        return self.epochs or self.params.get("epochs", "?")

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._start = time.perf_counter()
        if not self.console.is_terminal:  # a log file or pipe gets the epoch lines only
            self._progress = None
            return
        self._progress = Progress(
            TextColumn(f"epoch {epoch + 1}/{self._total_epochs()}"),
            BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
            TimeRemainingColumn(), console=self.console, transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task("train", total=self.steps, info="")

    def on_train_batch_end(self, batch, logs=None):
        if self._progress is None:
            return
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        rate = (batch + 1) * self.images_per_step / elapsed
        info = f"loss {float(logs.get('loss', float('nan'))):.4f}  " \
               f"lr {_learning_rate(self.model.optimizer):.4g}  {rate:,.0f} img/s"
        self._progress.update(self._task, completed=batch + 1, info=info)

    def on_epoch_end(self, epoch, logs=None):
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        elapsed = time.perf_counter() - self._start
        parts = "  ".join(f"{k} {float(v):.4f}" for k, v in (logs or {}).items())
        rate = (self.steps or 0) * self.images_per_step / max(elapsed, 1e-9)
        line = (f"epoch {epoch + 1}/{self._total_epochs()}  {parts}  "
                f"lr {_learning_rate(self.model.optimizer):.4g}  "
                f"({elapsed:.1f}s, {rate:,.0f} img/s)")
        self.console.print(line, highlight=False, soft_wrap=True, markup=False)

    def on_train_end(self, logs=None):
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
