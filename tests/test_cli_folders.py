"""Image folders through CliRunner: a ce run with a corrupt file, and a flat folder.

The train/test folder layout with every command (contrastive, linear, eval, export,
freeze) is in tests/test_cli_subprocess.py, partly through the console script.
"""

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from kerascon.cli.main import main

pytestmark = pytest.mark.usefixtures("tiny_architecture")

SMALL = ["--arch", "cli_test_cnn", "--image-size", "8", "--batch-size", "32",
         "--projection-dim", "8", "--projection-hidden-dim", "16"]


def write_images(folder, classes=("cat", "dog"), per_class=20, seed=0, fmt="png"):
    """``folder/<class>/<i>.<fmt>``: random 8x8 to 10x10 RGB images."""
    rng = np.random.default_rng(seed)
    for label, name in enumerate(classes):
        os.makedirs(folder / name, exist_ok=True)
        for i in range(per_class):
            size = 8 + i % 3
            pixels = rng.integers(0, 128, (size, size, 3), dtype=np.uint8) + 100 * label
            Image.fromarray(pixels.astype(np.uint8)).save(folder / name / f"{i}.{fmt}")


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def error_of(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    return lines[0]


def test_ce_stage_on_a_folder_with_a_corrupt_image(tmp_path):
    data = tmp_path / "pets"
    write_images(data / "train", per_class=18)
    write_images(data / "test", per_class=3, seed=1)
    bad = data / "train" / "dog" / "broken.png"
    bad.write_bytes(b"\x89PNG not really an image")

    message = error_of("train", "--stage", "ce", "--data", data, *SMALL,
                       "--output", tmp_path / "refused")
    assert str(bad) in message and "--skip-corrupt" in message
    assert not (tmp_path / "refused").exists()

    output = tmp_path / "ce"
    result = run("train", "--stage", "ce", "--data", data, *SMALL, "--epochs", "1",
                 "--steps-per-epoch", "1", "--skip-corrupt", "--output", output, "--json")
    report = json.loads(result.stdout)
    assert report["stage"] == "ce" and report["skipped_images"] == 1
    assert 0.0 <= report["top1"] <= 1.0
    evaluated = json.loads(run("eval", "--run", output, "--json").stdout)
    assert evaluated["examples"] == 6
    assert evaluated["top1"] == report["top1"]


def test_flat_folder_holds_out_or_takes_split_none(tmp_path):
    data = tmp_path / "flowers"
    write_images(data, classes=("daisy", "rose", "tulip"), per_class=12)
    held = tmp_path / "held"
    report = json.loads(run("train", "--stage", "ce", "--data", data, *SMALL, "--epochs", "1",
                            "--steps-per-epoch", "1", "--output", held, "--json").stdout)
    assert report["held_out_examples"] == 3 and 0.0 <= report["top1"] <= 1.0  # 10% of 12 each
    assert (held / "stages" / "ce" / "holdout.json").is_file()
    message = error_of("train", "--stage", "ce", "--data", data, "--split", "none", *SMALL,
                       "--output", tmp_path / "refused")
    assert "--eval-split none" in message
    assert not (tmp_path / "refused").exists()

    output = tmp_path / "run"
    report = json.loads(run("train", "--stage", "ce", "--data", data, "--split", "none",
                            "--eval-split", "none", *SMALL, "--epochs", "1",
                            "--steps-per-epoch", "1", "--output", output, "--json").stdout)
    assert "top1" not in report  # no final evaluation
    message = error_of("eval", "--run", output)
    assert "--eval-split none" in message and "--split" in message
    held_out = tmp_path / "held_out"
    write_images(held_out, classes=("daisy", "rose", "tulip"), per_class=2, seed=3)
    report = json.loads(run("eval", "--run", output, "--data", held_out, "--split", "none",
                            "--json").stdout)
    assert report["examples"] == 6 and 0.0 <= report["top1"] <= 1.0
