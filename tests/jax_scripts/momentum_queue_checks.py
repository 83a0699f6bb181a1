"""Momentum encoder + queue on the JAX backend (run by tests/test_momentum_queue_jax.py).

Prints one JSON object of measured values; the pytest side asserts on them.
"""

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "jax"
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import jax
import keras
import numpy as np
from test_momentum_queue import reference_queue_sum

from kerascon.losses.queue import queue_supcon_sum
from kerascon.model import SupConModel

assert keras.backend.backend() == "jax"
results = {}
rng = np.random.default_rng(0)


def unit(*shape):
    x = rng.normal(size=shape)
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype("float32")


anchors, keys, queue = unit(6, 5), unit(6, 5), unit(7, 5)
labels = np.array([0, 1, 2, 0, 1, 2], "int32")
args = (anchors, labels, np.arange(6, dtype="int32"), keys, labels, queue,
        np.array([0, 1, 2, 3, 0, 1, 2], "int32"), np.array([1, 1, 0, 1, 0, 1, 1], bool))
results["loss_reference"] = reference_queue_sum(*args, 0.2)[0]
results["loss_dense"] = float(queue_supcon_sum(*args, temperature=0.2, block_size=None)[0])
results["loss_blocks"] = float(jax.jit(
    lambda a: queue_supcon_sum(a, *args[1:], temperature=0.2, block_size=4)[0])(anchors))
grads = [jax.grad(lambda a, b=b: queue_supcon_sum(a, *args[1:], temperature=0.2,
                                                  block_size=b)[0])(anchors) for b in (None, 4)]
results["block_grad_max_diff"] = float(np.max(np.abs(np.asarray(grads[0] - grads[1]))))

layers = [keras.Input((8, 8, 3)), keras.layers.Conv2D(8, 3, padding="same"),
          keras.layers.BatchNormalization(), keras.layers.ReLU(),
          keras.layers.GlobalAveragePooling2D()]
keras.utils.set_random_seed(0)
model = SupConModel(keras.Sequential(layers), 3, projection_dim=8, projection_hidden_dim=16,
                    momentum_encoder=0.6, queue_size=36)
model.compile(optimizer=keras.optimizers.SGD(0.5))
mq = model.momentum_queue
x = rng.integers(0, 256, size=(32, 2, 8, 8, 3)).astype("float32")
y = rng.integers(0, 3, size=32).astype("int32")
kernel_q = np.array(model.encoder.weights[0])
kernel_k = np.array(mq.key_encoder.weights[0])
model.train_on_batch(x[:8], y[:8])
results["ema_max_diff"] = float(np.max(np.abs(
    np.array(mq.key_encoder.weights[0]) - (0.6 * kernel_k + 0.4 * kernel_q))))
history = model.fit(x[8:], y[8:], batch_size=8, epochs=1, shuffle=False, verbose=0)
results["losses"] = [float(v) for v in history.history["loss"]]
# 4 steps of 16 keys into 36 entries: the pointer wraps to 64 % 36.
results["pointer"] = int(np.array(mq.queue_pointer.value))
results["filled"] = int(np.array(mq.queue_filled.value))
expected_labels = np.zeros(36, "int32")
for step in range(4):
    expected_labels[(step * 16 + np.arange(16)) % 36] = np.repeat(y[step * 8:(step + 1) * 8], 2)
results["labels_match"] = bool(np.array_equal(np.array(mq.queue_labels.value), expected_labels))
last_keys = np.array(mq.key_projections(x[24:].reshape(-1, 8, 8, 3)))
rows = (48 + np.arange(16)) % 36
results["last_keys_max_diff"] = float(np.max(np.abs(np.array(mq.queue.value)[rows] - last_keys)))

path = os.path.join(sys.argv[1], "queue.keras")
model.save(path)
restored = keras.saving.load_model(path)
results["restored_max_diff"] = float(max(
    np.max(np.abs(np.array(a) - np.array(b)))
    for a, b in zip(model.weights, restored.weights)))
results["restored_queue_size"] = restored.get_config()["queue_size"]
print(json.dumps(results))
