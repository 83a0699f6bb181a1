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

from kerascon.errors import RunError

__all__ = ["check_existing_run", "check_new_output", "check_train"]

# The stages that start a new run, from the TensorFlow-free stage table.
_LINEAR = "linear"


def check_existing_run(run_dir, for_stage=None) -> None:
    """--run must name a run with a model: the library's own check (it needs no Keras)."""
    if run_dir is not None:
        from kerascon.runs.directory import RunDirectory

        RunDirectory(run_dir).require_model(for_stage=for_stage)


def check_new_output(output_dir, *, resume: bool, overwrite: bool, data_paths=()) -> None:
    """A new run goes into a new or empty folder, or replaces a run (never the user's files).

    The library's own checks (:meth:`RunDirectory.require_new_run`,
    :func:`kerascon.ownership.require_removable_run`), made before TensorFlow loads; the
    library makes them again before it writes anything.
    """
    from kerascon.runs.directory import RunDirectory

    if not resume:
        RunDirectory(output_dir).require_new_run(data_paths, overwrite=overwrite)


def _data_paths(values: dict) -> tuple:
    """The paths a run would read, as the library protects them (absolute when they exist)."""
    import os

    paths = (values.get("data"), values.get("data_dir"))
    return tuple(os.path.abspath(os.path.expanduser(str(p))) if os.path.exists(os.path.expanduser(str(p)))
                 else str(p) for p in paths if p)


def _nothing_to_resume(run_dir) -> str:
    """Why ``--run RUN --resume`` has nothing to continue, with a fix that works."""
    from kerascon.ownership import folder_contents
    from kerascon.runs.directory import RunDirectory

    if not Path(run_dir).is_dir():
        return (f"run directory {run_dir} does not exist, so there is nothing to resume; start "
                f"a new run with --output {run_dir}")
    if RunDirectory(run_dir).is_empty():
        return (f"run directory {run_dir} holds no training stage, so there is nothing to "
                f"resume; start a new run with --output {run_dir}")
    return (f"{run_dir} is not a kerascon run (it holds {folder_contents(run_dir)}), so there "
            "is nothing to resume; start a new run in a new or empty folder: --output DIR")


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
        check_existing_run(run_dir, for_stage=_LINEAR)
    else:  # a stage that starts a run, or --resume of a run's unfinished stage
        target = output_dir or (run_dir if resume else None)
        if not target:
            hint = " (or --run RUN_DIR --resume to continue one)"
            if pretrained and run_dir:
                hint = ": --pretrained starts a new run from its encoder"
            raise click.UsageError(f"--stage {stage or 'contrastive'} needs --output RUN_DIR{hint}")
        if run_dir and not (Path(run_dir) / "stages").is_dir():  # --run: an existing run
            raise RunError(_nothing_to_resume(run_dir))
        if output_dir:
            check_new_output(output_dir, resume=resume, overwrite=overwrite,
                             data_paths=_data_paths(values))
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
