"""kerascon.augment.batched: the batch stage equals the per-image ops for the same random
parameters, draws them with SimCLR's probabilities, and multiview_dataset uses it."""

import numpy as np
import pytest
import tensorflow as tf

from kerascon.augment import make_augmentation
from kerascon.augment.batched import (
    _pixels,
    color_jitter_batch,
    flip_batch,
    gaussian_blur_batch,
    grayscale_batch,
    simclr_batch_stage,
)
from kerascon.augment.simclr import _jitter_pixels, gaussian_blur, to_grayscale
from kerascon.data import from_arrays, multiview_dataset

ALL_STEPS = (True, True, True, True)


def images(n=8, size=32, seed=0):
    return tf.constant(np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype(np.float32))


def random_factors(n, seed=1):
    rng = np.random.default_rng(seed)
    return tf.constant(np.stack([rng.uniform(0.6, 1.4, n), rng.uniform(0.6, 1.4, n),
                                 rng.uniform(0.6, 1.4, n), rng.uniform(-0.1, 0.1, n)], 1), tf.float32)


@pytest.mark.parametrize("steps", [ALL_STEPS, (False, False, False, True), (True, False, True, False),
                                   (False, True, False, False)])
def test_color_jitter_batch_equals_per_image_for_the_same_factors(steps):
    x, factors = images(), random_factors(8)
    out = color_jitter_batch(x, factors, steps).numpy()
    for i in range(8):
        one = _jitter_pixels.python_function(x[i], factors[i], steps).numpy()
        np.testing.assert_allclose(out[i], one, atol=2e-3)
    assert out.min() >= 0.0 and out.max() <= 255.0


def test_hue_shift_wraps_around_like_adjust_hue():
    x = images(6, 16) / 255.0
    deltas = [-0.5, -0.1, -0.01, 0.03, 0.1, 0.49]
    factors = tf.constant([[1.0, 1.0, 1.0, d] for d in deltas])
    out = color_jitter_batch(x * 255.0, factors, (False, False, False, True)).numpy()
    for i, d in enumerate(deltas):
        np.testing.assert_allclose(out[i], tf.image.adjust_hue(x[i], d).numpy() * 255.0, atol=2e-3)
    assert np.abs(out[1] - out[4]).max() > 1.0  # the shift is per image


def test_flip_and_grayscale_batch_only_where_the_mask_says():
    x = images()
    mask = tf.constant([True, False, False, True, True, False, True, False])
    flipped, gray = flip_batch(x, mask).numpy(), grayscale_batch(x, mask).numpy()
    for i in range(8):
        if mask[i]:
            np.testing.assert_array_equal(flipped[i], x[i].numpy()[:, ::-1])
            np.testing.assert_array_equal(gray[i], to_grayscale(x[i]).numpy())
        else:
            np.testing.assert_array_equal(flipped[i], x[i].numpy())
            np.testing.assert_array_equal(gray[i], x[i].numpy())


@pytest.mark.parametrize("size, kernel_size", [(32, 3), (20, 9), (72, 7)])  # 72 px: image by image
def test_gaussian_blur_batch_equals_per_image_blur(size, kernel_size):
    x = images(5, size)
    seeds = [tf.constant([i, 3], tf.int64) for i in range(5)]
    sigmas = tf.stack([tf.random.stateless_uniform([], s, 0.1, 2.0) for s in seeds])
    mask = tf.constant([True, False, True, True, False])
    out = gaussian_blur_batch(x, sigmas, kernel_size=kernel_size, mask=mask).numpy()
    every = gaussian_blur_batch(x, sigmas, kernel_size=kernel_size).numpy()
    for i in range(5):
        one = gaussian_blur(x[i], seeds[i], kernel_size=kernel_size).numpy()
        np.testing.assert_allclose(every[i], one, atol=2e-3)
        np.testing.assert_allclose(out[i], one if mask[i] else x[i].numpy(), atol=2e-3)
    none = gaussian_blur_batch(x, sigmas, kernel_size=kernel_size, mask=tf.zeros([5], tf.bool))
    np.testing.assert_array_equal(none.numpy(), x.numpy())


