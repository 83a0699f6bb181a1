"""The fast paths of the SimCLR ops: gaussian_blur against a NumPy reference (separable
Gaussian, reflect padding, sigma ~ U), color_jitter's XLA pixel maths against op by op."""

import numpy as np
import pytest
import tensorflow as tf

from kerascon.augment.simclr import _jitter_pixels, color_jitter, gaussian_blur


def reference_blur(image, sigma, radius):
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-x ** 2 / (2 * sigma ** 2))
    kernel /= kernel.sum()
    padded = np.pad(image.astype(np.float64), [(radius, radius), (radius, radius), (0, 0)], mode="reflect")
    h, w = image.shape[:2]
    rows = sum(kernel[i] * padded[i:i + h] for i in range(2 * radius + 1))
    out = sum(kernel[i] * rows[:, i:i + w] for i in range(2 * radius + 1))
    return np.clip(out, 0, 255)


@pytest.mark.parametrize("shape, kernel_size", [((23, 31, 3), 9), ((12, 10, 3), 22), ((8, 8, 3), 3)])
def test_blur_matches_numpy_reference(shape, kernel_size):
    image = np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)
    seed = tf.constant([4, 7])
    sigma = float(tf.random.stateless_uniform([], tf.constant([4, 7], tf.int64), 0.1, 2.0))
    radius = min(kernel_size // 2, shape[0] - 1, shape[1] - 1)
    out = gaussian_blur(tf.constant(image), seed, kernel_size=kernel_size).numpy()
    assert out.shape == shape and out.dtype == np.float32
    np.testing.assert_allclose(out, reference_blur(image, sigma, radius), atol=2e-3)


def test_blur_in_a_graph_with_unknown_size_and_sigma_range():
    blur = tf.function(lambda image, seed: gaussian_blur(image, seed, kernel_size=5),
                       input_signature=[tf.TensorSpec([None, None, 3]), tf.TensorSpec([2], tf.int64)])
    image = np.random.default_rng(1).uniform(0, 255, (9, 14, 3)).astype(np.float32)
    for s in range(3):
        seed = tf.constant([s, 1], tf.int64)
        sigma = float(tf.random.stateless_uniform([], seed, 0.1, 2.0))
        assert 0.1 <= sigma <= 2.0
        np.testing.assert_allclose(blur(tf.constant(image), seed).numpy(),
                                   reference_blur(image, sigma, 2), atol=2e-3)


def test_color_jitter_xla_path_matches_op_by_op():
    image = np.random.default_rng(2).uniform(0, 255, (96, 80, 3)).astype(np.float32)
    factors = tf.constant([1.3, 0.7, 1.25, -0.08])
    for steps in [(True, True, True, True), (False, True, False, True), (True, False, True, False)]:
        fast = _jitter_pixels(tf.constant(image), factors, steps).numpy()
        slow = _jitter_pixels.python_function(tf.constant(image), factors, steps).numpy()
        np.testing.assert_allclose(fast, slow, atol=2e-3)
        assert fast.min() >= 0.0 and fast.max() <= 255.0
    # the random factors are the same on both paths: a large and a small image agree on a
    # region that the ops treat pixel by pixel (brightness and saturation only)
    seed = tf.constant([3, 9])
    big = color_jitter(tf.constant(image), seed, contrast=0.0, hue=0.0).numpy()
    small = color_jitter(tf.constant(image[:8, :8]), seed, contrast=0.0, hue=0.0).numpy()
    np.testing.assert_allclose(big[:8, :8], small, atol=2e-3)


@pytest.mark.parametrize("shape, out", [((14, 20, 3), (32, 32)), ((32, 32, 3), (32, 32)),
                                        ((120, 200, 3), (224, 224)), ((40, 20, 3), (32, 32))])
def test_crop_resize_uses_plain_bilinear_only_when_nothing_shrinks(shape, out):
    from kerascon.augment._common import _resize

    image = tf.constant(np.random.default_rng(3).uniform(0, 255, shape).astype(np.float32))
    reference = tf.clip_by_value(tf.image.resize(image, out, "bilinear", antialias=True), 0, 255)
    fast = _resize(image, out)
    assert fast.shape == (*out, 3)
    np.testing.assert_allclose(fast.numpy(), reference.numpy(), atol=1e-2)
    if shape[0] > out[0]:  # a side shrinks: exactly the antialiased resize
        np.testing.assert_array_equal(fast.numpy(), reference.numpy())
