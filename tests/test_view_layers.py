"""ViewAugmentation / RepeatViews, and SupConModel making its own views from raw batches."""

import math

import keras
import numpy as np
import pytest

from kerascon.layers.views import RepeatViews, ViewAugmentation
from kerascon.model import SupConModel

NO_COLOUR = dict(color_jitter=(0, 0, 0, 0), grayscale_probability=0.0)


def images(n=4, size=16, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3)).astype("uint8")


def test_views_shape_range_and_independence():
    out = np.asarray(ViewAugmentation(3, seed=1)(images()))
    assert out.shape == (4, 3, 16, 16, 3) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 255.0
    assert not np.allclose(out[:, 0], out[:, 1])  # views of one image differ


def test_identity_settings_return_the_input():
    layer = ViewAugmentation(1, crop_scale=(1, 1), crop_ratio=(1, 1), flip=False, **NO_COLOUR)
    x = images()
    np.testing.assert_array_equal(np.asarray(layer(x))[:, 0], x.astype("float32"))


def test_flip_only_gives_the_image_or_its_mirror():
    layer = ViewAugmentation(8, crop_scale=(1, 1), crop_ratio=(1, 1), seed=3, **NO_COLOUR)
    x = images(2)
    out = np.asarray(layer(x))
    flips = 0
    for i in range(2):
        for v in range(8):
            same = np.array_equal(out[i, v], x[i])
            mirrored = np.array_equal(out[i, v], x[i, :, ::-1])
            assert same or mirrored
            flips += mirrored
    assert 0 < flips < 16


def test_crop_geometry_matches_scale_and_ratio():
    # A horizontal ramp: after crop + resize each row is a ramp whose slope is the crop's
    # width fraction (negative when flipped); the vertical ramp gives the height fraction.
    size = 32
    ramp = np.tile(np.arange(size, dtype="float32")[None, :], (size, 1))
    x = np.stack([ramp, ramp.T, np.zeros_like(ramp)], axis=-1)[None].repeat(16, 0) * 4
    layer = ViewAugmentation(2, crop_scale=(0.25, 0.25), crop_ratio=(1, 1), seed=5, **NO_COLOUR)
    out = np.asarray(layer(x)).reshape(-1, size, size, 3)
    width_fraction = np.abs(np.diff(out[:, 16, 4:-4, 0], axis=1)).mean(axis=1) / 4
    height_fraction = np.abs(np.diff(out[:, 4:-4, 16, 1], axis=1)).mean(axis=1) / 4
    np.testing.assert_allclose(width_fraction, 0.5, atol=0.02)   # sqrt(0.25 * 1)
    np.testing.assert_allclose(height_fraction, 0.5, atol=0.02)
    assert out[..., 0].min() >= 0 and out[..., 0].max() <= 4 * (size - 1)


def test_aspect_ratio_is_sampled_in_range():
    size = 64
    ramp = np.tile(np.arange(size, dtype="float32")[None, :], (size, 1))
    x = np.stack([ramp, ramp.T, np.zeros_like(ramp)], axis=-1)[None].repeat(64, 0)
    layer = ViewAugmentation(1, crop_scale=(0.1, 0.1), crop_ratio=(0.5, 2.0), seed=7,
                             **NO_COLOUR)
    out = np.asarray(layer(x))[:, 0]
    w = np.abs(np.diff(out[:, 32, 8:-8, 0], axis=1)).mean(axis=1)
    h = np.abs(np.diff(out[:, 8:-8, 32, 1], axis=1)).mean(axis=1)
    ratio = w / h
    assert ratio.min() >= 0.5 - 0.05 and ratio.max() <= 2.0 + 0.05
    assert ratio.min() < 0.8 and ratio.max() > 1.25  # both ends are reached
    np.testing.assert_allclose(w * h, 0.1, rtol=0.1)  # area fraction


def test_grayscale_and_seeded_determinism():
    gray = ViewAugmentation(2, grayscale_probability=1.0, color_jitter=(0, 0, 0, 0), seed=0)
    out = np.asarray(gray(images()))
    np.testing.assert_allclose(out[..., 0], out[..., 1], atol=1e-4)
    a = np.asarray(ViewAugmentation(2, seed=11)(images()))
    b = np.asarray(ViewAugmentation(2, seed=11)(images()))
    np.testing.assert_array_equal(a, b)


def test_colour_jitter_changes_colours_but_keeps_range():
    layer = ViewAugmentation(2, crop_scale=(1, 1), crop_ratio=(1, 1), flip=False,
                             color_jitter_probability=1.0, grayscale_probability=0.0, seed=2)
    x = images(8)
    out = np.asarray(layer(x))
    assert not np.allclose(out[:, 0], x)
    assert out.min() >= 0 and out.max() <= 255


def test_bad_arguments_name_the_problem():
    with pytest.raises(ValueError, match="views"):
        ViewAugmentation(0)
    with pytest.raises(ValueError, match="crop_scale"):
        ViewAugmentation(crop_scale=(0.5, 1.5))
    with pytest.raises(ValueError, match="grayscale_probability"):
        ViewAugmentation(grayscale_probability=2)
    with pytest.raises(ValueError, match="views"):
        RepeatViews(1)


def test_layers_round_trip_their_config():
    layer = ViewAugmentation(3, crop_scale=(0.3, 0.9), seed=4)
    clone = ViewAugmentation.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert RepeatViews.from_config(RepeatViews(3).get_config()).views == 3


def test_repeat_views_keeps_any_structure():
    out = RepeatViews(2)({"ids": np.arange(6).reshape(2, 3), "mask": np.ones((2, 3), bool)})
    assert set(out) == {"ids", "mask"}
    np.testing.assert_array_equal(np.asarray(out["ids"])[:, 1], np.arange(6).reshape(2, 3))


def tiny_image_model(**kwargs):
    encoder = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(8, 3),
                                keras.layers.BatchNormalization(), keras.layers.ReLU(),
                                keras.layers.GlobalAveragePooling2D()])
    return SupConModel(encoder, 3, projection_dim=8, projection_hidden_dim=16, **kwargs)


def test_model_makes_views_on_device_from_uint8_batches(tmp_path):
    keras.utils.set_random_seed(0)
    model = tiny_image_model(augmentation=ViewAugmentation(2, seed=0))
    x, y = images(16), np.arange(16) % 3
    before = [np.array(w) for w in model.encoder.weights]
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert all(math.isfinite(v) for v in history.history["loss"])
    assert any(not np.allclose(a, b) for a, b in zip(before, model.encoder.weights))
    # The loss is SupCon over two views: evaluate on raw images gives a loss > 0.
    assert model.evaluate(x, y, batch_size=8, verbose=0) > 0
    # inference never augments: call(images) is deterministic
    np.testing.assert_array_equal(model.predict(x, verbose=0)["embedding"],
                                  model.predict(x, verbose=0)["embedding"])
    # linear stage: crop-and-flip views in training only
    model.set_stage("linear")
    model.augmentation = ViewAugmentation(1, seed=1, **NO_COLOUR)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    model.fit(x, y, batch_size=8, verbose=0)
    path = tmp_path / "augmented.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored.augmentation, ViewAugmentation)
    assert restored.augmentation.views == 1
    np.testing.assert_allclose(restored.predict(x, verbose=0)["logits"],
                               model.predict(x, verbose=0)["logits"], atol=1e-5)
