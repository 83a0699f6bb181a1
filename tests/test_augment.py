"""Tests for kerascon.augment: policies, determinism, ranges and individual ops."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from kerascon import augment as A
from kerascon.augment import (
    AUTOAUGMENT_IMAGENET_POLICY,
    POLICY_BUILDERS,
    make_augmentation,
    make_eval_transform,
)
from kerascon.augment import ops as augment_ops
from kerascon.choices import AUGMENT_POLICIES as POLICIES


def _image(h=40, w=50, seed=0, dtype=np.uint8):
    rng = np.random.default_rng(seed)
    # smooth-ish content so crops/blur/colour ops all change something
    base = rng.integers(0, 256, size=(h // 4 + 1, w // 4 + 1, 3)).astype(np.float32)
    img = tf.image.resize(base[None], [h, w], method="bilinear")[0].numpy()
    return np.clip(np.round(img), 0, 255).astype(dtype)


@pytest.mark.parametrize("policy", POLICIES)
def test_policy_shape_range_determinism(policy):
    fn = make_augmentation(policy, 24)
    img = _image()
    seed = tf.constant([3, 4], tf.int32)
    out = fn(img, seed)
    assert out.shape == (24, 24, 3) and out.dtype == tf.float32
    v = out.numpy()
    assert v.min() >= 0.0 and v.max() <= 255.0
    np.testing.assert_array_equal(v, fn(img, seed).numpy())
    np.testing.assert_array_equal(v, fn(tf.constant(img, tf.float32), tf.constant([3, 4], tf.int64)).numpy())
    others = [fn(img, tf.constant([s, 9])).numpy() for s in range(4)]
    if policy == "none":
        assert all(np.array_equal(o, v) for o in others)
    else:
        assert any(not np.array_equal(o, v) for o in others)


@pytest.mark.parametrize("policy", ["simclr", "autoaugment", "stacked"])  # stacked covers randaugment
def test_policies_in_tf_data_map(policy):
    fn = make_augmentation(policy, (16, 12), crop_scale=(0.2, 1.0))
    images = np.stack([_image(20, 20, s) for s in range(3)])
    seeds = np.array([[1, 2], [3, 4], [5, 6]], np.int64)
    ds = tf.data.Dataset.from_tensor_slices((images, seeds)).map(fn).batch(3)
    out = next(iter(ds)).numpy()
    assert out.shape == (3, 16, 12, 3) and out.min() >= 0 and out.max() <= 255
    np.testing.assert_array_equal(out[1], fn(images[1], seeds[1]).numpy())  # graph == eager


def test_simclr_with_blur_at_96():
    fn = make_augmentation("simclr", 96)
    img = _image(100, 120, seed=1)
    outs = [fn(img, tf.constant([i, 0])).numpy() for i in range(3)]
    assert all(o.shape == (96, 96, 3) and o.min() >= 0 and o.max() <= 255 for o in outs)
    blurred = A.gaussian_blur(tf.constant(img, tf.float32), tf.constant([0, 1]), kernel_size=9)
    assert blurred.shape == (100, 120, 3)
    # blur keeps the mean and reduces high-frequency energy
    x = img.astype(np.float32)
    assert abs(blurred.numpy().mean() - x.mean()) < 2.0
    assert np.abs(np.diff(blurred.numpy(), axis=1)).mean() <= np.abs(np.diff(x, axis=1)).mean()


def test_unknown_policy_and_bad_args():
    with pytest.raises(ValueError, match="valid policies: simclr, randaugment, autoaugment, stacked"):
        make_augmentation("cutmix", 32)
    with pytest.raises(ValueError, match="image_size"):
        make_augmentation("simclr", 0)
    with pytest.raises(ValueError, match="crop_scale"):
        make_augmentation("simclr", 32, crop_scale=(0.5, 0.1))
    with pytest.raises(ValueError, match="color_jitter_strength"):
        make_augmentation("simclr", 32, color_jitter_strength=(0.4, 0.4))
    # One builder per policy name of the choices table, none more.
    assert sorted(POLICY_BUILDERS) == sorted(POLICIES)


def test_eval_transform_resize_and_center_crop():
    evaluate = make_eval_transform(16)
    square = _image(16, 16).astype(np.float32)
    np.testing.assert_allclose(evaluate(square).numpy(), square, atol=1e-4)
    wide = np.zeros((20, 40, 3), np.uint8)
    wide[:, 10:30] = 200  # centre region; the crop must keep only it
    out = evaluate(wide).numpy()
    assert out.shape == (16, 16, 3)
    assert out.min() > 150
    small = evaluate(np.full((4, 6, 1), 77, np.uint8)).numpy()
    assert small.shape == (16, 16, 3) and np.allclose(small, 77)
    with pytest.raises(ValueError, match="crop_fraction"):
        make_eval_transform(16, crop_fraction=0.0)


def test_random_resized_crop_full_scale_is_resize():
    img = _image(20, 20, seed=2)
    out = A.random_resized_crop(img, 20, tf.constant([1, 1]), scale=(1.0, 1.0), ratio=(1.0, 1.0))
    np.testing.assert_allclose(out.numpy(), img.astype(np.float32), atol=1e-3)


def test_autoaugment_policy_table():
    assert len(AUTOAUGMENT_IMAGENET_POLICY) == 25
    for sub in AUTOAUGMENT_IMAGENET_POLICY:
        assert len(sub) == 2
        for op, prob, mag in sub:
            assert op in augment_ops._OPS and 0.0 <= prob <= 1.0 and (mag is None or 0 <= mag <= 9)


def _op(name, image, magnitude=0.0):
    return augment_ops._apply_op(tf.constant(image, tf.float32), tf.constant(augment_ops._OP_INDEX[name]),
                                 tf.constant(magnitude)).numpy()


def test_individual_ops():
    img = _image(12, 12, seed=3).astype(np.float32)
    np.testing.assert_array_equal(_op("Identity", img), img)
    np.testing.assert_array_equal(_op("Invert", img), 255.0 - img)
    np.testing.assert_allclose(_op("Rotate", img, 90.0), np.rot90(img, k=1), atol=1e-3)
    shifted = _op("TranslateX", img, 3.0)
    np.testing.assert_allclose(shifted[:, 3:], img[:, :-3], atol=1e-3)
    np.testing.assert_allclose(shifted[:, :3], 128.0)
    np.testing.assert_array_equal(_op("Posterize", img, 2.0) % 64, 0)
    np.testing.assert_array_equal(_op("Solarize", img, 128.0), np.where(img >= 128, 255 - img, img))
    low = np.linspace(50, 100, 12 * 12 * 3).reshape(12, 12, 3).astype(np.float32)
    stretched = _op("AutoContrast", low)
    np.testing.assert_allclose(stretched.min(axis=(0, 1)), 0.0, atol=1e-3)
    np.testing.assert_allclose(stretched.max(axis=(0, 1)), 255.0, atol=1e-3)
    ramp = np.round(np.linspace(50, 100, 32 * 32 * 3)).reshape(32, 32, 3).astype(np.float32)
    equalized = _op("Equalize", ramp)  # histogram spread over the full range
    assert equalized.max() > 200 and equalized.min() < 10
    np.testing.assert_array_equal(_op("Equalize", np.round(low)), np.round(low))  # too few pixels: no-op, as PIL
    np.testing.assert_allclose(_op("Brightness", img, -1.0), 0.0)  # factor 0 -> black
    gray = _op("Color", img, -1.0)  # factor 0 -> grayscale
    np.testing.assert_allclose(gray[..., 0], gray[..., 1], atol=1e-3)
    flat = _op("Contrast", img, -1.0)  # factor 0 -> mean grey
    assert np.ptp(flat) < 1e-3
    np.testing.assert_allclose(_op("Sharpness", img, 0.0), _op("Sharpness", img, 0.0))
    assert not np.allclose(_op("ShearX", img, 0.3), img)
    assert not np.allclose(_op("ShearY", img, 0.3), img)


def test_color_jitter_and_grayscale():
    img = _image(10, 10, seed=4)
    out = A.color_jitter(img, tf.constant([0, 5])).numpy()
    assert out.shape == (10, 10, 3) and out.min() >= 0 and out.max() <= 255
    assert not np.allclose(out, img)
    gray = A.to_grayscale(img).numpy()
    np.testing.assert_array_equal(gray[..., 0], gray[..., 2])