def test_xla_pixel_stage_equals_the_per_image_ops_in_order():
    x, factors = images(), random_factors(8, seed=5)
    flips = tf.constant([True, True, False, False, True, False, True, False])
    jitters = tf.constant([True, False, True, False, True, True, False, True])
    grays = tf.constant([False, False, True, True, False, True, False, False])
    out = _pixels(x, flips, jitters, factors, grays, ALL_STEPS).numpy()
    for i in range(8):
        one = x[i]
        one = tf.image.flip_left_right(one) if flips[i] else one
        one = _jitter_pixels.python_function(one, factors[i], ALL_STEPS) if jitters[i] else one
        one = to_grayscale(one) if grays[i] else one
        np.testing.assert_allclose(out[i], one.numpy(), atol=2e-3)


def test_stage_is_deterministic_given_the_seed_and_shapes_dtype_range():
    stage = simclr_batch_stage(blur_kernel=3)
    x = images(8, 32)
    a, b = stage(x, tf.constant([1, 2])), stage(x, tf.constant([1, 2]))
    c = stage(x, tf.constant([1, 3]))
    assert a.shape == (8, 32, 32, 3) and a.dtype == tf.float32
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), c.numpy())
    assert a.numpy().min() >= 0.0 and a.numpy().max() <= 255.0
    uint8 = stage(tf.cast(x, tf.uint8), tf.constant([1, 2]))
    assert uint8.dtype == tf.float32 and uint8.shape == (8, 32, 32, 3)


def fraction(changed) -> float:
    return float(np.mean(changed))


def test_stage_probabilities_of_flip_jitter_grayscale_and_blur():
    n, rng = 400, np.random.default_rng(7)
    colourful = rng.uniform(0, 255, (1, 16, 16, 3)).astype(np.float32)
    x = tf.constant(np.repeat(colourful, n, axis=0))
    seed = tf.constant([11, 12])

    flips = simclr_batch_stage(jitter=False)(x, seed).numpy()
    flipped = [np.array_equal(o, colourful[0][:, ::-1]) for o in flips]
    kept = [np.array_equal(o, colourful[0]) for o in flips]
    assert all(f != k for f, k in zip(flipped, kept))
    assert 0.4 < fraction(flipped) < 0.6

    gray = simclr_batch_stage(flip=False, color_jitter_prob=0.0)(x, seed).numpy()
    grayed = np.all(gray[..., 0] == gray[..., 1], axis=(1, 2))
    assert 0.13 < fraction(grayed) < 0.27

    jittered = simclr_batch_stage(flip=False, grayscale_prob=0.0)(x, seed).numpy()
    assert 0.73 < fraction([not np.allclose(o, colourful[0]) for o in jittered]) < 0.87

    blurred = simclr_batch_stage(flip=False, color_jitter_prob=0.0, grayscale_prob=0.0,
                                 blur_kernel=5)(x, seed).numpy()
    changed = [not np.array_equal(o, colourful[0]) for o in blurred]
    assert 0.4 < fraction(changed) < 0.6

    everything = simclr_batch_stage(blur_kernel=5)(x, seed).numpy()
    assert 0.13 < fraction(np.all(everything[..., 0] == everything[..., 2], axis=(1, 2))) < 0.27


def test_make_augmentation_attaches_batch_stages_to_simclr_and_flip_crop_only():
    simclr = make_augmentation("simclr", 32, crop_scale=(0.2, 1.0))
    crop = simclr.batch_stages.per_image(tf.zeros([40, 50, 3], tf.uint8), tf.constant([1, 2]))
    assert crop.shape == (32, 32, 3) and crop.dtype == tf.float32
    assert hasattr(make_augmentation("flip_crop", 32), "batch_stages")
    for policy in ("randaugment", "autoaugment", "stacked", "none"):
        assert not hasattr(make_augmentation(policy, 32), "batch_stages")


def arrays_source(n=48, size=32):
    rng = np.random.default_rng(3)
    return from_arrays(rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), np.arange(n) % 4)


