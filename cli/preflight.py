"""Refusals that need no TensorFlow: usage, paths, an existing --output, unknown names.

Loading TensorFlow takes about ten seconds; a typo should not. The commands call these
checks first, and they give the messages the library gives for the same input (after
TensorFlow is loaded the library checks everything again, so nothing relies on them).
Only plain Python and the TensorFlow-free tables are used here: the zoo's catalogue and
registry of pretrained entries, :class:`~kerascon.runs.config.TrainConfig`, the data path
checks (tests/test_fast_refusals.py asserts that TensorFlow stays unloaded).
"""

from __future__ import annotations

from pathlib import Path

import click

from kerascon.errors import RunError, Setting

__all__ = ["check_existing_run", "check_new_output", "check_train"]

# The stages that start a new run, from the TensorFlow-free stage table.
_LINEAR = "linear"


def check_existing_run(run_dir) -> None:
    """--run must name an existing directory (the library's words for a missing run)."""
    if run_dir is not None and not Path(run_dir).is_dir():
        raise RunError(f"run directory {Path(run_dir)} does not exist; pass the {{0}} of a "
                       "training run", Setting("output_dir"))


def check_new_output(output_dir, *, resume: bool, overwrite: bool) -> None:
    """A new run goes into a new or empty folder unless --resume or --overwrite is given.

    The library (:func:`kerascon.runs.training.run_stage`) decides what ``--overwrite``
    may replace; this check only answers the plain case early, in its words.
    """
    path = Path(output_dir)
    if resume or overwrite or not path.exists() or (path.is_dir() and not any(path.iterdir())):
        return
    raise RunError(f"run directory {path} already exists and is not empty; set {{0}} to "
                   "continue it, {1} to replace it, or choose another {2}",
                   Setting("resume", True), Setting("overwrite", True), Setting("output_dir"))


def _file_values(config_file) -> dict:
    from kerascon.runs.config import TrainConfig

    return TrainConfig.read_yaml(config_file) if config_file else {}


def check_train(*, stage, output_dir, run_dir, data, config_file, resume, overwrite,
                options) -> None:
    """The checks of `kerascon train` that need no TensorFlow, in the order it makes them.

    Raises:
        click.UsageError: a missing or contradictory option (exit 2).
        KerasconError, ValueError: a missing path, an existing --output, an unknown name.
    """
    if output_dir and run_dir:
        raise click.UsageError("pass either --output (a new run) or --run (an existing run), "
                               "not both")
    values = {**_file_values(config_file), **{k: v for k, v in options.items() if v is not None}}
    stage = stage or values.get("stage") or (None if resume else "contrastive")
    pretrained = values.get("pretrained")
    if stage == _LINEAR and not pretrained:
        if not run_dir:
            raise click.UsageError("--stage linear needs --run RUN_DIR (a finished run), or "
                                   "--pretrained NAME_OR_RUN_DIR --output NEW_RUN")
        check_existing_run(run_dir)
    else:  # a stage that starts a run, or --resume of a run's unfinished stage
        target = output_dir or (run_dir if resume else None)
        if not target:
            hint = " (or --run RUN_DIR --resume to continue one)"
            if pretrained and run_dir:
                hint = ": --pretrained starts a new run from its encoder"
            raise click.UsageError(f"--stage {stage or 'contrastive'} needs --output RUN_DIR{hint}")
        if run_dir and not (Path(run_dir) / "stages").is_dir():  # --run: an existing run
            what = "does not exist" if not Path(run_dir).is_dir() else "holds no training stage"
            raise RunError(f"run directory {run_dir} {what}, so there is nothing to resume; "
                           f"start a new run with --output {run_dir}")
        if output_dir:
            check_new_output(output_dir, resume=resume, overwrite=overwrite)
    if values.get("data"):
        from kerascon.data.data_paths import check_data_path

        check_data_path(values["data"])
    if pretrained:
        from kerascon.runs.pretrained_encoders import pretrained_run

        if pretrained_run(pretrained) is None:
            from kerascon.zoo.pretrained import get_pretrained

            get_pretrained(pretrained)
    elif values.get("arch"):
        from kerascon.zoo.catalogue import check_architecture_name

        check_architecture_name(values["arch"])
