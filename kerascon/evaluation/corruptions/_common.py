"""Shared helpers of the CIFAR-10-C corruptions: validation, seeds, conversions, filters.

Filters are matrices or gathers on pixel indices with the border modes of the reference
(SciPy, OpenCV and ImageMagick conventions).
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import tensorflow as tf

from kerascon.errors import ConfigError, DataError


# ------------------------------------------------------------------ validation, seeds
def _check_images(images):
    """Returns ``images`` as a numpy array [N, H, W, 3] of pixel values in [0, 255]."""
    if isinstance(images, tf.Tensor):
        images = images.numpy()
    arr = np.asarray(images)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise DataError(
            f"images must be a batch [N, H, W, 3], got shape {arr.shape}; "
            "use images[None] for a single image"
        )
    if arr.shape[1] == 0 or arr.shape[2] == 0:
        raise DataError(f"images have no pixels (shape {arr.shape})")
    if arr.dtype == np.uint8:
        return arr
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise DataError(f"images must be uint8 or float pixel values, got dtype {arr.dtype}")
    if arr.size and (not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 255):
        raise DataError(
            "images must hold pixel values in [0, 255] (not [0, 1]); "
            f"got range [{arr.min()}, {arr.max()}]"
        )
    return arr


def _check_severity(severity):
    """Returns ``severity`` as an int in 1..5."""
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)) or not (
        1 <= severity <= 5
    ):
        raise ConfigError(f"severity must be an integer in 1..5, got {severity!r}")
    return int(severity)


def _seed_pair(seed):
    """Returns ``seed`` (an int ``s``, meaning ``(s, 0)``, or a pair of ints) as a pair."""
    pair = (seed, 0) if isinstance(seed, (int, np.integer)) else seed
    if not isinstance(pair, (tuple, list)) or len(pair) != 2 or any(
        isinstance(s, bool) or not isinstance(s, (int, np.integer)) for s in pair
    ):
        raise ConfigError(f"seed must be an int or a pair of ints, got {seed!r}")
    return int(pair[0]), int(pair[1])


def _keys(seed, name, num):
    """``num`` independent stateless seed pairs for corruption ``name`` and ``seed``."""
    salt = zlib.crc32(name.encode()) & 0x7FFFFFFF
    key = tf.constant(_seed_pair(seed), tf.int64)
    key = tf.random.experimental.stateless_fold_in(key, salt)
    return tf.unstack(tf.random.experimental.stateless_split(key, num))


def _unit(arr):
    """Pixel array -> float64 tensor in [0, 1]."""
    return tf.constant(arr, tf.float64) / 255.0


def _quantised(arr):
    """Pixel array -> uint8 numpy array, rounding floats (8-bit input of PIL/Wand code)."""
    if arr.dtype == np.uint8:
        return arr
    return np.floor(np.asarray(arr, np.float64) + 0.5).astype(np.uint8)


def _to_uint8(x):
    """Float tensor in [0, 1] -> uint8 numpy, clipped and truncated like ``np.uint8``."""
    x = np.clip(np.asarray(x, np.float64), 0.0, 1.0) * 255.0
    return np.floor(x).astype(np.uint8)


# ------------------------------------------------------------------ filtering helpers
def _border_index(n, idx, mode):
    """Maps integer positions ``idx`` (any range) into ``[0, n)`` for a border mode.

    ``edge`` repeats the edge pixel (scipy 'nearest', ImageMagick's default);
    ``symmetric`` is scipy 'reflect' (d c b a | a b c d); ``reflect101`` is OpenCV's
    default BORDER_REFLECT_101 (d c b | a b c d).
    """
    idx = np.asarray(idx, np.int64)
    if mode == "edge":
        return np.clip(idx, 0, n - 1)
    if mode == "symmetric":
        m = np.mod(idx, 2 * n)
        return np.where(m >= n, 2 * n - 1 - m, m)
    if n == 1:
        return np.zeros_like(idx)
    m = np.mod(idx, 2 * n - 2)
    return np.where(m >= n, 2 * n - 2 - m, m)


def _filter_matrix(n, weights, mode):
    """[n, n] matrix applying the centred 1-D correlation ``weights`` with a border mode."""
    radius = len(weights) // 2
    out = np.zeros((n, n))
    rows = np.arange(n)
    for offset, w in zip(range(-radius, radius + 1), weights):
        np.add.at(out, (rows, _border_index(n, rows + offset, mode)), w)
    return out


def _gaussian_weights(sigma, truncate=4.0):
    """1-D kernel of ``scipy.ndimage.gaussian_filter1d`` (used by skimage's gaussian)."""
    if sigma <= 1e-15:
        return np.ones(1)
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1)
    w = np.exp(-0.5 * x**2 / sigma**2)
    return w / w.sum()


def _separable(x, rows, cols):
    """Applies matrices ``rows`` [H', H] and ``cols`` [W', W] to a batch [N, H, W, C]."""
    return tf.einsum("ih,nhwc,jw->nijc", tf.constant(rows, x.dtype), x,
                     tf.constant(cols, x.dtype))


def _gaussian_blur(x, sigma, mode="edge", truncate=4.0):
    """skimage ``gaussian(x, sigma, multichannel=True)`` (spatial axes only)."""
    w = _gaussian_weights(sigma, truncate)
    h, wd = x.shape[1], x.shape[2]
    return _separable(x, _filter_matrix(h, w, mode), _filter_matrix(wd, w, mode))


def _bilinear(x, ys, xs, mode):
    """Bilinear samples of ``x`` [N, H, W, C] at float positions ``ys``, ``xs`` [N, H', W'].

    The four neighbours of a position are mapped into the image with
    :func:`_border_index`, i.e. the image is extended by the border mode first.
    """
    n, h, w = x.shape[0], x.shape[1], x.shape[2]
    y0, x0 = np.floor(ys), np.floor(xs)
    fy, fx = (ys - y0)[..., None], (xs - x0)[..., None]
    batch = np.broadcast_to(np.arange(n)[:, None, None], ys.shape)

    def tap(dy, dx):
        yi = _border_index(h, y0.astype(np.int64) + dy, mode)
        xi = _border_index(w, x0.astype(np.int64) + dx, mode)
        return tf.gather_nd(x, np.stack([batch, yi, xi], axis=-1))

    top = tap(0, 0) * (1 - fx) + tap(0, 1) * fx
    bottom = tap(1, 0) * (1 - fx) + tap(1, 1) * fx
    return top * (1 - fy) + bottom * fy


def _clipped_zoom_matrix(n, factor):
    """[n, n] matrix of the reference ``clipped_zoom`` along one axis.

    Centre crop of ``ceil(n / factor)`` pixels, ``scipy.ndimage.zoom(order=1)``
    (corner-aligned linear interpolation) to ``round(crop * factor)`` pixels, centre
    crop back to ``n``.
    """
    crop = int(np.ceil(n / factor))
    top = (n - crop) // 2
    size = round(crop * factor)
    trim = (size - n) // 2
    coords = np.arange(trim, trim + n) * ((crop - 1) / (size - 1) if size > 1 else 0.0)
    coords = np.clip(coords, 0, crop - 1)
    lo = np.floor(coords).astype(np.int64)
    hi = np.minimum(lo + 1, crop - 1)
    frac = coords - lo
    out = np.zeros((n, n))
    np.add.at(out, (np.arange(n), top + lo), 1 - frac)
    np.add.at(out, (np.arange(n), top + hi), frac)
    return out


def _motion_blur_taps(radius, sigma, angles):
    """ImageMagick ``MotionBlurImage`` kernel: weights [K] and offsets dy, dx [N, K]."""
    width = int(2 * math.ceil(radius) + 1)
    i = np.arange(width, dtype=np.float64)
    weights = np.exp(-(i * i) / (2.0 * sigma * sigma))
    weights /= weights.sum()
    rad = np.deg2rad(np.asarray(angles, np.float64))[:, None]
    # point = width * (sin, cos); offset = ceil(i * point / |point| - 0.5)
    dy = np.ceil(i * np.sin(rad) - 0.5).astype(np.int64)
    dx = np.ceil(i * np.cos(rad) - 0.5).astype(np.int64)
    return weights, dy, dx


def _motion_blur(x, radius, sigma, angles):
    """Motion blur of ``x`` [N, H, W, C] (pixel units), edge pixels repeated, rounded."""
    weights, dy, dx = _motion_blur_taps(radius, sigma, angles)
    h, w = x.shape[1], x.shape[2]
    out = tf.zeros_like(x)
    for k, weight in enumerate(weights):
        rows = np.clip(np.arange(h)[None, :] + dy[:, k:k + 1], 0, h - 1)
        cols = np.clip(np.arange(w)[None, :] + dx[:, k:k + 1], 0, w - 1)
        shifted = tf.gather(tf.gather(x, rows, axis=1, batch_dims=1), cols, axis=2,
                            batch_dims=1)
        out += weight * shifted
    return tf.floor(tf.clip_by_value(out, 0.0, 255.0) + 0.5)
