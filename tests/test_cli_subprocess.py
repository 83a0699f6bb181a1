"""An image folder through every command, partly in real processes of the installed
`kerascon` console script: contrastive training killed with SIGKILL mid-epoch, --resume in
a fresh process, linear stage, `eval --json`, export and freeze.

The test encoder `cli_test_cnn` reaches the subprocesses through a sitecustomize module on
PYTHONPATH, so the console script itself runs unchanged.
"""

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from click.testing import CliRunner
from test_cli_folders import SMALL, write_images

from kerascon.cli.main import main

pytestmark = [pytest.mark.usefixtures("tiny_architecture"), pytest.mark.slow]

KERASCON = Path(sys.executable).with_name("kerascon")

SITECUSTOMIZE = textwrap.dedent("""
    import kerascon.cli.main  # sets the CLI's TF_CPP_MIN_LOG_LEVEL default
    from kerascon.cli.options import import_tensorflow_quietly

    import_tensorflow_quietly()  # as the commands do, before this module imports keras

    import keras
    from kerascon.encoders import registry

    @registry.register_architecture("cli_test_cnn", family="custom", feature_dim=8)
    def cli_test_cnn(stem="cifar", width_multiplier=1.0, **kwargs):
        return keras.Sequential([keras.Input((None, None, 3)),
                                 keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
                                 keras.layers.BatchNormalization(),
                                 keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
                                 keras.layers.GlobalAveragePooling2D()], name="cli_test_cnn")
""")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    if not KERASCON.is_file():
        pytest.skip(f"no kerascon console script next to {sys.executable}")
    hooks = tmp_path_factory.mktemp("hooks")
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    path = os.pathsep.join(p for p in (str(hooks), os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, PYTHONPATH=path)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the console script's own default applies
    env.pop("KERASCON_DEBUG", None)
    return env


def kerascon(env, *args):
    return subprocess.run([str(KERASCON), *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=300)


def test_image_folder_flow_killed_mid_epoch_and_resumed(tmp_path, env):
    data = tmp_path / "pets"  # pets/train/<class>/, pets/test/<class>/: the default splits
    write_images(data / "train", per_class=20)
    write_images(data / "test", per_class=4, seed=1, fmt="jpg")
    run = tmp_path / "run"
    epochs, steps = 3, 25
    state_path = run / "stages" / "contrastive" / "checkpoint.json"

    # 1. Contrastive training in the console script, killed with SIGKILL inside epoch 2 or 3.
    with open(tmp_path / "killed.log", "w") as log:
        process = subprocess.Popen(
            [str(KERASCON), "train", "--data", str(data), *SMALL, "--epochs", str(epochs),
             "--steps-per-epoch", str(steps), "--output", str(run), "--quiet"],
            env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 240
        # checkpoint.json is replaced atomically, so it can be read at any moment.
        while not (state_path.is_file() and json.loads(state_path.read_text())["epoch"] >= 1):
            assert process.poll() is None, (tmp_path / "killed.log").read_text()
            assert time.monotonic() < deadline, "no epoch finished in time"
            time.sleep(0.05)
        time.sleep(0.2)  # inside the next epoch (each takes about a second)
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=60) == -signal.SIGKILL
    assert (tmp_path / "killed.log").read_text() == ""  # --quiet: nothing but errors
    finished = json.loads(state_path.read_text())["epoch"]
    assert 1 <= finished < epochs
    assert not (run / "model.keras").exists() and not (run / "metrics.json").exists()
    # Rows are written at the end of an epoch, after its checkpoint: none of the killed epoch.
    # (A kill between checkpoint.json and metrics.csv leaves one row less; --resume adds it.)
    csv_path = run / "stages/contrastive/metrics.csv"
    rows = list(csv.reader(csv_path.open())) if csv_path.exists() else [["epoch"]]
    assert [r[0] for r in rows[1:]] in ([str(e) for e in range(finished)],
                                        [str(e) for e in range(finished - 1)])
    # A process killed while saving leaves its temporary file; plant one like it.
    (run / "stages/contrastive/.checkpoint.keras.k1ll3d.tmp.keras").write_bytes(b"half a zip")

    # The unfinished run cannot be exported; the error says how to continue it.
    result = CliRunner().invoke(main, ["export", "--run", str(run)])
    assert result.exit_code == 1 and "--resume" in result.output
    assert not (run / "export").exists()

    # 2. A fresh process resumes with the run's recorded options; progress lines on stderr.
    resumed = kerascon(env, "train", "--run", run, "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    epoch_lines = [line for line in resumed.stderr.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epoch_lines] == \
        [f"{e + 1}/{epochs}" for e in range(finished, epochs)], resumed.stderr
    assert all(f" {part}" in epoch_lines[0] for part in ("loss", "lr", "img/s"))
    assert resumed.stdout.startswith("contrastive stage finished") and "epoch " not in \
        resumed.stdout
    rows = list(csv.reader((run / "stages/contrastive/metrics.csv").open()))
    assert rows[0][0] == "epoch" and [r[0] for r in rows[1:]] == [str(e) for e in range(epochs)]
    model = keras.saving.load_model(run / "model.keras")
    assert int(model.optimizer.iterations.numpy()) == epochs * steps
    assert json.loads((run / "metrics.json").read_text())["contrastive"]["epochs"] == epochs
    assert not list(run.rglob(".*.tmp*"))

    # 3. Only a linear stage gives `eval --frozen` a classifier to evaluate.
    result = CliRunner().invoke(main, ["eval", "--frozen", "--run", str(run)])
    assert result.exit_code == 1 and "kerascon train --stage linear --run" in result.output
    result = CliRunner().invoke(main, ["train", "--stage", "linear", "--run", str(run),
                                       "--epochs", "1", "--steps-per-epoch", "2", "--quiet"])
    assert result.exit_code == 0 and result.output == ""  # --quiet: nothing but errors

    # 4. eval --json in the console script (exactly one JSON object on stdout), while
    # 5. export and freeze run here: neither touches what eval reads.
    evaluating = subprocess.Popen([str(KERASCON), "eval", "--frozen", "--run", str(run),
                                   "--json"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
    for command in (["export"], ["freeze"]):
        result = CliRunner().invoke(main, [*command, "--run", str(run)])
        assert result.exit_code == 0, result.output
    assert (run / "export" / "saved_model.pb").is_file()
    encoder = keras.saving.load_model(run / "encoder" / "encoder.keras")
    assert encoder.predict(np.zeros((1, 8, 8, 3), "float32"), verbose=0).shape == (1, 8)

    stdout, stderr = evaluating.communicate(timeout=300)
    assert evaluating.returncode == 0, stderr
    report = json.loads(stdout)
    assert report["examples"] == 8 and report["dataset"] == "test"
    assert 0.0 <= report["top1"] <= report["top5"] <= 1.0
    assert report["top1"] == pytest.approx(
        json.loads((run / "metrics.json").read_text())["linear"]["top1"], rel=1e-6)
