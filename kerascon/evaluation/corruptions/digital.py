"""Digital corruptions of CIFAR-10-C: contrast, elastic transform, pixelate and JPEG."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from kerascon.evaluation.corruptions._common import (
    _bilinear,
    _check_images,
    _check_severity,
    _gaussian_blur,
    _keys,
    _quantised,
    _to_uint8,
    _unit,
)

# CIFAR-10-C parameters (make_cifar_c.py), one entry per severity 1..5.
_CONTRAST = (0.75, 0.5, 0.4, 0.3, 0.15)
# alpha, sigma, affine jitter as fractions of the image size (IMSIZE = 32 in CIFAR-10-C).
_ELASTIC = ((0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05),
            (0.1, 0.03, 0.03))
_PIXELATE = (0.95, 0.9, 0.85, 0.75, 0.65)
_JPEG_QUALITY = (80, 65, 58, 50, 40)


def contrast(images, severity=1, seed=0):
    """Scales each channel about its image mean by c = .75 .5 .4 .3 .15. ``seed`` unused.

    Example:
        >>> x = np.array([0, 200], np.uint8).repeat(3).reshape(1, 1, 2, 3)
        >>> contrast(x, 2)[0, 0, :, 0].tolist()
        [50, 150]
    """
    c = _CONTRAST[_check_severity(severity) - 1]
    x = _unit(_check_images(images))
    means = tf.reduce_mean(x, axis=[1, 2], keepdims=True)
    return _to_uint8((x - means) * c + means)


def _elastic_positions(n, h, w, severity, seed):
    """Sampling positions of :func:`elastic_transform`, each a (ys, xs) pair [N, H, W].

    Returns the positions of the random affine warp (sampled with OpenCV's
    BORDER_REFLECT_101) and those of the smoothed displacement applied after it
    (sampled like ``scipy.ndimage.map_coordinates(order=1, mode='reflect')``).
    """
    size = min(h, w)
    alpha, sigma, jitter = (v * size for v in _ELASTIC[severity - 1])
    affine_key, dx_key, dy_key = _keys(seed, "elastic_transform", 3)
    # cv2.getAffineTransform(src, dst) maps src -> dst; warpAffine samples src at M^-1 p.
    cx, cy, half = w // 2, h // 2, max(size // 3, 1)  # max(): images under 3 pixels
    src = np.array([[cx + half, cy + half], [cx + half, cy - half], [cx - half, cy - half]],
                   np.float64)
    dst = src + tf.random.stateless_uniform([n, 3, 2], affine_key, -jitter, jitter,
                                            tf.float64).numpy()
    design = np.concatenate([src, np.ones((3, 1))], axis=1)
    forward = np.linalg.solve(design[None], dst).transpose(0, 2, 1)  # [N, 2, 3]
    square = np.concatenate([forward, np.tile([[[0.0, 0.0, 1.0]]], (n, 1, 1))], axis=1)
    gy, gx = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64),
                         indexing="ij")
    grid = np.stack([gx, gy, np.ones_like(gx)]).reshape(3, -1)
    mapped = (np.linalg.inv(square)[:, :2] @ grid).reshape(n, 2, h, w)

    # skimage gaussian(uniform(-1, 1), sigma, mode='reflect', truncate=3) * alpha
    def field(key):
        noise = tf.random.stateless_uniform([n, h, w, 1], key, -1.0, 1.0, tf.float64)
        smooth = _gaussian_blur(noise, sigma, mode="symmetric", truncate=3.0)
        return smooth.numpy()[..., 0] * alpha

    return (mapped[:, 1], mapped[:, 0]), (gy + field(dy_key), gx + field(dx_key))


def elastic_transform(images, severity=1, seed=0):
    """Random affine warp, then a smoothed random displacement; (alpha, sigma, jitter).

    In CIFAR-10-C the affine jitter shrinks with severity (0.08 to 0.03 of the image
    size) while the local elastic displacement grows, so the pixel difference from the
    clean image falls with severity although the local distortion rises.

    Example:
        >>> elastic_transform(np.zeros((2, 32, 32, 3), np.uint8), 3, seed=1).shape
        (2, 32, 32, 3)
    """
    severity = _check_severity(severity)
    arr = _check_images(images)
    n, h, w, _ = arr.shape
    affine, displaced = _elastic_positions(n, h, w, severity, seed)
    x = _bilinear(_unit(arr), *affine, "reflect101")
    return _to_uint8(_bilinear(x, *displaced, "symmetric"))


def _pil_box_weights(in_size, out_size):
    """Pillow ``BOX`` resampling along one axis as 22-bit fixed-point weights [out, in]."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 0.5 * filterscale
    out = np.zeros((out_size, in_size))
    for i in range(out_size):
        centre = (i + 0.5) * scale
        lo = max(int(centre - support + 0.5), 0)
        hi = min(int(centre + support + 0.5), in_size)
        t = (np.arange(lo, hi) - centre + 0.5) / filterscale
        weights = ((t > -0.5) & (t <= 0.5)).astype(np.float64)
        if weights.sum():
            out[i, lo:hi] = weights / weights.sum()
    return np.floor(out * (1 << 22) + 0.5)


def _pil_box_resize(x, height, width):
    """Pillow ``Image.resize((width, height), BOX)`` of a uint8-valued float batch."""
    def rounded(v):  # (sum + 2**21) >> 22, clipped to 0..255
        return tf.clip_by_value(tf.floor((v + 2.0**21) / 2.0**22), 0.0, 255.0)

    cols = tf.constant(_pil_box_weights(x.shape[2], width), tf.float64)
    rows = tf.constant(_pil_box_weights(x.shape[1], height), tf.float64)
    x = rounded(tf.einsum("nhwc,jw->nhjc", x, cols))
    return rounded(tf.einsum("ih,nhwc->niwc", rows, x))


def pixelate(images, severity=1, seed=0):
    """Box down-sampling to ``int(size * c)`` and box up-sampling, c = .95 .9 .85 .75 .65.

    ``seed`` is unused (deterministic corruption).

    Example:
        >>> pixelate(np.zeros((1, 32, 32, 3), np.uint8), 5).shape
        (1, 32, 32, 3)
    """
    c = _PIXELATE[_check_severity(severity) - 1]
    arr = _quantised(_check_images(images))
    h, w = arr.shape[1], arr.shape[2]
    x = tf.constant(arr, tf.float64)
    small = _pil_box_resize(x, max(1, int(h * c)), max(1, int(w * c)))
    return _pil_box_resize(small, h, w).numpy().astype(np.uint8)


def jpeg_compression(images, severity=1, seed=0):
    """JPEG encode/decode at quality 80 65 58 50 40. ``seed`` is unused.

    Example:
        >>> jpeg_compression(np.zeros((1, 32, 32, 3), np.uint8), 5).shape
        (1, 32, 32, 3)
    """
    quality = _JPEG_QUALITY[_check_severity(severity) - 1]
    arr = _quantised(_check_images(images))
    out = np.empty_like(arr)
    for i, image in enumerate(arr):
        encoded = tf.io.encode_jpeg(image, quality=quality)
        out[i] = tf.io.decode_jpeg(encoded, channels=3, dct_method="INTEGER_ACCURATE").numpy()
    return out
