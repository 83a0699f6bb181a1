"""Evaluation never reports a silently wrong number (issues 21 and 22), with real folders.

A run records its class names; ``kerascon eval --data`` matches another folder's classes to
them by name (a subset is fine, an unknown name is a one-line error); ``--split none`` on a
train/test folder reads both splits as one set of classes; another folder is evaluated whole;
metrics.json weighs every example; a contrastive-only run exports no classifier.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import invoke_cli, one_error_line
from PIL import Image

from kerascon.data import load_embedded, load_source
from kerascon.runs.records import load_run_model
from kerascon.runs.training import eval_dataset

pytestmark = [pytest.mark.usefixtures("tiny_architecture"), pytest.mark.slow]

TINY = ["--arch", "cli_test_cnn", "--data", "embedded:digits", "--image-size", "8",
        "--batch-size", "32", "--projection-dim", "8", "--projection-hidden-dim", "16",
        "--quiet"]


def ok(*args):
    result = invoke_cli(*args)
    assert result.exit_code == 0, result.output
    return result


def ok_json(*args):
    return json.loads(ok(*args, "--json").output)


def write_digits(folder, digits, names=None, per_class=12, offset=0):
    """``folder/<name>/<i>.png``: digits test images of the given labels (8x8 RGB PNG)."""
    source = load_embedded("digits", split="test")
    images, labels = zip(*source.dataset.as_numpy_iterator())
    images, labels = np.stack(images), np.array(labels)
    for digit, name in zip(digits, names or [str(d) for d in digits]):
        os.makedirs(folder / name, exist_ok=True)
        for i, index in enumerate(np.flatnonzero(labels == digit)[offset:offset + per_class]):
            Image.fromarray(images[index]).save(folder / name / f"{i}.png")
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A digits run after its contrastive stage (a copy) and after its linear stage."""
    root = tmp_path_factory.mktemp("runs")
    run = root / "digits"
    ok("train", "--stage", "contrastive", *TINY, "--epochs", "1", "--steps-per-epoch", "3",
       "--output", run)
    shutil.copytree(run, root / "contrastive_only")
    ok("train", "--stage", "linear", "--run", run, "--epochs", "2", "--quiet")
    return {"linear": run, "contrastive": root / "contrastive_only"}


def expected_top1(run, folder, split=None):
    """The run's own predictions on the folder's images, scored against the digit names."""
    source = load_source(str(folder), split=split)
    model = load_run_model(run)
    logits = model.predict(eval_dataset(source, 8), verbose=0)["logits"]
    digits = np.array([int(source.class_names[label]) for _, label
                       in source.dataset.as_numpy_iterator()])
    assert logits.shape[1] == 10
    return float(np.mean(np.argmax(logits, axis=1) == digits)), len(digits)


def test_run_records_its_class_names(runs):
    for stage in ("contrastive", "linear"):
        record = json.loads((runs["linear"] / "stages" / stage / "classes.json").read_text())
        assert record["class_names"] == [str(d) for d in range(10)] and record["named"]


def test_a_folder_of_eights_and_nines_is_scored_by_name(runs, tmp_path):
    folder = write_digits(tmp_path / "eights_nines", [8, 9])
    result = ok_json("eval", "--frozen", "--run", runs["linear"], "--data", folder)
    top1, examples = expected_top1(runs["linear"], folder)
    assert result["examples"] == examples == 24
    assert result["top1"] == pytest.approx(top1, abs=1e-6)
    assert result["class_match"] == "name" and result["evaluated_classes"] == ["8", "9"]
    assert result["class_names"] == [str(d) for d in range(10)]
    assert result["evaluated"] == f"all 24 images of {folder}"
    table = ok("eval", "--frozen", "--run", runs["linear"], "--data", folder).output
    assert f"evaluating all 24 images of {folder}" in table
    assert "evaluating 2 of the run's 10 classes: 8, 9" in table
    # A run trained before runs recorded their classes reads them from its training data.
    old = tmp_path / "old_run"
    shutil.copytree(runs["linear"], old)
    for path in old.glob("stages/*/classes.json"):
        path.unlink()
    again = ok_json("eval", "--frozen", "--run", old, "--data", folder)
    assert again["top1"] == result["top1"] and again["evaluated_classes"] == ["8", "9"]


