"""Bad arguments are refused before TensorFlow loads, in the library's own words.

Each case runs the real command line in a fresh interpreter and checks that it exits with
the expected code and line, without TensorFlow or Keras in ``sys.modules``; a second test
checks that the early line is the very message the library gives for the same input.
"""

import os
import subprocess
import sys

import pytest

from kerascon.cli.hints import render_error

SCRIPT = """
import atexit, sys
atexit.register(lambda: sys.stderr.write(
    "\\nLOADED %s %s\\n" % ("tensorflow" in sys.modules, "keras" in sys.modules)))
from kerascon.cli.main import main
main(sys.argv[1:], prog_name="kerascon")
"""


def run_cli(*args, cwd=None):
    """``kerascon ARGS`` in a new interpreter: (exit code, stdout, stderr lines, TF loaded)."""
    completed = subprocess.run([sys.executable, "-c", SCRIPT, *map(str, args)],
                               capture_output=True, text=True, timeout=120, cwd=cwd,
                               env={**os.environ, "COLUMNS": "200"})
    lines = [line for line in completed.stderr.splitlines() if line.strip()]
    loaded = lines.pop()
    return completed.returncode, completed.stdout, lines, loaded != "LOADED False False"


@pytest.fixture
def places(tmp_path):
    """A non-empty folder, an existing file that is no data, and paths that do not exist."""
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    (tmp_path / "notes.txt").write_text("not data")
    (tmp_path / "oldrun").mkdir()  # a finished run: its marker and metrics
    (tmp_path / "oldrun" / "kerascon-run.json").write_text('{"format": 1, "kind": "run"}')
    (tmp_path / "oldrun" / "metrics.json").write_text('{"contrastive": {}}')
    return tmp_path


CASES = [
    # (arguments, exit code, words the one line holds)
    (["train", "--data", "{t}/missing", "--output", "{t}/run"], 1,
     ["data path '{t}/missing' does not exist", "check --data"]),
    (["train", "--data", "{t}/notes.txt", "--output", "{t}/run"], 1,
     ["is neither an image folder nor a .npz file", "--data PATH"]),
    (["train", "--data", "embedded:digits", "--output", "{t}/full"], 1,
     ["{t}/full already exists and is not a kerascon run (it holds notes.txt)",
      "choose another --output DIR"]),
    (["train", "--data", "embedded:digits", "--output", "{t}/full", "--overwrite"], 1,
     ["{t}/full is not a kerascon run (it holds notes.txt, and no kerascon-run.json), so "
      "--overwrite does not delete it"]),
    (["train", "--data", "embedded:digits", "--output", "{t}/oldrun"], 1,
     ["run directory {t}/oldrun already exists and is not empty; replace it with --overwrite, "
      "or choose another --output DIR"]),
    (["train", "--arch", "resnet81", "--output", "{t}/run"], 1,
     ["unknown architecture 'resnet81'; did you mean 'resnet18'? see kerascon zoo list"]),
    (["train", "--pretrained", "resnet18.supcon_digit", "--output", "{t}/run"], 1,
     ["unknown pretrained weights 'resnet18.supcon_digit'", "'resnet18.supcon_digits'"]),
    (["train", "--stage", "linear", "--pretrained", "{t}/no_run", "--output", "{t}/run"], 1,
     ["pretrained run directory {t}/no_run does not exist",
      "see kerascon zoo list --pretrained"]),
    (["train", "--stage", "linear", "--pretrained", "{t}/full", "--output", "{t}/run"], 1,
     ["holds no model.keras"]),
    (["train", "--output", "{t}/a", "--run", "{t}/b"], 2, ["pass either --output"]),
    (["train", "--data", "a", "--dataset", "b", "--output", "{t}/run"], 2,
     ["pass either --data or --dataset"]),
    (["train", "--stage", "linear"], 2, ["--stage linear needs --run RUN_DIR",
                                         "--pretrained NAME_OR_RUN_DIR --output NEW_RUN"]),
    (["train", "--stage", "linear", "--pretrained", "resnet18.supcon_digits", "--run", "{t}/full"],
     2, ["--stage linear needs --output RUN_DIR: --pretrained starts a new run"]),
    (["train", "--epochs", "many"], 2, ["'many' is not a valid integer"]),
    (["train", "--resume", "--run", "{t}/missing"], 1,
     ["run directory {t}/missing does not exist, so there is nothing to resume"]),
    (["train", "--stage", "linear", "--run", "{t}/missing"], 1,
     ["run directory {t}/missing does not exist", "--output"]),
    (["eval", "--run", "{t}/missing"], 1, ["run directory {t}/missing does not exist"]),
    (["export", "--run", "{t}/missing"], 1, ["run directory {t}/missing does not exist"]),
    (["freeze", "--run", "{t}/missing"], 1, ["run directory {t}/missing does not exist"]),
    (["zoo", "verify", "resnet18.supcon_digit"], 1, ["did you mean 'resnet18.supcon_digits'"]),
    (["zoo", "build", "resnet18.supcon_digit", "--output", "{t}/run"], 1,
     ["did you mean 'resnet18.supcon_digits'"]),
    (["zoo", "show", "resnet81"], 1, ["did you mean 'resnet18'? see kerascon zoo list"]),
]


