"""Checks run in a subprocess with KERAS_BACKEND=jax (see tests/test_jax_backend.py).

Prints one JSON object of measured values; the pytest side asserts on them.
"""

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "jax"
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from loss_reference import reference_supcon  # noqa: E402

from kerascon.losses import SupConLoss, supcon_loss  # noqa: E402
from kerascon.model import SupConModel  # noqa: E402

assert keras.backend.backend() == "jax"
results = {"devices": len(jax.devices())}

rng = np.random.default_rng(0)
features = rng.normal(size=(10, 3, 6)).astype("float32")
labels = rng.integers(0, 4, size=10)
results["loss"] = float(supcon_loss(features, labels))
results["loss_reference"] = reference_supcon(features, labels)
dense_grad = jax.grad(lambda f: supcon_loss(f, labels, block_size=None))(features)
block_grad = jax.grad(lambda f: supcon_loss(f, labels, block_size=3))(features)
results["block_loss"] = float(jax.jit(lambda f: supcon_loss(f, labels, block_size=3))(features))
results["block_grad_max_diff"] = float(np.max(np.abs(np.asarray(dense_grad - block_grad))))
results["grad_finite"] = bool(np.all(np.isfinite(np.asarray(dense_grad))))


def tiny_model(batch_norm=True):
    layers = [keras.Input((8, 8, 3)), keras.layers.Conv2D(8, 3, padding="same")]
    if batch_norm:
        layers.append(keras.layers.BatchNormalization())
    layers += [keras.layers.ReLU(), keras.layers.GlobalAveragePooling2D()]
    return SupConModel(keras.Sequential(layers), 3, projection_dim=8, projection_hidden_dim=16)


x = rng.integers(0, 256, size=(16, 2, 8, 8, 3)).astype("float32")
y = rng.integers(0, 3, size=16).astype("int32")
keras.utils.set_random_seed(0)
model = tiny_model()
before = [np.array(w) for w in model.encoder.weights]
model.compile(optimizer=keras.optimizers.SGD(0.5))
history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
results["contrastive_losses"] = [float(v) for v in history.history["loss"]]
results["encoder_changed"] = any(not np.allclose(a, np.array(b))
                                 for a, b in zip(before, model.encoder.weights))
evaluated = model.evaluate(x[:8], y[:8], batch_size=8, verbose=0, return_dict=True)
results["evaluate_loss"] = float(evaluated["loss"])
results["evaluate_expected"] = float(supcon_loss(model(x[:8])["projection"], y[:8]))

model.set_stage("linear")
model.compile(optimizer=keras.optimizers.SGD(0.5))
frozen = [np.array(w) for w in model.encoder.weights]
history = model.fit(x[:, 0], y, batch_size=8, epochs=2, verbose=0, shuffle=False)
results["linear_logs"] = sorted(history.history)
results["encoder_frozen"] = all(np.allclose(a, np.array(b))
                                for a, b in zip(frozen, model.encoder.weights))
# Evaluation metrics are means over examples: 16 = 3*5 + 1 = 2*7 + 2 leave partial batches.
logits = np.asarray(model(x[:, 0])["logits"], np.float64)
log_probs = logits - logits.max(1, keepdims=True)
log_probs -= np.log(np.exp(log_probs).sum(1, keepdims=True))
results["weighted_expected"] = [float(-log_probs[np.arange(16), y].mean()),
                                float(np.mean(logits.argmax(1) == y))]
results["weighted_evaluate"] = [
    [float(r["loss"]), float(r["top1"])]
    for r in (model.evaluate(x[:, 0], y, batch_size=b, verbose=0, return_dict=True)
              for b in (5, 7, 16))]

path = os.path.join(sys.argv[1], "jax_model.keras")
model.save(path)
restored = keras.saving.load_model(path)
results["restored_stage"] = restored.stage
results["restored_max_diff"] = float(np.max(np.abs(
    np.asarray(restored(x[:, 0])["logits"]) - np.asarray(model(x[:, 0])["logits"]))))

# SupConLoss in model.compile of a plain Keras model.
plain = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8)])
plain.compile(optimizer="sgd", loss=SupConLoss(temperature=0.5))
history = plain.fit(rng.normal(size=(32, 6)).astype("float32"), rng.integers(0, 3, 32),
                    batch_size=16, epochs=1, verbose=0)
results["plain_loss_finite"] = bool(np.isfinite(history.history["loss"][0]))

# DataParallel over the local devices gives the single-device result.
keras.utils.set_random_seed(1)
single = tiny_model(batch_norm=False)
initial = single.get_weights()
single.compile(optimizer=keras.optimizers.SGD(0.5))
single.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices()))
parallel = tiny_model(batch_norm=False)
parallel.set_weights(initial)
parallel.compile(optimizer=keras.optimizers.SGD(0.5))
parallel.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
keras.distribution.set_distribution(None)
results["data_parallel_max_diff"] = float(max(
    np.max(np.abs(np.asarray(a) - np.asarray(b)))
    for a, b in zip(single.get_weights(), parallel.get_weights())))

# Views made on the device from uint8 NumPy batches (the GPU input path).
from kerascon.layers.views import RepeatViews, ViewAugmentation  # noqa: E402

keras.utils.set_random_seed(2)
augmented = SupConModel(tiny_model().encoder, 3, projection_dim=8, projection_hidden_dim=16,
                        augmentation=ViewAugmentation(2, seed=0))
raw = rng.integers(0, 256, size=(16, 8, 8, 3)).astype("uint8")
augmented.compile(optimizer=keras.optimizers.SGD(0.1))
history = augmented.fit(raw, y, batch_size=8, epochs=2, verbose=0)
results["augmented_losses"] = [float(v) for v in history.history["loss"]]
results["augmentation_seed_advanced"] = bool(np.any(
    np.asarray(augmented.augmentation.seed_generator.state.value) != np.array([0, 0])))

# A dict-input encoder with dropout views (SimCSE) and one view per example with labels.
ids_in = keras.Input((6,), dtype="int32", name="token_ids")
mask_in = keras.Input((6,), dtype="int32", name="padding_mask")
h = keras.layers.Dropout(0.3)(keras.layers.Embedding(20, 8)(ids_in))
h = h * keras.ops.expand_dims(keras.ops.cast(mask_in, "float32"), -1)
text_encoder = keras.Model({"token_ids": ids_in, "padding_mask": mask_in},
                           keras.ops.mean(h, axis=1))
tokens = {"token_ids": rng.integers(1, 20, size=(16, 6)).astype("int32"),
          "padding_mask": np.ones((16, 6), "int32")}
dropout_views = SupConModel(text_encoder, 3, projection_dim=8, projection_hidden_dim=16,
                            use_labels=False, augmentation=RepeatViews(2))
dropout_views.compile(optimizer=keras.optimizers.SGD(0.1))
results["dropout_view_losses"] = [float(v) for v in dropout_views.fit(
    tokens, batch_size=8, epochs=2, verbose=0).history["loss"]]
dropout_views.set_stage("joint")
dropout_views.compile(optimizer=keras.optimizers.SGD(0.1))
joint = dropout_views.fit(tokens, y, batch_size=8, epochs=1, verbose=0).history
results["joint_text_logs"] = sorted(joint)
results["joint_text_loss"] = float(joint["loss"][0])
print(json.dumps(results))
