"""Choose a tf.distribute strategy by name."""

from __future__ import annotations

import json
import os

import tensorflow as tf

from kerascon.choices import STRATEGIES
from kerascon.errors import ConfigError, KerasconError, Setting

__all__ = ["STRATEGIES", "StrategyError", "resolve_strategy", "is_chief"]


class StrategyError(KerasconError, RuntimeError):
    """The requested strategy cannot run here (no TPU, no cluster description)."""


def _find_tpu():
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        resolver.cluster_spec()  # raises when no TPU can be reached
        return resolver
    except (ValueError, RuntimeError, tf.errors.NotFoundError, KeyError):
        return None


def resolve_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """Return the strategy for ``name``: auto, default, mirrored, multiworker or tpu.

    ``auto`` picks TPUStrategy when a TPU is found, MultiWorkerMirroredStrategy when
    ``TF_CONFIG`` is set, MirroredStrategy with more than one GPU, and the default
    strategy otherwise.

    Example:
        >>> from kerascon.model import SupConModel
        >>> strategy = resolve_strategy("auto")
        >>> with strategy.scope():
        ...     model = SupConModel.from_architecture("resnet18", num_classes=10)
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if not os.environ.get("TF_CONFIG"):
            raise StrategyError(
                "strategy 'multiworker' needs TF_CONFIG describing the cluster; "
                "set TF_CONFIG on every worker or use {0}", Setting("strategy", "mirrored"))
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = _find_tpu()
        if resolver is None:
            raise StrategyError(
                "no TPU found; run on a TPU VM (or set TPU_NAME) or use {0}",
                Setting("strategy", "auto"))
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if name == "auto":
        if os.environ.get("TPU_NAME") and _find_tpu() is not None:
            return resolve_strategy("tpu")
        if os.environ.get("TF_CONFIG"):
            return resolve_strategy("multiworker")
        if len(tf.config.list_logical_devices("GPU")) > 1:
            return resolve_strategy("mirrored")
        return tf.distribute.get_strategy()
    raise ConfigError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")


def is_chief() -> bool:
    """True unless TF_CONFIG names this process as a non-chief worker.

    Only the chief writes checkpoints, logs and exports (the Keras multi-worker rule).
    """
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return True
    task = json.loads(raw).get("task", {})
    kind, index = task.get("type", "chief"), int(task.get("index", 0))
    cluster = json.loads(raw).get("cluster", {})
    if kind == "chief":
        return True
    return kind == "worker" and index == 0 and "chief" not in cluster
