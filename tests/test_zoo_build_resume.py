"""`kerascon zoo build --resume`: a stopped build continues from its checkpoint, a finished
stage is kept, a recipe that changed is refused in one line naming the field; and the data
options of `zoo verify` / `zoo build` (a user's own copy, a TFDS data directory)."""

import json
import signal

import pytest
from conftest import invoke_cli, one_error_line
from test_faults import SignalAt

from kerascon.errors import ConfigError
from kerascon.runs.directory import RunDirectory
from kerascon.runs.guards import TrainingInterrupted
from kerascon.runs.zoo_entries import build_recipe

pytestmark = [pytest.mark.usefixtures("tiny_architecture"), pytest.mark.slow]

STAGE_1 = """stage: contrastive
arch: cli_test_cnn
data: embedded:digits
image_size: 8
batch_size: 16
projection_dim: 8
projection_hidden_dim: 16
epochs: {epochs}
steps_per_epoch: 3
lr: 0.05
"""
STAGE_2 = "stage: linear\nepochs: 1\nsteps_per_epoch: 2\naugment: none\n"


def recipe(folder, epochs=2):
    folder.mkdir(exist_ok=True)
    (folder / "contrastive.yaml").write_text(STAGE_1.format(epochs=epochs))
    (folder / "linear.yaml").write_text(STAGE_2)
    return [folder / "contrastive.yaml", folder / "linear.yaml"]


def stop_in_epoch_2(config):
    return [SignalAt(signal.SIGTERM, epoch=1, batch=0)] if config.stage == "contrastive" else []


def test_a_stopped_build_resumes_from_its_checkpoint(tmp_path):
    files, run = recipe(tmp_path / "recipe"), tmp_path / "run"
    with pytest.raises(TrainingInterrupted):
        build_recipe(files, run, callbacks_for=stop_in_epoch_2)
    assert RunDirectory(run).finished_stages() == []
    assert RunDirectory(run).has_checkpoint("contrastive")
    built = build_recipe(files, run, resume=True)
    assert RunDirectory(run).finished_stages() == ["contrastive", "linear"]
    assert len(built["sha256"]) == 64 and (run / "zoo" / "encoder.npz").is_file()
    # Contrastive: 3 steps of epoch 1, 1 of epoch 2 before the stop, then the 2 left.
    rows = (run / "stages" / "contrastive" / "metrics.csv").read_text().splitlines()
    assert len(rows) == 3, rows  # header + epochs 1 and 2, none twice
    # A second resume of a finished build keeps both stages and measures again.
    again = build_recipe(files, run, resume=True)
    assert again["sha256"] == built["sha256"]


def test_a_changed_recipe_is_refused_naming_the_field(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(TrainingInterrupted):
        build_recipe(recipe(tmp_path / "a"), run, callbacks_for=stop_in_epoch_2)
    with pytest.raises(ConfigError) as caught:
        build_recipe(recipe(tmp_path / "b", epochs=3), run, resume=True)
    assert str(caught.value).startswith(f"run {run} was built with contrastive epochs 2, the "
                                        "recipe says 3;"), caught.value
    assert RunDirectory(run).has_checkpoint("contrastive")  # nothing lost


def test_resume_refuses_a_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="is not a kerascon run"):
        build_recipe(recipe(tmp_path / "r"), tmp_path, resume=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_cli_resume_with_overwrite_is_a_usage_error(tmp_path):
    result = invoke_cli("zoo", "build", "resnet18.supcon_digits", "--output", tmp_path / "x",
                        "--resume", "--overwrite")
    assert result.exit_code == 2 and "pass one of them" in result.output
    assert not (tmp_path / "x").exists()


def test_verify_without_the_data_names_data_and_tfds(tmp_path):
    """An entry whose recipe reads TFDS cifar10, verified with no prepared copy: one line."""
    (tmp_path / "tfds").mkdir()
    from kerascon.zoo.pretrained import get_pretrained

    name = "resnet20.supcon_cifar10"
    get_pretrained(name)
    line = one_error_line(invoke_cli("zoo", "verify", name, "--data-dir", tmp_path / "tfds",
                                     "--linear-epochs", "1"))
    assert "'cifar10' is not prepared in" in line and str(tmp_path / "tfds") in line, line
    assert "--data PATH" in line and "--data-dir DIR" in line, line


def test_build_reads_the_data_option_into_the_run(tmp_path):
    """--data replaces the recipe's data source (here the embedded digits stand in)."""
    files, run = recipe(tmp_path / "recipe"), tmp_path / "run"
    build_recipe(files, run, data="embedded:digits")
    config = json.loads(json.dumps((run / "stages" / "contrastive" / "config.yaml").read_text()))
    assert "data: embedded:digits" in config
