"""RandAugment and AutoAugment (ImageNet policy), sampling from the table in ``ops``."""

from __future__ import annotations

import tensorflow as tf

from kerascon.augment._common import _as_rgb_float, _as_seed, _no_autograph, _split
from kerascon.augment.ops import (
    _OP_INDEX,
    _OPS,
    _RANDAUGMENT_NUM_OPS,
    _SIGNED_OPS,
    _apply_op,
    _magnitude,
)
from kerascon.errors import ConfigError, DataError

# AutoAugment "ImageNet" policy (Cubuk et al. 2019, table 9;
# torchvision AutoAugmentPolicy.IMAGENET):
# 25 sub-policies of two (operation, probability, magnitude bin in 0..9) each.
AUTOAUGMENT_IMAGENET_POLICY: tuple = (
    (("Posterize", 0.4, 8), ("Rotate", 0.6, 9)),
    (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
    (("Equalize", 0.8, None), ("Equalize", 0.6, None)),
    (("Posterize", 0.6, 7), ("Posterize", 0.6, 6)),
    (("Equalize", 0.4, None), ("Solarize", 0.2, 4)),
    (("Equalize", 0.4, None), ("Rotate", 0.8, 8)),
    (("Solarize", 0.6, 3), ("Equalize", 0.6, None)),
    (("Posterize", 0.8, 5), ("Equalize", 1.0, None)),
    (("Rotate", 0.2, 3), ("Solarize", 0.6, 8)),
    (("Equalize", 0.6, None), ("Posterize", 0.4, 6)),
    (("Rotate", 0.8, 8), ("Color", 0.4, 0)),
    (("Rotate", 0.4, 9), ("Equalize", 0.6, None)),
    (("Equalize", 0.0, None), ("Equalize", 0.8, None)),
    (("Invert", 0.6, None), ("Equalize", 1.0, None)),
    (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
    (("Rotate", 0.8, 8), ("Color", 1.0, 2)),
    (("Color", 0.8, 8), ("Solarize", 0.8, 7)),
    (("Sharpness", 0.4, 7), ("Invert", 0.6, None)),
    (("ShearX", 0.6, 5), ("Equalize", 1.0, None)),
    (("Color", 0.4, 0), ("Equalize", 0.6, None)),
    (("Equalize", 0.4, None), ("Solarize", 0.2, 4)),
    (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
    (("Invert", 0.6, None), ("Equalize", 1.0, None)),
    (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
    (("Equalize", 0.8, None), ("Equalize", 0.6, None)),
)


def _random_sign(seed) -> tf.Tensor:
    return tf.where(tf.random.stateless_uniform([], seed) < 0.5, -1.0, 1.0)


@_no_autograph
def rand_augment(
    image, seed, *, num_ops: int = 2, magnitude: int = 9, num_magnitude_bins: int = 31
) -> tf.Tensor:
    """RandAugment (Cubuk et al., 2020) as in torchvision, on float ``[0, 255]`` RGB.

    Applies ``num_ops`` operations drawn uniformly from Identity, ShearX/Y,
    TranslateX/Y, Rotate, Brightness, Color, Contrast, Sharpness, Posterize,
    Solarize, AutoContrast and Equalize, each at ``magnitude`` out of
    ``num_magnitude_bins - 1`` (signed ops get a random sign). Geometric ops fill
    with grey (128). The image keeps its size.

    Example::

        out = rand_augment(image, tf.constant([7, 8]), num_ops=2, magnitude=9)
    """
    image = _as_rgb_float(image)
    if not 0 <= magnitude < num_magnitude_bins:
        raise ConfigError(f"magnitude must be in [0, {num_magnitude_bins}), got {magnitude}")
    static_hw = image.shape[:2]
    hw = (int(static_hw[0] or 0), int(static_hw[1] or 0))
    if hw[0] == 0 or hw[1] == 0:
        raise DataError("rand_augment needs an image with a static height and width; resize the images "
                        "to one fixed size first")
    ops = _OPS[:_RANDAUGMENT_NUM_OPS]
    mags = tf.constant([_magnitude(op, magnitude, num_magnitude_bins, hw) for op in ops],
                       tf.float32)
    signed = tf.constant([op in _SIGNED_OPS for op in ops])
    for s in _split(_as_seed(seed), num_ops):
        s_op, s_sign = _split(s, 2)
        op = tf.random.stateless_uniform([], s_op, 0, _RANDAUGMENT_NUM_OPS, dtype=tf.int32)
        m = tf.where(tf.gather(signed, op), _random_sign(s_sign), 1.0) * tf.gather(mags, op)
        image = _apply_op(image, op, m)
    return image


@_no_autograph
def auto_augment(image, seed) -> tf.Tensor:
    """AutoAugment with the ImageNet policy (:data:`AUTOAUGMENT_IMAGENET_POLICY`).

    Picks one of the 25 sub-policies uniformly and applies its two operations,
    each with its probability and magnitude (10 bins, torchvision scales; signed
    ops get a random sign). The image keeps its size.

    Example::

        out = auto_augment(image, tf.constant([9, 10]))
    """
    image = _as_rgb_float(image)
    static_hw = image.shape[:2]
    hw = (int(static_hw[0] or 0), int(static_hw[1] or 0))
    if hw[0] == 0 or hw[1] == 0:
        raise DataError("auto_augment needs an image with a static height and width; resize the images "
                        "to one fixed size first")
    table = AUTOAUGMENT_IMAGENET_POLICY
    op_ids = tf.constant([[_OP_INDEX[op] for op, _, _ in sub] for sub in table], tf.int32)
    probs = tf.constant([[p for _, p, _ in sub] for sub in table], tf.float32)
    mags = tf.constant([[_magnitude(op, b, 10, hw) for op, _, b in sub] for sub in table],
                       tf.float32)
    signed = tf.constant([[op in _SIGNED_OPS for op, _, _ in sub] for sub in table])
    s_pick, *s_ops = _split(_as_seed(seed), 3)
    k = tf.random.stateless_uniform([], s_pick, 0, len(table), dtype=tf.int32)
    for j, s in enumerate(s_ops):
        s_apply, s_sign = _split(s, 2)
        apply = tf.random.stateless_uniform([], s_apply) < probs[k, j]
        op = tf.where(apply, op_ids[k, j], 0)  # 0 = Identity
        m = tf.where(signed[k, j], _random_sign(s_sign), 1.0) * mags[k, j]
        image = _apply_op(image, op, m)
    return image
