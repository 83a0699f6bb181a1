"""train_step and test_step of SupConModel on the TensorFlow backend."""

from __future__ import annotations

import tensorflow as tf
from keras.utils import unpack_x_y_sample_weight


def check_labels_in_range(labels, num_classes):
    """Return ``labels``, failing with a message that names the fix when a label is
    outside [0, num_classes).

    The returned tensor depends on the checks, so the loss that consumes it cannot run
    (and raise TensorFlow's own, less helpful error) before them.
    """
    message = (
        f"label out of range for a classifier with {num_classes} classes: labels must be "
        f"integers in [0, {num_classes}); check the dataset's labels or num_classes"
    )
    checks = [
        tf.debugging.assert_non_negative(labels, message=message),
        tf.debugging.assert_less(labels, tf.cast(num_classes, labels.dtype), message=message),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(labels)


class StageStepMixin:
    """GradientTape train step for a model that defines ``compute_stage_loss``.

    The loss is divided by the number of replicas before the gradient (the optimizer sums
    gradients over replicas, as in Keras' own train step) and scaled for mixed precision
    by the optimizer's ``scale_loss``.
    """

    def _global_logs(self, logs):
        """The logs over all replicas inside the step, so every replica reports the global
        values: each mean metric's total and count are summed over replicas, so replicas
        that saw different numbers of examples (a partial last batch) weigh by them.

        Under MultiWorkerMirroredStrategy, Keras reduces the step outputs with
        ``strategy.reduce("MEAN", value, axis=0)``, which fails on scalars; the logs are
        returned as [1] tensors there, and that reduction turns them back into scalars.
        """
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return logs
        metrics = {metric.name: metric for metric in self.metrics}
        reduced = {}
        for name, value in logs.items():
            metric = metrics.get(name)
            if metric is not None and hasattr(metric, "total") and hasattr(metric, "count"):
                # A weighted mean: the replicas' totals and counts, summed.
                count = tf.cast(metric.count.value, tf.float32)
                both = tf.stack([tf.cast(metric.total.value, tf.float32), count])
                total, count = tf.unstack(context.all_reduce(tf.distribute.ReduceOp.SUM, both))
                reduced[name] = tf.cast(tf.math.divide_no_nan(total, count), value.dtype)
            else:
                reduced[name] = context.all_reduce(tf.distribute.ReduceOp.MEAN, value)
        logs = reduced
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            logs = {name: tf.reshape(value, [1]) for name, value in logs.items()}
        return logs

    def train_step(self, data):
        x, y, _ = unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            loss, logits, labels, components = self.compute_stage_loss(x, y, training=True)
            scaled = self.optimizer.scale_loss(loss * self.loss_scale_for_replicas())
        variables = self.trainable_variables
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return self._global_logs(self.update_stage_metrics(loss, logits, labels, components))

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # SupConModel builds every layer in __init__ and compiles no Keras loss or metric,
        # so the symbolic build only has to create the optimizer's variables and needs no
        # data. Keras' own version first reduces a data batch across replicas, which fails
        # under MultiWorkerMirroredStrategy ("Attempt to convert a value (PerReplica...)").
        if not all(layer.built for layer in self._flatten_layers()):
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        if self._distribute_strategy is None:
            return
        with self.distribute_strategy.scope():
            self._symbolic_build()

    def test_step(self, data):
        x, y, _ = unpack_x_y_sample_weight(data)
        loss, logits, labels, components = self.compute_stage_loss(x, y, training=False)
        return self._global_logs(self.update_stage_metrics(loss, logits, labels, components))
