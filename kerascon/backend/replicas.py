"""Replica awareness for the contrastive loss (tf.distribute on TensorFlow)."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import keras


def _identity(value: Any) -> Any:
    return value


@dataclasses.dataclass(frozen=True)
class ReplicaContext:
    """Where the current computation sits among synchronised replicas.

    Attributes:
        num_replicas: replicas that run this step in lock-step (1 outside any
            multi-replica ``tf.distribute`` context, and always 1 on JAX).
        replica_id: this replica's position, a Python int or a scalar tensor.
        all_gather: concatenates a tensor along axis 0 over all replicas, in replica
            order. Its gradient is all-reduced (summed) and sliced back to the
            local part, so a loss that contrasts against the gathered tensor
            passes every replica's gradient to the features it came from.
    """

    num_replicas: int
    replica_id: Any
    all_gather: Callable[[Any], Any]


_SINGLE = ReplicaContext(num_replicas=1, replica_id=0, all_gather=_identity)


def replica_context() -> ReplicaContext:
    """Return the :class:`ReplicaContext` of the code that calls it.

    Example:
        >>> ctx = replica_context()
        >>> ctx.num_replicas   # outside strategy.run
        1
    """
    if keras.backend.backend() != "tensorflow":
        return _SINGLE
    import tensorflow as tf

    if not tf.distribute.has_strategy() or tf.distribute.in_cross_replica_context():
        return _SINGLE
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return _SINGLE
    return ReplicaContext(
        num_replicas=int(ctx.num_replicas_in_sync),
        replica_id=ctx.replica_id_in_sync_group,
        all_gather=lambda value: ctx.all_gather(value, axis=0),
    )


def num_replicas_in_sync() -> int:
    """Replicas of the current ``tf.distribute`` strategy (1 on other backends)."""
    if keras.backend.backend() != "tensorflow":
        return 1
    import tensorflow as tf

    return int(tf.distribute.get_strategy().num_replicas_in_sync)
