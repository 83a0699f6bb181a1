"""Data without splits of its own: a seeded, stratified hold-out (kerascon.data.holdout),
through load_source (flat image folders, .npz without *_idx) and the command line (the
run records it; the linear stage and `kerascon eval` reuse it)."""

import json
import logging
import os

import numpy as np
import pytest
from conftest import invoke_cli, one_error_line
from PIL import Image

from kerascon.data import load_source
from kerascon.data.holdout import HoldOut
from kerascon.errors import DataError

pytestmark = pytest.mark.slow


def write_flat(root, counts, seed=0):
    """``root/<class>/<i>.png``: 8x8 images, each unique (its index is in the pixels)."""
    rng = np.random.default_rng(seed)
    for label, (name, count) in enumerate(counts.items()):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            pixels = rng.integers(0, 120, (8, 8, 3), dtype=np.uint8) + 60 * label
            pixels[0, 0] = (label, i // 256, i % 256)
            Image.fromarray(pixels.astype(np.uint8)).save(root / name / f"{i}.png")


def pixel_ids(source):
    return sorted(tuple(int(v) for v in image[0, 0]) for image, _ in source.dataset.as_numpy_iterator())


def test_flat_folder_is_split_stratified_deterministic_and_disjoint(tmp_path, caplog):
    root = tmp_path / "flowers"
    write_flat(root, {"daisy": 20, "rose": 40, "tulip": 3})
    with caplog.at_level(logging.INFO, logger="kerascon.data"):
        train = load_source(root, split="train")
        held = load_source(root, split="test")
    assert train.name == "flowers:train(90%)" and held.name == "flowers:test(10%)"
    assert train.class_names == held.class_names == ("daisy", "rose", "tulip")
    labels = [int(label) for _, label in held.dataset.as_numpy_iterator()]
    assert labels.count(0) == 2 and labels.count(1) == 4 and labels.count(2) == 0  # 10% each
    assert train.num_examples == 18 + 36 + 3
    assert any("training on 90% of every class" in r.getMessage() for r in caplog.records)
    small = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(small) == 1 and "'tulip'" in small[0] and "none for evaluation" in small[0]

    train_ids, held_ids = pixel_ids(train), pixel_ids(held)
    assert not set(train_ids) & set(held_ids) and len(train_ids) + len(held_ids) == 63
    assert set(held.holdout.held_out) == set(train.holdout.held_out)
    assert all(key.split("/")[0] in ("daisy", "rose") for key in held.holdout.held_out)

    again = load_source(root, split="test")
    assert again.holdout.held_out == held.holdout.held_out and pixel_ids(again) == held_ids
    other_seed = load_source(root, split="test", holdout=HoldOut(0.1, seed=1))
    assert other_seed.holdout.held_out != held.holdout.held_out
    larger = load_source(root, split="val", holdout=HoldOut(0.25, seed=0))
    assert larger.name == "flowers:val(25%)" and larger.num_examples == 5 + 10 + 1


def test_a_recorded_holdout_is_kept_when_files_are_added(tmp_path):
    root = tmp_path / "flowers"
    write_flat(root, {"daisy": 10, "rose": 10})
    record = load_source(root, split="test").holdout.to_dict()
    write_flat(tmp_path / "more", {"daisy": 10})
    for i in range(10):
        os.replace(tmp_path / "more" / "daisy" / f"{i}.png", root / "daisy" / f"new{i}.png")
    recorded = HoldOut.from_dict(json.loads(json.dumps(record)))
    held = load_source(root, split="test", holdout=recorded)
    assert sorted(held.holdout.held_out) == sorted(record["held_out"]) and held.num_examples == 2
    assert load_source(root, split="train", holdout=recorded).num_examples == 28  # new files train


def test_overrides_and_other_layouts(tmp_path):
    root = tmp_path / "flowers"
    write_flat(root, {"daisy": 10, "rose": 10})
    whole = load_source(root, split=None)
    assert whole.num_examples == 20 and whole.holdout is None and whole.name == "flowers"
    with pytest.raises(DataError, match="has no 'training/' subfolder"):
        load_source(root, split="training")
    pets = tmp_path / "pets"
    write_flat(pets / "train", {"cat": 3, "dog": 3})
    write_flat(pets / "val", {"cat": 1, "dog": 1}, seed=1)
    assert load_source(pets, split="test").num_examples == 2  # no test/: val/
    assert load_source(pets, split="train").holdout is None


def test_too_few_images_to_hold_any_out(tmp_path):
    root = tmp_path / "tiny"
    write_flat(root, {"a": 3, "b": 4})
    assert load_source(root, split="train").num_examples == 7
    with pytest.raises(DataError) as info:
        load_source(root, split="test")
    message = str(info.value)
    assert "too few examples per class to hold out 10%" in message and "largest class: 4" in message
    assert "val_fraction" in message and "eval_split=None" in message and "\n" not in message
    assert load_source(root, split="test", holdout=HoldOut(0.25)).num_examples == 2


def test_npz_without_split_arrays(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], [30, 20, 10])
    images = rng.integers(0, 256, (60, 6, 6, 3), dtype=np.uint8)
    images[:, 0, 0, 0] = np.arange(60)
    path = tmp_path / "arrays.npz"
    np.savez(path, images=images, labels=labels)
    train, held = load_source(str(path), split="train"), load_source(str(path), split="test")
    assert train.name == "arrays:train(90%)" and held.num_examples == 3 + 2 + 1
    held_labels = sorted(int(label) for _, label in held.dataset.as_numpy_iterator())
    assert held_labels == [0, 0, 0, 1, 1, 2]
    train_index = {int(image[0, 0, 0]) for image, _ in train.dataset.as_numpy_iterator()}
    held_index = {int(image[0, 0, 0]) for image, _ in held.dataset.as_numpy_iterator()}
    assert held_index == {int(key) for key in held.holdout.held_out}
    assert not train_index & held_index and len(train_index | held_index) == 60
    assert load_source(str(path), split="test").holdout.held_out == held.holdout.held_out
    assert load_source(str(path)).num_examples == 60  # split=None: everything
    split_file = tmp_path / "split.npz"
    np.savez(split_file, images=images, labels=labels, train_idx=np.arange(50), test_idx=np.arange(50, 60))
    assert load_source(str(split_file), split="test").num_examples == 10
    with pytest.raises(ValueError, match="no split 'val'.*available splits: test, train"):
        load_source(str(split_file), split="val")


