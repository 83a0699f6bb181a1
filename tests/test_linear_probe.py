"""The linear probe's feature normalization: where it lives, how it trains, how it loads."""

import json
import zipfile

import keras
import numpy as np
import pytest

from kerascon.data.dispatch import load_source
from kerascon.model import SupConModel
from kerascon.runs.config import LINEAR_STAGE_DEFAULTS, TrainConfig
from kerascon.runs.training import _optimizer, _per_feature_learning_rate

IMAGE = 8


def tiny_encoder(scale=1.0):
    layers = [keras.Input((IMAGE, IMAGE, 3)), keras.layers.Conv2D(8, 3, padding="same"),
              keras.layers.ReLU(), keras.layers.GlobalAveragePooling2D()]
    if scale != 1.0:
        layers.append(keras.layers.Rescaling(scale))
    return keras.Sequential(layers, name="tiny_encoder")


def tiny_model(stage="contrastive", encoder=None, **kwargs):
    return SupConModel(encoder or tiny_encoder(), 3, projection_dim=8, projection_hidden_dim=16,
                       stage=stage, **kwargs)


def images(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n, IMAGE, IMAGE, 3)).astype("float32"),
            rng.integers(0, 3, n).astype("int32"))


def normalised_logits(model, x):
    """The linear probe by hand: the classifier on the features normalised by the moving
    statistics of ``model.probe_norm``."""
    embedding = np.asarray(model(x)["embedding"], np.float64)
    norm = model.probe_norm
    features = ((embedding - np.asarray(norm.moving_mean))
                / np.sqrt(np.asarray(norm.moving_variance) + norm.epsilon))
    return features @ np.asarray(model.classifier.kernel) + np.asarray(model.classifier.bias)


def test_only_the_linear_stage_creates_and_trains_the_normalization():
    keras.utils.set_random_seed(0)
    for stage in ("contrastive", "joint", "ce"):
        assert tiny_model(stage).probe_norm is None
    model = tiny_model()
    model.set_stage("linear")
    norm = model.probe_norm
    assert norm is not None and not norm.center and not norm.scale
    assert norm.trainable and not norm.trainable_weights
    x, y = images()
    encoder = [np.array(w) for w in model.encoder.weights]
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    # Statistics learned here, the encoder untouched, only the classifier trained.
    assert not np.allclose(norm.moving_mean, 0.0)
    assert all(np.array_equal(a, b) for a, b in zip(encoder, model.encoder.weights))
    assert [v.path for v in model.trainable_variables] == \
        [v.path for v in model.classifier.weights]
    # Inference (call, predict, evaluate) normalises with the moving statistics.
    expected = normalised_logits(model, x)
    np.testing.assert_allclose(model.predict(x, verbose=0)["logits"], expected,
                               rtol=1e-4, atol=1e-4)
    ce = keras.losses.sparse_categorical_crossentropy(y, expected, from_logits=True)
    result = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    np.testing.assert_allclose(result["loss"], float(np.mean(ce)), rtol=1e-4)
    # Leaving the probe keeps it as a fixed map: statistics frozen, the same logits.
    model.set_stage("joint")
    assert model.probe_norm is norm and not norm.trainable
    np.testing.assert_allclose(model(x)["logits"], expected, rtol=1e-4, atol=1e-4)
    model.set_stage("linear")
    assert model.probe_norm is norm and norm.trainable


def test_probe_normalization_can_be_switched_off():
    model = tiny_model("linear", probe_normalization=False)
    assert model.probe_norm is None
    assert model.get_config()["probe_normalization"] is False


def digits(scale):
    """Flattened pixels of the embedded digits' training split, times ``scale``."""
    source = load_source("embedded:digits", split="train")
    pairs = [(np.asarray(image), int(label)) for image, label in source.dataset]
    x = np.stack([image for image, _ in pairs]).astype("float32")
    y = np.array([label for _, label in pairs], "int32")
    encoder = keras.Sequential([keras.Input(x.shape[1:]), keras.layers.Flatten(),
                                keras.layers.Rescaling(scale)], name="pixels")
    return encoder, x[:1024], y[:1024]