@pytest.mark.parametrize("args,code,words", CASES, ids=[" ".join(c[0][:3]) for c in CASES])
def test_refused_without_loading_tensorflow(places, args, code, words):
    status, _, lines, loaded = run_cli(*(a.format(t=places) for a in args))
    assert status == code, lines
    assert not loaded, "TensorFlow or Keras was imported before the refusal"
    message = lines[-1]
    assert message.startswith("Error: "), lines
    for part in words:
        assert part.format(t=places) in message, message
    assert sorted(p.name for p in places.iterdir()) == ["full", "notes.txt", "oldrun"]  # nothing written
    assert sorted(p.name for p in (places / "oldrun").iterdir()) == ["kerascon-run.json", "metrics.json"]
    assert (places / "full" / "notes.txt").read_text() == "mine"
    assert [p.name for p in (places / "full").iterdir()] == ["notes.txt"]


def _library_messages(places):
    """What the library (with TensorFlow loaded) says for the same bad inputs."""
    from kerascon.data.dispatch import load_source
    from kerascon.encoders import get_architecture
    from kerascon.runs.config import TrainConfig
    from kerascon.runs.directory import RunDirectory
    from kerascon.runs.training import run_stage
    from kerascon.zoo import get_pretrained

    attempts = {
        "data": lambda: load_source(str(places / "missing")),
        "file": lambda: load_source(str(places / "notes.txt")),
        "arch": lambda: get_architecture("resnet81"),
        "pretrained": lambda: get_pretrained("resnet18.supcon_digit"),
        "output": lambda: run_stage(TrainConfig(data="embedded:digits"), places / "full"),
        "run": lambda: RunDirectory(places / "missing").require_model(),
    }
    messages = {}
    for name, attempt in attempts.items():
        with pytest.raises(Exception) as info:  # noqa: PT011 - each raises its own kind
            attempt()
        messages[name] = render_error(info.value)
    return messages


def test_early_messages_are_the_library_messages(places):
    early = {
        "data": ["train", "--data", places / "missing", "--output", places / "run"],
        "file": ["train", "--data", places / "notes.txt", "--output", places / "run"],
        "arch": ["train", "--arch", "resnet81", "--output", places / "run"],
        "pretrained": ["train", "--pretrained", "resnet18.supcon_digit", "--output",
                       places / "run"],
        "output": ["train", "--output", places / "full"],
        "run": ["export", "--run", places / "missing"],
    }
    library = _library_messages(places)
    for name, args in early.items():
        status, _, lines, loaded = run_cli(*args)
        assert status == 1 and not loaded, (name, lines)
        assert lines[-1] == f"Error: {library[name]}", name


@pytest.mark.parametrize("command", [[], ["train"], ["eval"], ["export"], ["freeze"],
                                     ["report"], ["zoo"], ["zoo", "list"], ["zoo", "show"],
                                     ["zoo", "download"], ["zoo", "verify"], ["zoo", "build"]])
def test_help_loads_no_tensorflow(command):
    status, stdout, lines, loaded = run_cli(*command, "--help")
    assert status == 0 and not loaded and lines == [], (command, lines)
    assert "Examples:" in stdout


def test_zoo_convert_help_prints_no_tensorflow_log():
    status, stdout, lines, loaded = run_cli("zoo", "convert", "--help")
    assert status == 0 and not loaded and lines == []
    assert "[supcontrast|torchvision|cifar_resnet]" in stdout and "Examples:" in stdout
