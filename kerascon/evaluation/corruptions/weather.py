"""Weather corruptions of CIFAR-10-C: snow, fog and brightness (frost is left out)."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from kerascon.evaluation.corruptions._common import (
    _check_images,
    _check_severity,
    _clipped_zoom_matrix,
    _keys,
    _motion_blur,
    _separable,
    _to_uint8,
    _unit,
)

# CIFAR-10-C parameters (make_cifar_c.py), one entry per severity 1..5.
_SNOW = (
    (0.1, 0.2, 1, 0.6, 8, 3, 0.95),
    (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
    (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
    (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
    (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8),
)
_FOG = ((0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75))
_BRIGHTNESS = (0.05, 0.1, 0.15, 0.2, 0.3)


def snow(images, severity=1, seed=0):
    """Motion-blurred snow flakes over a whitened image (see deviations in the package docstring).

    Example:
        >>> snow(np.zeros((2, 32, 32, 3), np.uint8), 3, seed=1).mean() > 0
        True
    """
    loc, scale, zoom, threshold, radius, sigma, keep = _SNOW[_check_severity(severity) - 1]
    arr = _check_images(images)
    n, h, w, _ = arr.shape
    x = _unit(arr)
    layer_key, angle_key = _keys(seed, "snow", 2)
    layer = tf.random.stateless_normal([n, h, w, 1], layer_key, loc, scale, tf.float64)
    layer = _separable(layer, _clipped_zoom_matrix(h, zoom), _clipped_zoom_matrix(w, zoom))
    layer = tf.where(layer < threshold, tf.zeros_like(layer), layer)
    layer = tf.floor(tf.clip_by_value(layer, 0.0, 1.0) * 255.0)  # PIL 'L' image
    angles = tf.random.stateless_uniform([n], angle_key, -135, -45, tf.float64).numpy()
    layer = _motion_blur(layer, radius, sigma, angles) / 255.0
    gray = tf.reduce_sum(x * tf.constant([0.299, 0.587, 0.114], tf.float64), -1, keepdims=True)
    x = keep * x + (1 - keep) * tf.maximum(x, gray * 1.5 + 0.5)
    return _to_uint8(x + layer + tf.reverse(layer, axis=[1, 2]))


def _plasma_fractal(uniform_draws, n, mapsize, wibbledecay):
    """Reference diamond-square height map [N, mapsize, mapsize] in [0, 1].

    ``uniform_draws(shape)`` returns U(-1, 1) samples of ``shape``; the reference's
    ``wibble * uniform(-wibble, wibble)`` is ``wibble ** 2 * uniform(-1, 1)``.
    """
    maps = np.zeros((n, mapsize, mapsize))
    step, wibble = mapsize, 100.0

    def wibbled_mean(total):
        return total / 4 + wibble * wibble * uniform_draws(total.shape)

    while step >= 2:
        half = step // 2
        corners = maps[:, 0::step, 0::step]
        square = corners + np.roll(corners, -1, axis=1)
        square = square + np.roll(square, -1, axis=2)
        maps[:, half::step, half::step] = wibbled_mean(square)
        centres = maps[:, half::step, half::step]
        corners = maps[:, 0::step, 0::step]
        total = centres + np.roll(centres, 1, axis=1) + corners + np.roll(corners, -1, axis=2)
        maps[:, 0::step, half::step] = wibbled_mean(total)
        total = centres + np.roll(centres, 1, axis=2) + corners + np.roll(corners, -1, axis=1)
        maps[:, half::step, 0::step] = wibbled_mean(total)
        step //= 2
        wibble /= wibbledecay
    maps -= maps.min(axis=(1, 2), keepdims=True)
    return maps / maps.max(axis=(1, 2), keepdims=True)


class _UniformDraws:
    """Callable giving successive stateless U(-1, 1) arrays from one key."""

    def __init__(self, key, count):
        self.keys = iter(tf.unstack(tf.random.experimental.stateless_split(key, count)))

    def __call__(self, shape):
        return tf.random.stateless_uniform(shape, next(self.keys), -1.0, 1.0,
                                           tf.float64).numpy()


def fog(images, severity=1, seed=0):
    """Adds a plasma-fractal fog layer and rescales, (thickness, wibble decay) per severity.

    Example:
        >>> fog(np.full((2, 32, 32, 3), 100, np.uint8), 5, seed=2).std() > 0
        True
    """
    thickness, decay = _FOG[_check_severity(severity) - 1]
    arr = _check_images(images)
    n, h, w, _ = arr.shape
    mapsize = 2 ** max(1, math.ceil(math.log2(max(h, w))))
    (key,) = _keys(seed, "fog", 1)
    draws = _UniformDraws(key, 3 * int(math.log2(mapsize)))
    plasma = _plasma_fractal(draws, n, mapsize, decay)[:, :h, :w, None]
    x = _unit(arr)
    max_val = tf.reduce_max(x, axis=[1, 2, 3], keepdims=True)
    x = x + thickness * plasma
    return _to_uint8(x * max_val / (max_val + thickness))


def brightness(images, severity=1, seed=0):
    """Adds ``c`` to the HSV value channel, c = .05 .1 .15 .2 .3. ``seed`` is unused.

    Example:
        >>> int(brightness(np.full((1, 2, 2, 3), 100, np.uint8), 5)[0, 0, 0, 0])
        176
    """
    c = _BRIGHTNESS[_check_severity(severity) - 1]
    hsv = tf.image.rgb_to_hsv(_unit(_check_images(images)))
    hsv = tf.concat([hsv[..., :2], tf.clip_by_value(hsv[..., 2:] + c, 0.0, 1.0)], axis=-1)
    return _to_uint8(tf.image.hsv_to_rgb(hsv))
