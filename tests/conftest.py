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
