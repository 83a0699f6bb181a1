"""Errors of the command line: one actionable line and exit code 1, usage errors exit 2,
tracebacks only with --debug or KERASCON_DEBUG=1, and nothing written on bad input."""

import pytest
from conftest import invoke_cli as invoke
from conftest import one_error_line
from PIL import Image

import kerascon.data.dispatch
from kerascon.errors import ConfigError

pytestmark = pytest.mark.usefixtures("tiny_architecture")

TINY = ["--arch", "cli_test_cnn", "--image-size", "8", "--batch-size", "32",
        "--projection-dim", "8", "--projection-hidden-dim", "16", "--epochs", "1",
        "--steps-per-epoch", "1", "--quiet"]




def test_help_has_examples():
    for command in ([], ["train"], ["eval"], ["export"], ["freeze"], ["zoo"]):
        result = invoke(*command, "--help")
        assert result.exit_code == 0, command
        assert "Examples:" in result.output, command
        # \b paragraphs keep one example per line.
        examples = result.output.split("Examples:")[1]
        assert any(line.strip().startswith("kerascon ") for line in examples.splitlines())


def test_usage_errors_exit_2():
    for args in (["train", "--epochs", "many"],
                 ["no-such-command"],
                 ["train", "--stage", "linear"],          # needs --run
                 ["train", "--stage", "ce"],              # needs --output
                 ["eval"],                                # --run is required
                 ["eval", "--run", "r", "--batch-size", "0"],
                 ["train", "--data", "a", "--dataset", "b", "--output", "x"]):
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "Usage:" in result.output and "Traceback" not in result.output


def test_traceback_only_with_debug(tmp_path):
    args = ["train", *TINY, "--temperature", "0", "--output", tmp_path / "run"]
    assert "temperature must be > 0" in one_error_line(invoke(*args))
    for result in (invoke("--debug", *args), invoke(*args, env={"KERASCON_DEBUG": "1"})):
        assert isinstance(result.exception, ConfigError)  # raised, so Python prints it
        assert "Error:" not in result.output
    assert not (tmp_path / "run").exists()


def write_folder(root, classes, per_class=2):
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (8, 8), (40 * i, 0, 0)).save(root / name / f"{i}.png")


@pytest.fixture
def offline(monkeypatch):
    """No network, whatever the machine has: TFDS must not try to download."""
    monkeypatch.setattr(kerascon.data.dispatch, "_online", lambda *args, **kwargs: False)


@pytest.mark.parametrize("args,expected", [
    (["--data", "{tmp}/no_such_folder"], ["no_such_folder' does not exist", "--data"]),
    (["--data", "{tmp}/empty"], ["'{tmp}/empty' is empty", "train/<class>/", "--split none"]),
    (["--data", "{tmp}/one_class"], ["only one class ('cat')", "at least 2"]),
    (["--temperature", "0"], ["temperature must be > 0"]),
    (["--stage", "joint", "--joint-weight", "1.5"],
     ["joint_weight 1.5 is outside [0, 1]", "--joint-weight 0.5"]),
    (["--stage", "joint", "--joint-weight", "-0.1"],
     ["joint_weight -0.1 is outside [0, 1]", "--joint-weight 0.5"]),
    (["--config", "{tmp}/heavy.yaml"], ["joint_weight 2 is outside [0, 1]", "--joint-weight 0.5"]),
    (["--batch-size", "0"], ["batch_size must be an integer >= 1, got 0"]),
    (["--views", "0"], ["views must be an integer >= 1, got 0"]),
    (["--arch", "resnet51"], ["unknown architecture 'resnet51'", "did you mean 'resnet50' or 'resnet56'?"]),
    (["--config", "{tmp}/bad.yaml"], ["unknown configuration key 'temprature'",
                                      "did you mean 'temperature'"]),
    (["--dataset", "cifar10", "--data-dir", "{tmp}/tfds"],
     ["'cifar10' is not prepared in '{tmp}/tfds'", "no network", "--data-dir DIR",
      "--data PATH"]),
    (["--dataset", "no_such_dataset_xyz", "--data-dir", "{tmp}/tfds"],
     ["'no_such_dataset_xyz' is neither an existing file or folder nor a TFDS dataset",
      "--data PATH", "--dataset NAME"]),
])
def test_bad_training_input(tmp_path, offline, args, expected):
    (tmp_path / "empty").mkdir()
    write_folder(tmp_path / "one_class" / "train", ["cat"])
    write_folder(tmp_path / "one_class" / "test", ["cat"])
    (tmp_path / "bad.yaml").write_text("temprature: 0.5\n")
    (tmp_path / "heavy.yaml").write_text("stage: joint\njoint_weight: 2\n")
    args = [a.format(tmp=tmp_path) for a in args]
    output = tmp_path / "run"
    message = one_error_line(invoke("train", *TINY, *args, "--output", output))
    for part in expected:
        assert part.format(tmp=tmp_path) in message, message
    assert not output.exists()


@pytest.mark.parametrize("command", [["eval", "--frozen"], ["export"], ["freeze"],
                                     ["train", "--resume"]])
def test_commands_need_a_finished_run(tmp_path, command):
    message = one_error_line(invoke(*command, "--run", tmp_path / "missing"))
    assert "does not exist" in message and "--output" in message
    assert not (tmp_path / "missing").exists()
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    message = one_error_line(invoke(*command, "--run", unfinished))
    if command[0] == "train":
        assert "holds no training stage" in message
    else:
        assert "has no model.keras" in message
    assert f"--output {unfinished}" in message
    assert list(unfinished.iterdir()) == []
