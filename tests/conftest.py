"""Shared test setup.

Two logical CPU devices are configured before TensorFlow initialises, so tests can run
tf.distribute.MirroredStrategy over two replicas on one CPU. Single-device code is
unaffected: the default strategy still uses one device.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
try:
    tf.config.set_logical_device_configuration(
        _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2
    )
except RuntimeError:  # TensorFlow was initialised by a plugin first; keep its devices.
    pass

import gc  # noqa: E402

import keras  # noqa: E402
import pytest  # noqa: E402

# TensorFlow (and torch, jax) import hundreds of thousands of long-lived objects; moving
# them out of the collector's generations makes each test's clear_session() cheap.
gc.freeze()


@pytest.fixture(autouse=True)
def _reset_keras_state():
    """Every test starts with float32 policy and a fresh Keras name scope."""
    keras.mixed_precision.set_global_policy("float32")
    keras.backend.clear_session()
    yield
    keras.mixed_precision.set_global_policy("float32")


_TWO_REPLICAS = None


@pytest.fixture
def two_replica_strategy():
    """One MirroredStrategy over the two logical CPUs, shared by the whole session.

    TensorFlow keys collective ops by counters that restart with every new strategy, so
    several MirroredStrategy objects in one process can collide ("Shape mismatch in the
    collective instance"); tests therefore reuse a single one.
    """
    global _TWO_REPLICAS
    if _TWO_REPLICAS is None:
        devices = tf.config.list_logical_devices("CPU")
        assert len(devices) >= 2, "two logical CPU devices should have been configured"
        _TWO_REPLICAS = tf.distribute.MirroredStrategy([d.name for d in devices[:2]])
    return _TWO_REPLICAS


# --------------------------------------------------------------------------- shared helpers
# Test modules import these with `from conftest import ...`.

@pytest.fixture(scope="module")
def tiny_architecture():
    """Registers ``cli_test_cnn`` (two conv layers, global pooling) for one test module.

    Command-line behaviour does not depend on the encoder, so the CLI tests use this one
    to stay fast (tests/test_encoders.py covers the real architectures). Use it with
    ``pytestmark = pytest.mark.usefixtures("tiny_architecture")``.
    """
    from kerascon.encoders import registry

    @registry.register_architecture("cli_test_cnn", family="custom", feature_dim=8)
    def cli_test_cnn(stem="cifar", width_multiplier=1.0, **kwargs):
        """Two conv layers and global pooling (for CLI tests only)."""
        return keras.Sequential([keras.Input((None, None, 3)),
                                 keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
                                 keras.layers.BatchNormalization(),
                                 keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
                                 keras.layers.GlobalAveragePooling2D()], name="cli_test_cnn")

    yield
    registry._ARCHITECTURES.pop("cli_test_cnn")


def invoke_cli(*args, **kwargs):
    """Run ``kerascon ARGS`` in-process with click's CliRunner (arguments become strings)."""
    from click.testing import CliRunner

    from kerascon.cli.main import main

    return CliRunner().invoke(main, [str(a) for a in args], **kwargs)


def one_error_line(result) -> str:
    """The single ``Error: ...`` line of a failed command (exit 1, no traceback)."""
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def run_jax_script(script, *args, timeout=600) -> dict:
    """Run a check script under the JAX backend (2 host devices); its last line is JSON."""
    import json
    import subprocess
    import sys

    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    completed = subprocess.run([sys.executable, str(script), *map(str, args)], env=env,
                               capture_output=True, text=True, timeout=timeout, check=False)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])
