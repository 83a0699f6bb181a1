"""Noise corruptions of CIFAR-10-C: gaussian, shot (Poisson) and impulse (salt and pepper)."""

from __future__ import annotations

import tensorflow as tf

from kerascon.evaluation.corruptions._common import (
    _check_images,
    _check_severity,
    _keys,
    _to_uint8,
    _unit,
)

# CIFAR-10-C parameters (make_cifar_c.py), one entry per severity 1..5.
_GAUSSIAN_NOISE = (0.04, 0.06, 0.08, 0.09, 0.10)
_SHOT_NOISE = (500, 250, 100, 75, 50)
_IMPULSE_NOISE = (0.01, 0.02, 0.03, 0.05, 0.07)


def gaussian_noise(images, severity=1, seed=0):
    """Additive Gaussian noise, std ``c`` in [0, 1] units, c = .04 .06 .08 .09 .10.

    Example:
        >>> import numpy as np
        >>> gaussian_noise(np.full((1, 32, 32, 3), 128, np.uint8), 5).std() > 20
        True
    """
    c = _GAUSSIAN_NOISE[_check_severity(severity) - 1]
    x = _unit(_check_images(images))
    (key,) = _keys(seed, "gaussian_noise", 1)
    noise = tf.random.stateless_normal(tf.shape(x), key, stddev=c, dtype=tf.float64)
    return _to_uint8(x + noise)


def shot_noise(images, severity=1, seed=0):
    """Poisson (photon) noise: ``poisson(x * c) / c``, c = 500 250 100 75 50.

    Example:
        >>> import numpy as np
        >>> shot_noise(np.full((1, 8, 8, 3), 100, np.uint8), 5, seed=1).dtype
        dtype('uint8')
    """
    c = _SHOT_NOISE[_check_severity(severity) - 1]
    x = _unit(_check_images(images))
    (key,) = _keys(seed, "shot_noise", 1)
    counts = tf.random.stateless_poisson(tf.shape(x), key, lam=x * c, dtype=tf.float64)
    return _to_uint8(counts / c)


def impulse_noise(images, severity=1, seed=0):
    """Salt-and-pepper noise on a fraction ``c`` of the values, c = .01 .02 .03 .05 .07.

    Example:
        >>> import numpy as np
        >>> out = impulse_noise(np.full((4, 32, 32, 3), 128, np.uint8), 5)
        >>> 0.05 < np.mean(out != 128) < 0.09
        True
    """
    c = _IMPULSE_NOISE[_check_severity(severity) - 1]
    x = _unit(_check_images(images))
    flip_key, salt_key = _keys(seed, "impulse_noise", 2)
    flipped = tf.random.stateless_uniform(tf.shape(x), flip_key, dtype=tf.float64) <= c
    salted = tf.random.stateless_uniform(tf.shape(x), salt_key, dtype=tf.float64) <= 0.5
    x = tf.where(flipped, tf.where(salted, tf.ones_like(x), tf.zeros_like(x)), x)
    return _to_uint8(x)