def test_knn_uses_the_mapped_labels(runs, tmp_path):
    folder = write_digits(tmp_path / "nines_and_zeros", [9, 0])
    result = ok_json("eval", "--run", runs["contrastive"], "--knn", "--knn-k", "5",
                     "--data", folder)
    assert result["evaluated_classes"] == ["0", "9"] and result["examples"] == 24
    assert 0.0 <= result["knn_top1"] <= 1.0


def test_unknown_class_names_are_refused_in_one_line(runs, tmp_path):
    folder = write_digits(tmp_path / "vehicles", [1, 2], names=["Ship", "lorry"])
    line = one_error_line(invoke_cli("eval", "--frozen", "--run", runs["linear"], "--data",
                                     folder))
    assert "class 'Ship' of 'vehicles' is not one of the run's 10 classes (0, 1, 2" in line
    assert "(and 1 more unknown)" in line
    assert not (runs["linear"] / "evaluations" / "frozen-vehicles-all.json").exists()


def test_npz_without_names_keeps_indices_and_says_so(runs, tmp_path):
    source = load_embedded("digits", split="test")
    images, labels = zip(*source.dataset.take(40).as_numpy_iterator())
    np.savez(tmp_path / "plain.npz", images=np.stack(images), labels=np.array(labels))
    result = ok_json("eval", "--frozen", "--run", runs["linear"], "--data",
                     tmp_path / "plain.npz")
    assert result["class_match"] == "index" and result["examples"] == 40
    assert result["notes"] == ["plain names no classes: its labels are taken as the run's "
                               "class indices"]
    same = ok_json("eval", "--frozen", "--run", runs["linear"], "--data", "embedded:digits")
    assert same["class_match"] == "name" and "notes" not in same


def test_split_none_on_a_train_test_folder_reads_both_splits(runs, tmp_path):
    root = tmp_path / "tt"
    write_digits(root / "train", [8, 9], per_class=10)
    write_digits(root / "test", [8, 9], per_class=5, offset=10)
    result = ok_json("eval", "--frozen", "--run", runs["linear"], "--data", root,
                     "--split", "none")
    assert result["dataset"] == "tt:train+test" and result["examples"] == 30
    assert result["evaluated"] == f"all 30 images of {root}"
    assert result["evaluated_classes"] == ["8", "9"]
    top1, _ = expected_top1(runs["linear"], root)
    assert result["top1"] == pytest.approx(top1, abs=1e-6)
    # Other data with a test split of its own: that split, by default.
    default = ok_json("eval", "--frozen", "--run", runs["linear"], "--data", root)
    assert default["examples"] == 10 and default["evaluated"] == f"the test split of {root}: 10 images"
    # Splits with other classes cannot be read as one.
    write_digits(root / "test", [7], per_class=2)
    line = one_error_line(invoke_cli("eval", "--frozen", "--run", runs["linear"], "--data",
                                     root, "--split", "none"))
    assert "the class folders of train/ and test/ differ (7)" in line and "--split train" in line


def test_train_split_none_on_a_train_test_folder(tmp_path):
    root = tmp_path / "tt"
    write_digits(root / "train", [3, 5], per_class=20)
    write_digits(root / "test", [3, 5], per_class=4, offset=20)
    common = [a for a in TINY if a != "embedded:digits" and a != "--data"]
    line = one_error_line(invoke_cli("train", "--stage", "ce", *common, "--data", root,
                                     "--split", "none", "--epochs", "1",
                                     "--output", tmp_path / "leak"))
    assert "--split none trains on all images of" in line and "--eval-split none" in line
    assert not (tmp_path / "leak").exists()
    ok("train", "--stage", "ce", *common, "--data", root, "--split", "none", "--eval-split",
       "none", "--batch-size", "16", "--epochs", "1", "--output", tmp_path / "run")
    record = json.loads((tmp_path / "run/stages/ce/classes.json").read_text())
    assert record["class_names"] == ["3", "5"] and record["dataset"] == "tt:train+test"
    assert load_run_model(tmp_path / "run").num_classes == 2


