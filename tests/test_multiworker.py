"""Two worker processes on 127.0.0.1 with TF_CONFIG and MultiWorkerMirroredStrategy.

Both workers train the same contrastive stage through kerascon.runs.training.run_stage with
strategy="multiworker". They must end with identical weights, equal to one process that
trains on the global batch, and only the chief writes the run directory.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import kerascon

pytestmark = pytest.mark.slow

WORKER = textwrap.dedent("""
    import json, os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import keras, numpy as np
    from kerascon.encoders import register_architecture
    from kerascon.runs.config import TrainConfig
    from kerascon.runs.training import run_stage

    @register_architecture("multiworker_test_cnn")
    def build(stem="cifar", width_multiplier=1.0, **kwargs):
        return keras.Sequential([keras.Input((None, None, 3)),
                                 keras.layers.Conv2D(6, 3, padding="same", activation="relu"),
                                 keras.layers.GlobalAveragePooling2D()])

    data, run_dir, weights_out, strategy = sys.argv[1:5]
    config = TrainConfig(arch="multiworker_test_cnn", data=data, split=None, eval_split=None,
                         image_size=8, batch_size=16, views=2, epochs=2, lr=0.5,
                         projection_dim=8, projection_hidden_dim=16, strategy=strategy,
                         augment="none", seed=3)

    class DumpWeights(keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            np.savez(weights_out, *[np.asarray(w) for w in self.model.get_weights()])

    run_stage(config, run_dir, callbacks=[DumpWeights()])
""")


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _weights(path):
    with np.load(path) as data:
        return [data[f"arr_{i}"] for i in range(len(data.files))]


@pytest.fixture(scope="module")
def digits_npz(tmp_path_factory):
    from kerascon.data import load_embedded

    folder = tmp_path_factory.mktemp("mw")
    source = load_embedded("digits", split="train")
    images, labels = [], []
    for image, label in source.dataset.take(64):
        images.append(image.numpy())
        labels.append(int(label))
    path = folder / "digits64.npz"
    np.savez(path, images=np.stack(images), labels=np.array(labels))
    return path


def test_two_workers_match_one_process_and_only_chief_writes(tmp_path, digits_npz):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_CONFIG", None)

    single = subprocess.run(
        [sys.executable, str(script), str(digits_npz), str(tmp_path / "single"),
         str(tmp_path / "single.npz"), "default"],
        env=env, capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]

    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    run_dir = tmp_path / "multi"
    workers = []
    for index in range(2):
        worker_env = {**env, "TF_CONFIG": json.dumps({"cluster": cluster,
                                                      "task": {"type": "worker", "index": index}})}
        workers.append(subprocess.Popen(
            [sys.executable, str(script), str(digits_npz), str(run_dir),
             str(tmp_path / f"worker{index}.npz"), "multiworker"],
            env=worker_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for worker in workers:
        _, stderr = worker.communicate(timeout=300)
        assert worker.returncode == 0, stderr[-3000:]

    chief, other = _weights(tmp_path / "worker0.npz"), _weights(tmp_path / "worker1.npz")
    reference = _weights(tmp_path / "single.npz")
    for a, b, c in zip(chief, other, reference):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, c, rtol=1e-4, atol=1e-5)
    # Only the chief (worker 0) wrote the run: one model, one checkpoint, one config.
    saved = kerascon.load_model(run_dir / "model.keras")
    for a, b in zip(saved.get_weights(), chief):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert (run_dir / "stages/contrastive/checkpoint.keras").is_file()
    assert json.loads((run_dir / "stages/contrastive/checkpoint.json").read_text())["epoch"] == 2


RESUMABLE_WORKER = textwrap.dedent("""
    import os, sys, time
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import keras
    from kerascon.encoders import register_architecture
    from kerascon.runs.config import TrainConfig
    from kerascon.runs.training import run_stage

    @register_architecture("multiworker_test_cnn")
    def build(stem="cifar", width_multiplier=1.0, **kwargs):
        return keras.Sequential([keras.Input((None, None, 3)),
                                 keras.layers.Conv2D(6, 3, padding="same", activation="relu"),
                                 keras.layers.GlobalAveragePooling2D()])

    data, run_dir, resume = sys.argv[1:4]
    config = TrainConfig(arch="multiworker_test_cnn", data=data, split=None, eval_split=None,
                         image_size=8, batch_size=16, views=2, epochs=8, lr=0.5,
                         projection_dim=8, projection_hidden_dim=16, strategy="multiworker",
                         augment="none", seed=3)

    class Trace(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            print("EPOCH", epoch, flush=True)

        def on_epoch_end(self, epoch, logs=None):
            time.sleep(0.3)  # time for the test to stop a worker between checkpoints

    try:
        run_stage(config, run_dir, resume=resume == "1", callbacks=[Trace()])
    except Exception as error:
        print("ERROR", str(error).splitlines()[0], flush=True)
        sys.exit(1)
""")


def _start_workers(script, args, env):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    return [subprocess.Popen(
        [sys.executable, str(script), *map(str, args)],
        env={**env, "TF_CONFIG": json.dumps({"cluster": cluster,
                                             "task": {"type": "worker", "index": index}})},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for index in range(2)]


def test_lost_worker_is_reported_and_the_run_resumes_from_its_checkpoint(tmp_path, digits_npz):
    script = tmp_path / "worker.py"
    script.write_text(RESUMABLE_WORKER)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_CONFIG", None)
    run_dir = tmp_path / "run"
    state = run_dir / "stages/contrastive/checkpoint.json"
    workers = _start_workers(script, [digits_npz, run_dir, 0], env)
    try:
        deadline = time.monotonic() + 240
        while not (state.is_file() and json.loads(state.read_text())["epoch"] >= 2):
            assert time.monotonic() < deadline and workers[0].poll() is None, "no checkpoint"
            time.sleep(0.1)
        workers[1].kill()  # the worker is lost between checkpoints
        out, err = workers[0].communicate(timeout=180)  # the chief must not hang
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
    errors = [line for line in out.splitlines() if line.startswith("ERROR")]
    assert workers[0].returncode == 1 and len(errors) == 1, err[-3000:]
    assert "worker 1 of the multi-worker run stopped answering" in errors[0]
    assert "is intact" in errors[0] and "resume=True" in errors[0]
    saved = json.loads(state.read_text())["epoch"]

    # The worker returns: both restart with resume and continue from the chief's checkpoint.
    workers = _start_workers(script, [digits_npz, run_dir, 1], env)
    outputs = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-3000:]
        outputs.append(out)
    first_epochs = {int(line.split()[1]) for line in outputs[0].splitlines()
                    if line.startswith("EPOCH")}
    assert min(first_epochs) == saved and max(first_epochs) == 7
    assert json.loads(state.read_text())["epoch"] == 8
    rows = (run_dir / "stages/contrastive/metrics.csv").read_text().strip().splitlines()[1:]
    assert [int(row.split(",")[0]) for row in rows] == list(range(8))