def epochs(ds, count=2):
    return [[v.numpy() for v, _ in ds] for _ in range(count)]


def test_vectorized_pipeline_deterministic_given_seed_new_each_epoch_and_seed():
    src = arrays_source()
    make = lambda seed: multiview_dataset(src, views=2, batch_size=8, image_size=32, seed=seed,  # noqa: E731
                                          crop_scale=(0.2, 1.0))
    first, again, other = epochs(make(0)), epochs(make(0)), epochs(make(1))
    for a, b in zip(first, again):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    assert not np.array_equal(first[0][0], first[1][0])
    assert not np.array_equal(first[0][0], other[0][0])
    batch = first[0][0]
    assert batch.shape == (8, 2, 32, 32, 3) and batch.dtype == np.float32
    assert batch.min() >= 0.0 and batch.max() <= 255.0
    assert not np.array_equal(batch[:, 0], batch[:, 1])  # the two views differ


def test_vectorize_option_and_partial_last_batch():
    src = arrays_source(20)
    ds = multiview_dataset(src, views=3, batch_size=8, image_size=16, seed=0, augment="flip_crop",
                           drop_remainder=False, vectorize=True)
    assert [v.shape[0] for v, _ in ds] == [8, 8, 4]
    per_image = multiview_dataset(src, batch_size=8, image_size=16, seed=0, vectorize=False)
    assert next(iter(per_image))[0].shape == (8, 2, 16, 16, 3)
    with pytest.raises(ValueError, match="batch stage"):
        multiview_dataset(src, batch_size=8, augment="randaugment", vectorize=True)
    with pytest.raises(ValueError, match="vectorize"):
        multiview_dataset(src, batch_size=8, vectorize="yes")


def test_folder_images_of_different_sizes_batch(tmp_path):
    from PIL import Image

    from kerascon.data import from_image_folder

    rng = np.random.default_rng(4)
    for i, (h, w) in enumerate([(40, 50), (33, 33), (64, 20), (25, 70), (48, 48), (31, 45)]):
        folder = tmp_path / f"class{i % 2}"
        folder.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / f"{i}.jpg")
    ds = multiview_dataset(from_image_folder(str(tmp_path)), views=2, batch_size=3, image_size=24,
                           seed=0, augment=make_augmentation("simclr", 24, blur=True))
    batches = [(v.numpy(), y.numpy()) for v, y in ds]
    assert [v.shape for v, _ in batches] == [(3, 2, 24, 24, 3)] * 2
    assert sorted(np.concatenate([y for _, y in batches]).tolist()) == [0, 0, 0, 1, 1, 1]


def test_large_views_run_the_batch_stage_in_chunks_and_rebatch():
    from kerascon.data.pipeline import _chunk_size

    assert _chunk_size(tf.TensorShape([2, 32, 32, 3]), 64) == 64
    assert _chunk_size(tf.TensorShape([2, 224, 224, 3]), 64) == 1
    assert _chunk_size(tf.TensorShape([2, 96, 96, 3]), 64) == 9
    src = arrays_source(7, 40)
    make = lambda drop: multiview_dataset(src, views=2, batch_size=3, image_size=256, seed=2,  # noqa: E731
                                          drop_remainder=drop, vectorize=True)
    assert [v.shape for v, _ in make(False)] == [(3, 2, 256, 256, 3)] * 2 + [(1, 2, 256, 256, 3)]
    first, again = [v.numpy() for v, _ in make(True)], [v.numpy() for v, _ in make(True)]
    assert len(first) == 2
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert first[0].min() >= 0.0 and first[0].max() <= 255.0


def test_default_vectorizes_views_up_to_96_px_only():
    from kerascon.data.pipeline import _batch_stages

    assert _batch_stages(make_augmentation("simclr", 96), None) is not None
    assert _batch_stages(make_augmentation("simclr", 97), None) is None
    assert _batch_stages(make_augmentation("simclr", 224), True) is not None
    assert _batch_stages(make_augmentation("simclr", 32), False) is None
