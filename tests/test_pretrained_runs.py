"""`kerascon train --pretrained NAME_OR_RUN_DIR`: a new run on a published encoder (or on
another run's), with a new classifier for the classes of --data, in one command.

The shipped ``resnet18.supcon_digits`` (width 0.25, 128-d features, 16x16 input) keeps
these runs small; the data is a folder of three colour classes.
"""

import json

import numpy as np
import pytest
from conftest import invoke_cli, one_error_line
from PIL import Image

from kerascon.model.saving import load_model
from kerascon.runs.records import first_stage, stage_config

pytestmark = pytest.mark.slow

ENTRY = "resnet18.supcon_digits"
FAST = ["--batch-size", "8", "--epochs", "1", "--steps-per-epoch", "2", "--quiet"]


@pytest.fixture(scope="module")
def colours(tmp_path_factory):
    """A plain class folder: red/, green/, blue/ with 12 noisy 20x20 images each."""
    root = tmp_path_factory.mktemp("colours")
    rng = np.random.default_rng(0)
    for channel, name in enumerate(("red", "green", "blue")):
        (root / name).mkdir()
        for i in range(12):
            pixels = (rng.random((20, 20, 3)) * 60).astype("uint8")
            pixels[..., channel] += 150
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def probe(colours, tmp_path_factory):
    """A linear stage on the frozen zoo encoder: the run's first and only stage."""
    run = tmp_path_factory.mktemp("probe") / "run"
    result = invoke_cli("train", "--stage", "linear", "--pretrained", ENTRY, "--data", colours,
                        *FAST, "--output", run)
    assert result.exit_code == 0, result.output
    return run


def test_linear_stage_on_a_zoo_entry_starts_a_self_contained_run(probe, colours):
    from kerascon.zoo import get_pretrained

    spec = get_pretrained(ENTRY)
    config = stage_config(probe, "linear")
    assert first_stage(probe) == "linear"
    # config.yaml says what the model is: the entry's encoder, input size and head.
    assert (config.pretrained, config.arch, config.stem) == (ENTRY, spec.arch, spec.stem)
    assert config.width_multiplier == spec.width_multiplier
    assert config.image_size == spec.input_size[0]
    assert (config.projection_dim, config.projection_hidden_dim) == (
        spec.projection_dim, spec.projection_hidden_dim)
    assert config.backbone_lr_multiplier == pytest.approx(0.1)
    assert config.lr == pytest.approx(config.lr_per_feature / spec.feature_dim)  # linear default
    model = load_model(probe / "model.keras")
    assert (model.stage, model.num_classes, model.feature_dim) == ("linear", 3, spec.feature_dim)
    # The encoder is the entry's, untouched by the linear stage.
    from kerascon.zoo import load

    pretrained = load(ENTRY)
    for a, b in zip(pretrained.encoder.get_weights(), model.encoder.get_weights()):
        np.testing.assert_array_equal(a, b)
    # Evaluation (its recorded 10% hold-out), kNN and freezing work on the run alone.
    result = invoke_cli("eval", "--frozen", "--run", probe, "--knn", "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert metrics["examples"] == 3 and "knn_top1" in metrics and "top1" in metrics
    assert invoke_cli("freeze", "--run", probe).exit_code == 0


def test_a_run_directory_as_the_pretrained_encoder(probe, colours, tmp_path):
    run = tmp_path / "fine_tuned"
    result = invoke_cli("train", "--stage", "joint", "--pretrained", probe, "--data", colours,
                        "--joint-weight", "0.25", *FAST, "--output", run)
    assert result.exit_code == 0, result.output
    config = stage_config(run, "joint")
    assert config.joint_weight == 0.25
    parent = stage_config(probe, "linear")
    assert config.pretrained == str(probe.resolve())
    for key in ("arch", "stem", "width_multiplier", "image_size", "projection_dim",
                "projection_hidden_dim", "mean", "std"):
        assert getattr(config, key) == getattr(parent, key), key
    model = load_model(run / "model.keras")
    assert (model.stage, model.num_classes) == ("joint", 3)
    assert model.joint_weight == pytest.approx(0.25)
    assert model.backbone_lr_multiplier == pytest.approx(0.1)
    result = invoke_cli("eval", "--run", run, "--knn", "--json")
    assert result.exit_code == 0, result.output
    assert "knn_top1" in json.loads(result.output)


def test_refusals_name_the_command_that_works(probe, colours, tmp_path):
    # A frozen encoder takes the input size it was trained at, and no other.
    line = one_error_line(invoke_cli("train", "--stage", "linear", "--pretrained", ENTRY,
                                     "--data", colours, "--image-size", "32", *FAST,
                                     "--output", tmp_path / "big"))
    assert "takes 16x16 images" in line and "image_size 32" in line
    assert "--image-size 16" in line
    # A run whose first stage is linear has no encoder of its own to train another on.
    line = one_error_line(invoke_cli("train", "--stage", "linear", "--run", probe, *FAST))
    assert f"--pretrained {ENTRY} --output {probe} --overwrite" in line
    # A run cannot be replaced by a run on its own encoder.
    line = one_error_line(invoke_cli("train", "--stage", "linear", "--pretrained", probe,
                                     "--data", colours, *FAST, "--output", probe, "--overwrite"))
    assert "cannot start from its own encoder" in line and "--output" in line
    assert (probe / "model.keras").is_file() and first_stage(probe) == "linear"
    assert not (tmp_path / "big").exists()


def test_linear_stage_on_other_classes_points_to_a_new_run(probe, tmp_path):
    other = tmp_path / "two"
    for channel, name in enumerate(("dark", "light")):
        (other / name).mkdir(parents=True)
        for i in range(10):
            Image.new("RGB", (16, 16), (100 * channel + i,) * 3).save(other / name / f"{i}.png")
    before = sorted(p.name for p in probe.rglob("*"))
    # probe's classifier is for 3 classes; --data has 2. Continue the classifier? No: a new run.
    from kerascon.runs.config import TrainConfig
    from kerascon.runs.training import run_stage

    config = TrainConfig(stage="linear", data=str(other), arch="resnet18", image_size=16,
                         batch_size=8, epochs=1, steps_per_epoch=1, width_multiplier=0.25)
    with pytest.raises(Exception, match="has a classifier for 3 classes") as info:
        run_stage(config, probe)
    from kerascon.cli.hints import render_error

    assert (f"kerascon train --stage linear --pretrained {probe} --data {other} "
            "--output NEW_RUN") in render_error(info.value)
    assert sorted(p.name for p in probe.rglob("*")) == before
