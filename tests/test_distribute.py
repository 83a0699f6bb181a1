"""kerascon.distribute: strategy by name, the TPU path without a TPU, the chief rule."""

import json

import pytest
import tensorflow as tf

from kerascon.distribute import is_chief, resolve_strategy


def test_auto_without_cluster_tpu_or_gpus_is_the_default_strategy(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.delenv("TPU_NAME", raising=False)
    assert resolve_strategy("auto") is tf.distribute.get_strategy()
    assert resolve_strategy("default") is tf.distribute.get_strategy()


def test_tpu_without_a_tpu_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("TPU_NAME", raising=False)
    with pytest.raises(RuntimeError, match="no TPU found; .*strategy='auto'"):
        resolve_strategy("tpu")


def test_multiworker_needs_tf_config_and_unknown_names_are_refused(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(RuntimeError, match="needs TF_CONFIG"):
        resolve_strategy("multiworker")
    with pytest.raises(ValueError, match="unknown strategy 'mirorred'"):
        resolve_strategy("mirorred")


@pytest.mark.parametrize("task,cluster,chief", [
    (None, None, True),
    ({"type": "chief", "index": 0}, {"chief": ["a:1"], "worker": ["b:1"]}, True),
    ({"type": "worker", "index": 0}, {"chief": ["a:1"], "worker": ["b:1"]}, False),
    ({"type": "worker", "index": 0}, {"worker": ["a:1", "b:1"]}, True),
    ({"type": "worker", "index": 1}, {"worker": ["a:1", "b:1"]}, False),
])
def test_only_the_chief_writes(monkeypatch, task, cluster, chief):
    if task is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": task}))
    assert is_chief() is chief
