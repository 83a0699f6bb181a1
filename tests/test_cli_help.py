"""Help and output for people and scripts: every option explained with its default, every
command's help ends with examples, tables whole in a pipe, progress counts the stage's epochs."""

import json
import os
import subprocess
import sys

import click
import keras
import numpy as np
from conftest import invoke_cli
from rich.console import Console

from kerascon.cli.main import main
from kerascon.cli.progress import RichProgress
from kerascon.runs.config import LINEAR_STAGE_DEFAULTS, TrainConfig


def _commands(group=main, path=()):
    for name, command in group.commands.items():
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


def test_every_command_help_ends_with_examples():
    for path, command in _commands():
        result = invoke_cli(*path, "--help")
        assert result.exit_code == 0, path
        examples = result.output.split("Examples:")
        assert len(examples) == 2, path
        assert any(line.strip().startswith("kerascon ") for line in examples[1].splitlines()), path


#: Options whose default is said in words: it depends on the data, the stage or --pretrained.
IN_WORDS = {"split", "eval_split", "backbone_lr_multiplier", "stage"}


def test_every_train_option_has_help_and_its_default_from_train_config():
    train = main.commands["train"]
    fields = TrainConfig.__dataclass_fields__
    for option in train.params:
        if option.name == "help":
            continue
        assert option.help, f"--{option.name} has no help"
        if option.name in fields and not option.is_flag and option.name not in IN_WORDS:
            default = fields[option.name].default
            shown = "none" if default is None else (f"{default:g}" if isinstance(default, float)
                                                    else str(default))
            assert f"default: {shown}" in option.help, (option.name, option.help)
        elif option.name in IN_WORDS:
            assert "default" in option.help, option.name
    epochs = next(o for o in train.params if o.name == "epochs").help
    assert f"default: {fields['epochs'].default}; --stage linear: " \
           f"{LINEAR_STAGE_DEFAULTS['epochs']}" in epochs
    assert "The encoder's feature dimension".lower() in \
        next(o for o in train.params if o.name == "lr").help.lower()


def test_data_help_names_the_npz_keys():
    data = next(o for o in main.commands["train"].params if o.name == "data").help
    assert "images (or x)" in data and "x_train/y_train" in data and "class_names" in data


def _run(*args):
    # stdout is a pipe here, as in `kerascon zoo list | grep ...`
    return subprocess.run([sys.executable, "-m", "kerascon.cli.main", *args], capture_output=True,
                          text=True, timeout=120, check=True,
                          env={**os.environ, "COLUMNS": "80"}).stdout


def test_zoo_list_in_a_pipe_keeps_whole_names():
    from kerascon.zoo.pretrained import list_pretrained

    table = _run("zoo", "list")
    assert "…" not in table
    for name in list_pretrained():
        assert any(f" {name} " in line for line in table.splitlines()), name
    plain = _run("zoo", "list", "--pretrained", "--format", "plain").splitlines()
    assert plain[0].split("\t")[:2] == ["name", "dataset"]
    assert [line.split("\t")[0] for line in plain[1:]] == list_pretrained()
    listing = json.loads(_run("zoo", "list", "resnet1*", "--format", "json"))
    assert [row["name"] for row in listing["architectures"]] == ["resnet18", "resnet101",
                                                                 "resnet110", "resnet152"]
    assert [row["name"] for row in listing["pretrained"]] == list_pretrained("resnet1*")
    assert listing["architectures"][0]["features"] == 512


def test_resumed_progress_counts_the_stage_epochs():
    """A resumed stage trains in two fit calls; each line says `epoch k/<stage epochs>`."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.zeros((4, 2), "float32"), np.zeros((4, 1), "float32")
    console = Console(record=True, width=200)
    progress = RichProgress(images_per_step=2, console=console, total_epochs=3)
    model.fit(x, y, batch_size=2, initial_epoch=0, epochs=1, callbacks=[progress], verbose=0)
    model.fit(x, y, batch_size=2, initial_epoch=1, epochs=3, callbacks=[progress], verbose=0)
    lines = [line.split()[:2] for line in console.export_text().splitlines() if line]
    assert lines == [["epoch", "1/3"], ["epoch", "2/3"], ["epoch", "3/3"]]
