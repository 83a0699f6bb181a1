"""Momentum encoder + queue on Keras' JAX backend, in a subprocess (backend is per process)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def jax_results(tmp_path_factory):
    script = Path(__file__).parent / "jax_scripts" / "momentum_queue_checks.py"
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    completed = subprocess.run([sys.executable, str(script), str(tmp_path_factory.mktemp("jax"))],
                               check=False, env=env, capture_output=True, text=True,
                               timeout=600)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_queue_loss_matches_reference_on_jax(jax_results):
    np.testing.assert_allclose(jax_results["loss_dense"], jax_results["loss_reference"],
                               rtol=1e-5)
    np.testing.assert_allclose(jax_results["loss_blocks"], jax_results["loss_reference"],
                               rtol=1e-5)
    assert jax_results["block_grad_max_diff"] < 1e-5


def test_momentum_queue_state_on_jax(jax_results):
    assert jax_results["ema_max_diff"] < 1e-6
    assert all(np.isfinite(jax_results["losses"]))
    assert jax_results["pointer"] == 64 % 36 and jax_results["filled"] == 36
    assert jax_results["labels_match"]
    assert jax_results["last_keys_max_diff"] < 1e-5


def test_keras_round_trip_on_jax(jax_results):
    assert jax_results["restored_max_diff"] == 0.0
    assert jax_results["restored_queue_size"] == 36