def probe_losses(scale, *, normalize, lr, epochs=5, batch_size=128):
    keras.utils.set_random_seed(0)
    encoder, x, y = digits(scale)
    model = SupConModel(encoder, 10, projection_dim=8, projection_hidden_dim=16, stage="linear",
                        probe_normalization=normalize)
    config = TrainConfig(**{**LINEAR_STAGE_DEFAULTS, "stage": "linear", "epochs": epochs,
                            "batch_size": batch_size})
    # lr=None: the linear stage's default, scaled to the feature dimension as run_stage does.
    config = (_per_feature_learning_rate(config, model) if lr is None
              else config.replace(lr=lr, lr_per_feature=None))
    model.compile(optimizer=_optimizer(config, len(x) // batch_size))
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0)
    return history.history["loss"], history.history["top1"][-1]


@pytest.mark.parametrize("scale", [1.0, 1000.0])
def test_default_linear_stage_converges_on_any_feature_scale(scale):
    losses, top1 = probe_losses(scale, normalize=True, lr=None)
    assert max(losses) <= losses[0], losses  # no blow-up
    assert losses[-1] < 0.3 * losses[0], losses
    assert top1 > 0.85


def test_unnormalised_probe_at_the_old_learning_rate_blows_up_on_large_features():
    """What the normalization fixes: the old default's first-epoch loss on x1000 features."""
    losses, _ = probe_losses(1000.0, normalize=False, lr=0.5, epochs=1)
    assert losses[0] > 100.0


# ----------------------------------------------------------------------------- saving

def test_config_round_trip_with_and_without_the_normalization():
    keras.utils.set_random_seed(1)
    contrastive = tiny_model()
    config = contrastive.get_config()
    assert "trainable" in config and "dtype" in config  # chains keras.Model.get_config
    assert SupConModel.from_config(config).probe_norm is None
    linear = tiny_model("linear")
    assert SupConModel.from_config(linear.get_config()).probe_norm is not None
    linear.set_stage("ce")  # the normalization made by the probe stays with the model
    restored = SupConModel.from_config(linear.get_config())
    assert restored.stage == "ce" and not restored.probe_norm.trainable
    off = SupConModel.from_config(tiny_model("linear", probe_normalization=False).get_config())
    assert off.probe_norm is None and not off.probe_normalization


def as_saved_before_the_normalization(path):
    """Rewrite a .keras file the way kerascon wrote it before the probe normalization:
    the same weights, the config without its two keys."""
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(files["config.json"])
    for key in ("probe_normalization", "has_probe_norm"):
        config["config"].pop(key)
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)


@pytest.mark.parametrize("stage", ["contrastive", "linear"])
def test_models_saved_before_the_normalization_load(tmp_path, stage):
    keras.utils.set_random_seed(2)
    model = tiny_model(stage, probe_normalization=False)
    x, _ = images(4)
    path = tmp_path / "old.keras"
    model.save(path)
    as_saved_before_the_normalization(path)
    restored = keras.saving.load_model(path)
    assert restored.probe_norm is None and restored.stage == stage
    np.testing.assert_allclose(restored(x)["logits"], model(x)["logits"], rtol=1e-6)
    restored.set_stage("linear")
    # An encoder that was only pretrained gets the normalization in its first probe; a
    # probe trained on raw features keeps them.
    assert (restored.probe_norm is not None) == (stage == "contrastive")


def test_trained_probe_saves_and_loads_with_its_statistics(tmp_path):
    keras.utils.set_random_seed(3)
    model = tiny_model("linear")
    x, y = images()
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "probe.keras")
    restored = keras.saving.load_model(tmp_path / "probe.keras")
    np.testing.assert_allclose(restored.probe_norm.moving_variance, model.probe_norm.moving_variance)
    np.testing.assert_allclose(restored(x)["logits"], model(x)["logits"], rtol=1e-5, atol=1e-6)
