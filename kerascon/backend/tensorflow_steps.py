"""train_step and test_step of SupConModel on the TensorFlow backend."""

from __future__ import annotations

import tensorflow as tf
from keras.utils import unpack_x_y_sample_weight


def check_labels_in_range(labels, num_classes):
    """Fail with a message naming the fix when a label is outside [0, num_classes)."""
    message = (
        f"label out of range for a classifier with {num_classes} classes: labels must be "
        f"integers in [0, {num_classes}); check the dataset's labels or num_classes"
    )
    tf.debugging.assert_non_negative(labels, message=message)
    tf.debugging.assert_less(labels, tf.cast(num_classes, labels.dtype), message=message)


class StageStepMixin:
    """GradientTape train step for a model that defines ``compute_stage_loss``.

    The loss is divided by the number of replicas before the gradient (the optimizer sums
    gradients over replicas, as in Keras' own train step) and scaled for mixed precision
    by the optimizer's ``scale_loss``.
    """

    def train_step(self, data):
        x, y, _ = unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            loss, logits, labels, components = self.compute_stage_loss(x, y, training=True)
            scaled = self.optimizer.scale_loss(loss * self.loss_scale_for_replicas())
        variables = self.trainable_variables
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return self.update_stage_metrics(loss, logits, labels, components)

    def test_step(self, data):
        x, y, _ = unpack_x_y_sample_weight(data)
        loss, logits, labels, components = self.compute_stage_loss(x, y, training=False)
        return self.update_stage_metrics(loss, logits, labels, components)
