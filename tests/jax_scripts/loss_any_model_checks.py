"""SupConLoss in model.compile on the JAX backend (run by tests/test_loss_any_model.py).

Prints one JSON object of measured values; the pytest side asserts on them.
"""

import json
import os

os.environ["KERAS_BACKEND"] = "jax"

import jax
import keras
import numpy as np

from kerascon.losses import SupConLoss, supcon_loss

assert keras.backend.backend() == "jax"
results = {"devices": len(jax.devices())}
rng = np.random.default_rng(0)
labels = rng.integers(0, 3, size=24).astype("int32")
centers = rng.normal(size=(3, 6)) * 2


def model_for(shape, seed=0):
    # A seeded initializer, not keras.utils.set_random_seed (which imports TensorFlow).
    kernel = keras.initializers.GlorotUniform(seed=seed)
    return keras.Sequential([keras.Input(shape), keras.layers.Dense(8, kernel_initializer=kernel)])


# One view with [B, 1] labels; two views with [B] labels.
cases = {
    "B-D": ((centers[labels] + rng.normal(size=(24, 6))), labels[:, None]),
    "B-V-D": ((centers[labels][:, None] + rng.normal(size=(24, 2, 6))), labels),
}
for name, (x, y) in cases.items():
    x = x.astype("float32")
    model = model_for(x.shape[1:])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=SupConLoss(temperature=0.5))
    results[f"{name}_evaluate"] = float(model.evaluate(x, y, batch_size=24, verbose=0))
    outputs = np.asarray(model(x)).reshape(24, -1, 8)
    expected = jax.jit(lambda o: supcon_loss(o, labels, temperature=0.5))(outputs)
    results[f"{name}_expected"] = float(expected)
    losses = model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False).history["loss"]
    results[f"{name}_decreased"] = bool(np.all(np.isfinite(losses)) and losses[-1] < losses[0])

try:
    model = model_for((6,))
    model.compile(optimizer="sgd", loss=SupConLoss())
    model.fit(cases["B-D"][0].astype("float32"), batch_size=8, epochs=1, verbose=0)
    results["no_labels_error"] = ""
except ValueError as error:
    results["no_labels_error"] = str(error)

# DataParallel over two host devices: SPMD sees the global batch, same weights as one device.
x = cases["B-V-D"][0].astype("float32")
single = model_for((2, 6), seed=1)
initial = single.get_weights()
single.compile(optimizer=keras.optimizers.SGD(0.5), loss=SupConLoss(temperature=0.3))
single.fit(x, labels, batch_size=8, epochs=1, verbose=0, shuffle=False)
keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices()))
parallel = model_for((2, 6), seed=1)
parallel.set_weights(initial)
parallel.compile(optimizer=keras.optimizers.SGD(0.5), loss=SupConLoss(temperature=0.3))
parallel.fit(x, labels, batch_size=8, epochs=1, verbose=0, shuffle=False)
keras.distribution.set_distribution(None)
results["moved"] = float(max(np.max(np.abs(np.asarray(a) - b))
                             for a, b in zip(single.get_weights(), initial)))
results["data_parallel_max_diff"] = float(max(
    np.max(np.abs(np.asarray(a) - np.asarray(b)))
    for a, b in zip(single.get_weights(), parallel.get_weights())))
print(json.dumps(results))
