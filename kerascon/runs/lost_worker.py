"""A multi-worker run whose peer died: one line that names it and says how to resume.

When a worker of a ``MultiWorkerMirroredStrategy`` run dies, the others' collective ops fail
(TensorFlow reports the peer as unavailable, or the collective as aborted) instead of
hanging. Keras' BackupAndRestore semantics apply: every worker stops, the chief's last
checkpoint is intact, and restarting every worker with resume continues from it.
"""

from __future__ import annotations

import contextlib
import re

from kerascon.errors import RunError, Setting

__all__ = ["LostWorkerError", "lost_worker_report"]

_TASK = re.compile(r"/job:(\w+)/replica:\d+/task:(\d+)")


class LostWorkerError(RunError):
    """A peer of a multi-worker run stopped answering."""


def _peer(message: str, own_task) -> str:
    """The first task named in the error that is not this process (``worker 1``)."""
    for job, index in _TASK.findall(message):
        if (job, int(index)) != own_task:
            return f"{job} {index}"
    return "another worker"


@contextlib.contextmanager
def lost_worker_report(strategy, run, stage: str):
    """Turn a collective failure of a multi-worker ``strategy`` into a LostWorkerError.

    Example:
        >>> import tensorflow as tf
        >>> from kerascon.runs.directory import RunDirectory
        >>> with lost_worker_report(tf.distribute.get_strategy(), RunDirectory("runs/a"), "contrastive"):
        ...     pass
    """
    import tensorflow as tf

    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "cluster_spec", None) or \
            len(resolver.cluster_spec().as_dict()) == 0:
        yield  # not a multi-worker run: nothing to translate
        return
    own_task = (resolver.task_type, int(resolver.task_id or 0))
    try:
        yield
    except (tf.errors.UnavailableError, tf.errors.AbortedError,
            tf.errors.DeadlineExceededError) as error:
        resume = run.resume_state(stage)
        where = (f"its last checkpoint (epoch {resume.epoch}) is intact" if resume is not None
                 else "no checkpoint was written yet")
        raise LostWorkerError(
            f"{_peer(str(error), own_task)} of the multi-worker run stopped answering "
            f"({type(error).__name__}); {where}: restart every worker with {{0}} to continue",
            Setting("resume", True)) from error
