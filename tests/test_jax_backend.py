"""kerascon on Keras' JAX backend, run in a subprocess (the backend is fixed per process).

Two host devices are simulated with XLA_FLAGS so keras.distribution.DataParallel is real.
"""

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
    script = Path(__file__).parent / "jax_scripts" / "jax_checks.py"
    env = {**os.environ, "KERAS_BACKEND": "jax",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "JAX_PLATFORMS": "cpu"}
    completed = subprocess.run([sys.executable, str(script), str(tmp_path_factory.mktemp("jax"))],
                               env=env, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_loss_matches_reference_and_blocks_on_jax(jax_results):
    np.testing.assert_allclose(jax_results["loss"], jax_results["loss_reference"], rtol=1e-5)
    np.testing.assert_allclose(jax_results["block_loss"], jax_results["loss"], rtol=1e-5)
    assert jax_results["block_grad_max_diff"] < 1e-5
    assert jax_results["grad_finite"]


def test_supcon_model_stages_on_jax(jax_results):
    assert all(np.isfinite(jax_results["contrastive_losses"]))
    assert jax_results["encoder_changed"]
    np.testing.assert_allclose(jax_results["evaluate_loss"], jax_results["evaluate_expected"],
                               rtol=1e-5)
    assert jax_results["linear_logs"] == ["loss", "top1", "top5"]
    assert jax_results["encoder_frozen"]
    assert jax_results["restored_stage"] == "linear"
    assert jax_results["restored_max_diff"] < 1e-5
    assert jax_results["plain_loss_finite"]


def test_evaluate_weighs_examples_on_jax(jax_results):
    """loss and top-1 of model.evaluate are means over examples at any batch size."""
    for loss, top1 in jax_results["weighted_evaluate"]:
        np.testing.assert_allclose(loss, jax_results["weighted_expected"][0], rtol=1e-5)
        np.testing.assert_allclose(top1, jax_results["weighted_expected"][1], rtol=1e-6)


def test_data_parallel_matches_single_device_on_jax(jax_results):
    assert jax_results["devices"] == 2
    assert jax_results["data_parallel_max_diff"] < 1e-5


def test_device_views_and_any_input_structure_on_jax(jax_results):
    assert all(np.isfinite(jax_results["augmented_losses"]))
    assert jax_results["augmentation_seed_advanced"]
    assert all(np.isfinite(jax_results["dropout_view_losses"]))
    assert jax_results["joint_text_logs"] == ["ce_loss", "loss", "supcon_loss", "top1", "top5"]
    assert np.isfinite(jax_results["joint_text_loss"])