# --------------------------------------------------------------------------- command line

SMALL = ["--arch", "cli_test_cnn", "--image-size", "8", "--batch-size", "8", "--projection-dim", "8",
         "--projection-hidden-dim", "16", "--epochs", "1", "--steps-per-epoch", "1", "--json"]


def ok(*args):
    result = invoke_cli(*args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.usefixtures("tiny_architecture")
def test_cli_flat_folder_linear_and_eval_reuse_the_holdout(tmp_path):
    data = tmp_path / "flowers"
    write_flat(data, {"daisy": 20, "rose": 20})
    run = tmp_path / "run"
    first = ok("train", "--data", data, *SMALL, "--val-fraction", "0.2", "--seed", "3", "--output", run)
    assert first["held_out_examples"] == 8
    record = json.loads((run / "stages" / "contrastive" / "holdout.json").read_text())
    assert record["fraction"] == 0.2 and record["seed"] == 3 and len(record["held_out"]) == 8
    assert record["data"] == str(data) and record["train_examples"] == 32

    message = one_error_line(invoke_cli("train", "--stage", "linear", "--run", run, "--val-fraction", "0.1",
                                        *SMALL))
    assert "holds out 20%" in message and "--val-fraction 0.2" in message
    linear = ok("train", "--stage", "linear", "--run", run, "--seed", "5", *SMALL)
    assert linear["held_out_examples"] == 8
    linear_record = json.loads((run / "stages" / "linear" / "holdout.json").read_text())
    assert linear_record["held_out"] == record["held_out"] and linear_record["train_examples"] == 32
    evaluated = ok("eval", "--frozen", "--knn", "--run", run, "--json")
    assert evaluated["dataset"] == "flowers:test(20%)" and evaluated["examples"] == 8
    assert evaluated["top1"] == pytest.approx(linear["top1"], abs=1e-6)
    assert evaluated["knn"]["train_dataset"] == "flowers:train(80%)"
    assert evaluated["knn"]["train_examples"] == 32


@pytest.mark.usefixtures("tiny_architecture")
def test_cli_npz_holdout_and_split_overrides(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "arrays.npz"
    np.savez(path, images=rng.integers(0, 256, (40, 8, 8, 3), dtype=np.uint8), labels=np.arange(40) % 2)
    report = ok("train", "--stage", "ce", "--data", path, *SMALL, "--output", tmp_path / "npz")
    assert report["held_out_examples"] == 4 and "top1" in report
    whole = ok("train", "--stage", "ce", "--data", path, "--split", "none", "--eval-split", "none", *SMALL,
               "--output", tmp_path / "whole")
    assert "held_out_examples" not in whole and "top1" not in whole
    assert not (tmp_path / "whole" / "stages" / "ce" / "holdout.json").exists()
