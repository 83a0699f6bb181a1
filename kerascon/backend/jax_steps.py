"""train_step and test_step of SupConModel on the JAX backend (stateless, jit-friendly).

Keras' JAX trainer passes the model's state as arrays; the step maps them onto the
model's variables with a ``keras.StatelessScope``, runs the same ``compute_stage_loss``
as the TensorFlow step, takes ``jax.value_and_grad`` of it and returns the new state.
Under ``keras.distribution.DataParallel`` the step is SPMD: the loss already sees the
global batch, so there is no gather and no division by the number of devices.
"""

from __future__ import annotations

import jax
import keras
from keras.utils import unpack_x_y_sample_weight


def check_labels_in_range(labels, num_classes):
    """Returns ``labels`` unchecked on JAX: a jitted step cannot raise. Validate labels in
    the data source."""
    del num_classes
    return labels


class StageStepMixin:
    """Stateless train/test steps for a model that defines ``compute_stage_loss``."""

    def _stateless_stage_loss(self, trainable_values, non_trainable_values, optimizer_values,
                              x, y, training):
        mapping = list(zip(self.trainable_variables, trainable_values))
        mapping += list(zip(self.non_trainable_variables, non_trainable_values))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            loss, logits, labels, components = self.compute_stage_loss(x, y, training=training)
        new_non_trainable = []
        for variable, value in zip(self.non_trainable_variables, non_trainable_values):
            updated = scope.get_current_value(variable)
            new_non_trainable.append(value if updated is None else updated)
        scaled = loss
        if training and optimizer_values is not None:
            with keras.StatelessScope(
                state_mapping=list(zip(self.optimizer.variables, optimizer_values))
            ):
                scaled = self.optimizer.scale_loss(loss)
        return scaled, (loss, logits, labels, components, new_non_trainable)

    def _stateless_metrics(self, metrics_values, loss, logits, labels, components):
        mapping = list(zip(self.metrics_variables, metrics_values))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            logs = self.update_stage_metrics(loss, logits, labels, components)
        new_values = []
        for variable, value in zip(self.metrics_variables, metrics_values):
            updated = scope.get_current_value(variable)
            new_values.append(value if updated is None else updated)
        return logs, new_values

    def train_step(self, state, data):
        trainable, non_trainable, optimizer_values, metrics_values = state
        x, y, _ = unpack_x_y_sample_weight(data)
        grad_fn = jax.value_and_grad(self._stateless_stage_loss, has_aux=True)
        (_, aux), grads = grad_fn(trainable, non_trainable, optimizer_values, x, y, True)
        loss, logits, labels, components, non_trainable = aux
        trainable, optimizer_values = self.optimizer.stateless_apply(
            optimizer_values, grads, trainable
        )
        logs, metrics_values = self._stateless_metrics(metrics_values, loss, logits, labels,
                                                       components)
        return logs, (trainable, non_trainable, optimizer_values, metrics_values)

    def test_step(self, state, data):
        trainable, non_trainable, metrics_values = state
        x, y, _ = unpack_x_y_sample_weight(data)
        _, (loss, logits, labels, components, non_trainable) = self._stateless_stage_loss(
            trainable, non_trainable, None, x, y, False
        )
        logs, metrics_values = self._stateless_metrics(metrics_values, loss, logits, labels,
                                                       components)
        return logs, (trainable, non_trainable, metrics_values)
