"""The kerascon command line, driven through click's CliRunner on the embedded digits."""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import invoke_cli

from kerascon.cli.main import main
from kerascon.runs.config import TrainConfig
from kerascon.runs.training import run_stage

COMMON = ["--data", "embedded:digits", "--image-size", "8", "--batch-size", "32",
          "--projection-dim", "8", "--projection-hidden-dim", "16", "--quiet"]
# CLI behaviour does not depend on the encoder: the tests use a two-layer CNN registered
# in conftest.py, to keep the suite fast (tests/test_encoders.py covers the ResNets).
TINY = ["--arch", "cli_test_cnn", *COMMON]


pytestmark = [pytest.mark.usefixtures("tiny_architecture"), pytest.mark.slow]


def invoke(*args):
    return invoke_cli(*args, catch_exceptions=False)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A contrastive + linear run, shared by the tests that only read it."""
    run = tmp_path_factory.mktemp("runs") / "digits"
    result = invoke("train", "--stage", "contrastive", *TINY, "--epochs", "2",
                    "--steps-per-epoch", "3", "--output", run)
    assert result.exit_code == 0, result.output
    result = invoke("train", "--stage", "linear", "--run", run, "--epochs", "2",
                    "--steps-per-epoch", "3", "--quiet")
    assert result.exit_code == 0, result.output
    return run


def test_run_directory_layout(finished_run):
    for relative in ("model.keras", "metrics.json", "stages/contrastive/config.yaml",
                     "stages/contrastive/checkpoint.keras", "stages/contrastive/metrics.csv",
                     "stages/linear/config.yaml", "stages/linear/checkpoint.keras"):
        assert (finished_run / relative).is_file(), relative
    assert any((finished_run / "stages/contrastive/logs").rglob("events.out.tfevents*"))
    metrics = json.loads((finished_run / "metrics.json").read_text())
    assert set(metrics) == {"contrastive", "linear"}
    assert 0.0 <= metrics["linear"]["top1"] <= 1.0
    # The linear stage inherits data and image size from the contrastive stage.
    linear = TrainConfig.from_yaml(finished_run / "stages/linear/config.yaml")
    assert (linear.data, linear.image_size, linear.stage) == ("embedded:digits", 8, "linear")
    csv_lines = (finished_run / "stages/contrastive/metrics.csv").read_text().strip().splitlines()
    assert len(csv_lines) == 3  # header + 2 epochs


def test_eval_frozen_json_and_table(finished_run):
    result = invoke("eval", "--frozen", "--run", finished_run, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert 0.0 <= report["top1"] <= report["top5"] <= 1.0
    assert report["examples"] == 359
    stored = json.loads((finished_run / "metrics.json").read_text())["linear"]
    np.testing.assert_allclose(report["top1"], stored["top1"], rtol=1e-6)
    table = invoke("eval", "--frozen", "--run", finished_run)
    assert "top-1" in table.output and "top-5" in table.output


def test_export_savedmodel_serves_raw_images_in_a_fresh_process(finished_run, tmp_path):
    export_dir = tmp_path / "export"
    result = invoke("export", "--run", finished_run, "--output", export_dir)
    assert result.exit_code == 0, result.output
    images = np.random.default_rng(0).integers(0, 256, size=(3, 8, 8, 3)).astype("uint8")
    np.save(tmp_path / "images.npy", images)
    script = textwrap.dedent(f"""
        import json, numpy as np, tensorflow as tf
        served = tf.saved_model.load({str(export_dir)!r})
        images = tf.constant(np.load({str(tmp_path / 'images.npy')!r}))
        out = served.signatures["serving_default"](images=images)
        big = served.signatures["serving_default"](images=tf.zeros([2, 40, 24, 3], tf.uint8))
        proj = served.signatures["projection"](images=images)
        print(json.dumps({{"logits": out["logits"].numpy().tolist(),
                          "probabilities": out["probabilities"].numpy().tolist(),
                          "embedding_shape": list(out["embedding"].shape),
                          "big_shape": list(big["logits"].shape),
                          "projection_norm": np.linalg.norm(proj["projection"].numpy(), axis=1).tolist()}}))
    """)
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                               check=True)
    served = json.loads(completed.stdout.strip().splitlines()[-1])
    model = keras.saving.load_model(finished_run / "model.keras")
    expected = model.predict(images.astype("float32"), verbose=0)
    np.testing.assert_allclose(served["logits"], expected["logits"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.sum(served["probabilities"], axis=1), 1.0, rtol=1e-5)
    assert served["embedding_shape"] == [3, 8]
    assert served["big_shape"] == [2, 10]
    np.testing.assert_allclose(served["projection_norm"], 1.0, rtol=1e-5)


def test_a_fresh_process_loads_the_run_with_its_optimizer(finished_run):
    # What `kerascon eval` does in a new process: nothing but the loader imports kerascon's
    # classes (the README's main job once failed here on the unregistered CoupledDecaySGD).
    code = ("import sys; from kerascon.runs.records import load_run_model; "
            "model = load_run_model(sys.argv[1]); print(model.stage, type(model.optimizer).__name__)")
    result = subprocess.run([sys.executable, "-c", code, str(finished_run)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-2:] == ["linear", "CoupledDecaySGD"]


def test_export_keras_and_freeze(finished_run, tmp_path):
    result = invoke("export", "--run", finished_run, "--format", "keras",
                    "--output", tmp_path / "model.keras")
    assert result.exit_code == 0, result.output
    assert keras.saving.load_model(tmp_path / "model.keras").stage == "linear"
    result = invoke("freeze", "--run", finished_run)
    assert result.exit_code == 0, result.output
    encoder = keras.saving.load_model(finished_run / "encoder" / "encoder.keras")
    assert not encoder.trainable
    images = np.zeros((2, 8, 8, 3), "float32")
    model = keras.saving.load_model(finished_run / "model.keras")
    np.testing.assert_allclose(encoder.predict(images, verbose=0),
                               model.predict(images, verbose=0)["embedding"], rtol=1e-5, atol=1e-6)


def test_train_json_output(tmp_path):
    result = invoke("train", "--stage", "ce", *TINY, "--epochs", "1", "--steps-per-epoch", "2",
                    "--output", tmp_path / "ce", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["stage"] == "ce" and 0.0 <= report["top1"] <= 1.0
    evaluated = invoke("eval", "--run", tmp_path / "ce", "--json")
    assert json.loads(evaluated.output)["top1"] == pytest.approx(report["top1"], rel=1e-6)


def test_config_file_and_unknown_key(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("epochs: 1\nsteps_per_epoch: 1\nbatch-size: 16\ntemperature: 0.2\n"
                      "joint_weight: 0.2\n")
    result = invoke("train", *TINY, "--config", config, "--batch-size", "32",
                    "--joint-weight", "0.3", "--output", tmp_path / "run")
    assert result.exit_code == 0, result.output
    resolved = TrainConfig.from_yaml(tmp_path / "run/stages/contrastive/config.yaml")
    assert (resolved.temperature, resolved.batch_size, resolved.epochs) == (0.2, 32, 1)
    assert resolved.joint_weight == 0.3  # the option wins over the file
    config.write_text("epoch: 3\n")
    result = CliRunner().invoke(main, ["train", *TINY, "--config", str(config),
                                       "--output", str(tmp_path / "other")])
    assert result.exit_code == 1
    assert "unknown configuration key 'epoch'; did you mean 'epochs'?" in result.output
    assert not (tmp_path / "other").exists()


@pytest.mark.parametrize(
    "args,message",
    [
        (["--arch", "resnet05"], "did you mean 'resnet50'"),
        (["--temperature", "0"], "temperature must be > 0"),
        (["--data", "/no/such/folder"], "/no/such/folder"),
        (["--views", "0"], "views must be an integer >= 1"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, args, message):
    output = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", *TINY, "--epochs", "1", *args,
                                       "--output", str(output)])
    assert result.exit_code == 1, result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1 and message in error_lines[0], result.output
    assert not output.exists()


def test_existing_run_is_not_overwritten(finished_run):
    before = (finished_run / "model.keras").read_bytes()
    result = CliRunner().invoke(main, ["train", *TINY, "--output", str(finished_run)])
    assert result.exit_code == 1
    # Its stages have finished: resuming would fail, so only what works is suggested.
    assert "--overwrite" in result.output and "--resume" not in result.output
    assert (finished_run / "model.keras").read_bytes() == before


def test_resuming_a_finished_stage_changes_nothing(finished_run):
    before = (finished_run / "model.keras").read_bytes()
    result = CliRunner().invoke(main, ["train", "--run", str(finished_run), "--resume"])
    assert result.exit_code == 1
    assert "has finished, so there is nothing to resume" in result.output
    assert (finished_run / "model.keras").read_bytes() == before


def test_linear_stage_needs_a_finished_run(tmp_path):
    result = CliRunner().invoke(main, ["train", "--stage", "linear", "--run",
                                       str(tmp_path / "missing"), "--quiet"])
    assert result.exit_code == 1
    assert "does not exist" in result.output


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 2:
            raise KeyboardInterrupt


def test_interrupted_training_resumes_from_last_checkpoint(tmp_path):
    config = TrainConfig(arch="cli_test_cnn", data="embedded:digits",
                         image_size=8, batch_size=32, projection_dim=8, projection_hidden_dim=16,
                         epochs=3, steps_per_epoch=2)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run_stage(config, run, callbacks=[_Interrupt()])
    state = json.loads((run / "stages/contrastive/checkpoint.json").read_text())
    assert state["epoch"] == 2
    assert not (run / "model.keras").exists()  # the stage never finished
    checkpoint = keras.saving.load_model(run / "stages/contrastive/checkpoint.keras")
    assert int(checkpoint.optimizer.iterations.numpy()) == 4

    # Started again without --resume: refused, and told how to continue (or replace) it.
    refused = CliRunner().invoke(main, ["train", *TINY, "--epochs", "3", "--steps-per-epoch",
                                        "2", "--output", str(run)])
    assert refused.exit_code == 1 and (
        f"run directory {run} already exists and is not empty; continue it with --resume, "
        "replace it with --overwrite, or choose another --output DIR") in refused.output
    result = invoke("train", *TINY, "--epochs", "3", "--steps-per-epoch", "2",
                    "--output", run, "--resume")
    assert result.exit_code == 0, result.output
    finished = keras.saving.load_model(run / "model.keras")
    assert int(finished.optimizer.iterations.numpy()) == 6  # one more epoch, not three
    lines = (run / "stages/contrastive/metrics.csv").read_text().strip().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["0", "1", "2"]


def test_zoo_list_and_show():
    listed = invoke("zoo", "list", "resnet*")
    assert listed.exit_code == 0
    for name in ("resnet18", "resnet50", "resnet200"):
        assert name in listed.output
    shown = invoke("zoo", "show", "resnet50")
    assert "2048" in shown.output
    unknown = CliRunner().invoke(main, ["zoo", "show", "resnet05"])
    assert unknown.exit_code == 1 and "did you mean 'resnet50'" in unknown.output
