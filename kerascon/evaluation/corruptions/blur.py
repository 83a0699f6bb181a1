"""Blur corruptions of CIFAR-10-C: defocus, glass, motion and zoom blur."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from kerascon.evaluation.corruptions._common import (
    _border_index,
    _check_images,
    _check_severity,
    _clipped_zoom_matrix,
    _filter_matrix,
    _gaussian_blur,
    _keys,
    _motion_blur,
    _quantised,
    _to_uint8,
    _unit,
)

# CIFAR-10-C parameters (make_cifar_c.py), one entry per severity 1..5.
_DEFOCUS_BLUR = ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1))  # radius, alias
_GLASS_BLUR = ((0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2))
_MOTION_BLUR = ((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5))  # radius, sigma
# np.arange with float steps includes the end point here: 7, 12, 16, 21, 26 factors.
_ZOOM_BLUR = tuple(
    tuple(np.arange(1, end, 0.01)) for end in (1.06, 1.11, 1.16, 1.21, 1.26)
)


def _disk_kernel(radius, alias_blur):
    """Reference ``disk``: normalised aliased disk, 3x3 (5x5 above radius 8) Gaussian blur.

    Cropped to its non-zero support, which leaves the filtering result unchanged.
    """
    if radius <= 8:
        grid, ksize = np.arange(-8, 9), 3
    else:
        grid, ksize = np.arange(-radius, radius + 1), 5
    yy, xx = np.meshgrid(grid, grid)
    disk = ((xx**2 + yy**2) <= radius**2).astype(np.float64)
    disk /= disk.sum()
    # cv2.GaussianBlur(ksize, sigmaX=alias_blur) with OpenCV's default border.
    g = np.exp(-((np.arange(ksize) - (ksize - 1) / 2) ** 2) / (2 * alias_blur**2))
    g /= g.sum()
    n = disk.shape[0]
    kernel = _filter_matrix(n, g, "reflect101") @ disk @ _filter_matrix(n, g, "reflect101").T
    keep = np.flatnonzero(np.abs(kernel).sum(axis=0) > 0)
    lo = min(keep.min(), n - 1 - keep.max())
    return kernel[lo:n - lo, lo:n - lo]


def _correlate2d(x, kernel, mode):
    """``cv2.filter2D``: 2-D correlation of each channel with a centred odd kernel."""
    n, h, w, c = x.shape
    r = kernel.shape[0] // 2
    padded = tf.gather(x, _border_index(h, np.arange(-r, h + r), mode), axis=1)
    padded = tf.gather(padded, _border_index(w, np.arange(-r, w + r), mode), axis=2)
    planes = tf.reshape(tf.transpose(padded, [0, 3, 1, 2]), [n * c, h + 2 * r, w + 2 * r, 1])
    out = tf.nn.conv2d(planes, tf.constant(kernel[:, :, None, None], x.dtype), 1, "VALID")
    return tf.transpose(tf.reshape(out, [n, c, h, w]), [0, 2, 3, 1])


def defocus_blur(images, severity=1, seed=0):
    """Convolution with an anti-aliased disk, (radius, alias sigma) per severity.

    ``seed`` is unused (deterministic corruption); it is accepted for a uniform API.

    Example:
        >>> defocus_blur(np.zeros((1, 32, 32, 3), np.uint8), 5).shape
        (1, 32, 32, 3)
    """
    radius, alias = _DEFOCUS_BLUR[_check_severity(severity) - 1]
    x = _unit(_check_images(images))
    return _to_uint8(_correlate2d(x, _disk_kernel(radius, alias), "reflect101"))


def _glass_source(offsets, h, w, delta):
    """Source pixel of every pixel after the reference's local pixel "swaps".

    The reference writes ``x[h, w], x[h2, w2] = x[h2, w2], x[h, w]`` on numpy views, which
    copies the neighbour into ``(h, w)`` and leaves the neighbour unchanged; this repeats
    that, in the reference's order, on pixel indices.

    Args:
        offsets: int offsets [N, iterations, steps, 2] (dx, dy) in ``[-delta, delta)``,
            one per position of the reference's loop.

    Returns:
        int array [N, H * W]: flat index of the original pixel now at each position.
    """
    n = offsets.shape[0]
    source = np.tile(np.arange(h * w), (n, 1))
    batch = np.arange(n)
    rows, cols = range(h - delta, delta, -1), range(w - delta, delta, -1)
    positions = [(r, q) for r in rows for q in cols]
    for it in range(offsets.shape[1]):
        for step, (r, q) in enumerate(positions):
            neighbour = (r + offsets[:, it, step, 1]) * w + q + offsets[:, it, step, 0]
            source[:, r * w + q] = source[batch, neighbour]
    return source


def _glass_offsets(n, h, w, delta, iterations, seed):
    """Random (dx, dy) in ``[-delta, delta)`` for every shuffle step, [N, iterations, steps, 2]."""
    steps = max(h - 2 * delta, 0) * max(w - 2 * delta, 0)
    (key,) = _keys(seed, "glass_blur", 1)
    return tf.random.stateless_uniform(
        [n, iterations, steps, 2], key, minval=-delta, maxval=delta, dtype=tf.int32
    ).numpy()


def glass_blur(images, severity=1, seed=0):
    """Gaussian blur, local pixel shuffling, Gaussian blur; (sigma, max delta, iterations).

    Example:
        >>> glass_blur(np.zeros((2, 32, 32, 3), np.uint8), 4, seed=3).shape
        (2, 32, 32, 3)
    """
    sigma, delta, iterations = _GLASS_BLUR[_check_severity(severity) - 1]
    arr = _check_images(images)
    n, h, w, _ = arr.shape
    x = _gaussian_blur(_unit(arr), sigma)
    x = tf.floor(x * 255.0) / 255.0  # np.uint8(gaussian(x) * 255)
    source = _glass_source(_glass_offsets(n, h, w, delta, iterations, seed), h, w, delta)
    x = tf.reshape(tf.gather(tf.reshape(x, [n, h * w, 3]), source, axis=1, batch_dims=1),
                   [n, h, w, 3])
    return _to_uint8(_gaussian_blur(x, sigma))


def motion_blur(images, severity=1, seed=0):
    """ImageMagick-style motion blur, (radius, sigma) per severity, angle ~ U(-45, 45).

    Example:
        >>> motion_blur(np.zeros((2, 32, 32, 3), np.uint8), 2).shape
        (2, 32, 32, 3)
    """
    radius, sigma = _MOTION_BLUR[_check_severity(severity) - 1]
    arr = _quantised(_check_images(images))
    (key,) = _keys(seed, "motion_blur", 1)
    angles = tf.random.stateless_uniform([arr.shape[0]], key, -45, 45, tf.float64).numpy()
    out = _motion_blur(tf.constant(arr, tf.float64), radius, sigma, angles)
    return out.numpy().astype(np.uint8)


def zoom_blur(images, severity=1, seed=0):
    """Mean of the image and its centre zooms by factors 1.00 .. 1.06 (up to 1.25).

    ``seed`` is unused (deterministic corruption).

    Example:
        >>> zoom_blur(np.zeros((1, 32, 32, 3), np.uint8), 1).shape
        (1, 32, 32, 3)
    """
    factors = _ZOOM_BLUR[_check_severity(severity) - 1]
    x = _unit(_check_images(images))
    n, h, w, c = x.shape
    k = len(factors)
    rows = np.concatenate([_clipped_zoom_matrix(h, z) for z in factors])  # [K * H, H]
    cols = np.stack([_clipped_zoom_matrix(w, z).T for z in factors])  # [K, W, W]
    # sum_k rows_k @ image @ cols_k as two matrix products (faster than K einsums)
    flat = tf.reshape(tf.transpose(x, [1, 0, 3, 2]), [h, n * c * w])
    zoomed = tf.reshape(tf.constant(rows) @ flat, [k, h * n * c, w]) @ tf.constant(cols)
    zoomed = tf.transpose(tf.reshape(tf.reduce_sum(zoomed, 0), [h, n, c, w]), [1, 0, 3, 2])
    return _to_uint8((x + zoomed) / (k + 1))
