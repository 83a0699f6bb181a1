"""The per-epoch progress lines of `kerascon train` (cli/progress.py)."""

import io

import keras
import numpy as np
from rich.console import Console

from kerascon.cli.progress import RichProgress


def test_a_resumed_stage_counts_epochs_of_the_whole_stage():
    """A stage resumed in epoch 2 of 3 trains in two fit calls; both say `/3`."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.zeros((8, 2), "float32"), np.zeros((8, 1), "float32")
    out = io.StringIO()
    progress = RichProgress(images_per_step=4, epochs=3,
                            console=Console(file=out, force_terminal=False, width=200))
    model.fit(x, y, batch_size=4, initial_epoch=1, epochs=2, steps_per_epoch=1,
              callbacks=[progress], verbose=0)  # the rest of the interrupted epoch
    model.fit(x, y, batch_size=4, initial_epoch=2, epochs=3, callbacks=[progress], verbose=0)
    lines = out.getvalue().splitlines()
    assert [line.split()[:2] for line in lines] == [["epoch", "2/3"], ["epoch", "3/3"]]
    assert "(" in lines[1] and "img/s)" in lines[1]