def test_other_flat_folder_is_evaluated_whole_own_data_keeps_its_holdout(tmp_path):
    flat = write_digits(tmp_path / "flat", [1, 4], per_class=25)
    common = [a for a in TINY if a != "embedded:digits" and a != "--data"]
    ok("train", "--stage", "ce", *common, "--data", flat, "--batch-size", "16", "--epochs",
       "1", "--output", tmp_path / "run")
    own = ok_json("eval", "--run", tmp_path / "run")
    assert own["examples"] == 6  # 10% of 25 per class, rounded: 3 + 3
    assert own["evaluated"] == f"the run's held-out 10% of {flat}: 6 images"
    own_again = ok_json("eval", "--run", tmp_path / "run", "--data", os.path.relpath(flat))
    assert own_again["examples"] == 6
    other = write_digits(tmp_path / "other", [4, 1], per_class=10)
    result = ok_json("eval", "--run", tmp_path / "run", "--data", other)
    assert result["examples"] == 20 and result["evaluated"] == f"all 20 images of {other}"
    part = ok_json("eval", "--run", tmp_path / "run", "--data", other, "--split", "test")
    assert part["examples"] == 2
    # A run from before class names were recorded, whose training data is gone: by index,
    # and the output says so.
    (tmp_path / "run/stages/ce/classes.json").unlink()
    flat.rename(tmp_path / "moved")
    result = ok_json("eval", "--run", tmp_path / "run", "--data", other)
    assert result["class_match"] == "index"
    assert result["notes"] == [f"the run records no class names and its training data ({flat}) "
                               "cannot be opened: its labels are taken as the run's class "
                               "indices"]


def test_metrics_json_weighs_every_example(runs):
    """359 test images: batches of 256 and 103; the stored loss is the examples' mean."""
    stored = json.loads((runs["linear"] / "metrics.json").read_text())["linear"]
    evaluated = ok_json("eval", "--frozen", "--run", runs["linear"])
    assert evaluated["examples"] == 359
    assert stored["loss"] == pytest.approx(evaluated["loss"], rel=1e-4)
    assert stored["top1"] == pytest.approx(evaluated["top1"], abs=1e-6)
    assert stored["top5"] == pytest.approx(evaluated["top5"], abs=1e-6)


def _served_keys(export_dir):
    script = textwrap.dedent(f"""
        import json, tensorflow as tf
        served = tf.saved_model.load({str(export_dir)!r})
        out = served.signatures["serving_default"](images=tf.zeros([2, 8, 8, 3], tf.uint8))
        print(json.dumps({{"keys": sorted(out), "signatures": sorted(served.signatures)}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_contrastive_only_export_serves_no_classifier(runs, tmp_path):
    out = ok("export", "--run", runs["contrastive"], "--output", tmp_path / "export").output
    assert "no logits or probabilities, the run has trained no classifier" in out
    served = _served_keys(tmp_path / "export")
    assert served == {"keys": ["embedding"], "signatures": ["projection", "serving_default"]}
    ok("export", "--run", runs["contrastive"], "--output", tmp_path / "untrained",
       "--include-untrained-classifier")
    assert _served_keys(tmp_path / "untrained")["keys"] == ["embedding", "logits",
                                                             "probabilities"]
    trained = ok("export", "--run", runs["linear"], "--output", tmp_path / "linear").output
    assert "serving_default (embedding, logits, probabilities) and projection" in trained


def test_library_export_refuses_a_classifier_that_is_not_there(tmp_path):
    from kerascon.errors import ConfigError
    from kerascon.export import classifier_is_trained, export_saved_model
    from kerascon.model import SupConModel

    model = SupConModel.from_architecture("cli_test_cnn", projection_dim=4,
                                          projection_hidden_dim=8)
    assert not classifier_is_trained(model)
    with pytest.raises(ConfigError, match="the model has no classifier to export"):
        export_saved_model(model, tmp_path / "export", image_size=8, include_classifier=True)
    assert not (tmp_path / "export").exists()
