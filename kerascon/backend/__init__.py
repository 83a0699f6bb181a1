"""The few things that differ per Keras backend.

kerascon's maths is written with ``keras.ops`` and runs on every backend. What is not
portable lives here:

* :func:`replica_context` tells the loss whether it runs on one of several
  ``tf.distribute`` replicas, and gives it a differentiable all-gather, so negatives
  come from the whole global batch. On JAX, Keras distributes with SPMD: a jitted
  function already sees the global batch, so no gather is needed.
* :func:`num_replicas_in_sync` gives the factor by which a hand-written train step
  divides its loss, as Keras' own train step does under ``tf.distribute``.
* :class:`StageStepMixin` holds SupConModel's ``train_step`` / ``test_step``, which
  differ per backend in how gradients are taken.
"""

import keras

from kerascon.backend.replicas import ReplicaContext, num_replicas_in_sync, replica_context
from kerascon.errors import DependencyError

_BACKEND = keras.backend.backend()
if _BACKEND == "tensorflow":
    from kerascon.backend.tensorflow_steps import StageStepMixin, check_labels_in_range
elif _BACKEND == "jax":
    from kerascon.backend.jax_steps import StageStepMixin, check_labels_in_range
else:
    raise DependencyError(
        f"kerascon supports the tensorflow and jax Keras backends, not {_BACKEND!r}; "
        "set KERAS_BACKEND=tensorflow or KERAS_BACKEND=jax"
    )

__all__ = [
    "ReplicaContext",
    "StageStepMixin",
    "check_labels_in_range",
    "num_replicas_in_sync",
    "replica_context",
]
