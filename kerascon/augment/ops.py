"""The operation table shared by RandAugment and AutoAugment, and its image operations."""

from __future__ import annotations

import math

import tensorflow as tf

from kerascon.augment._common import _blend, _clip, _gray

# Operation table shared by RandAugment and AutoAugment. Index 0 must stay Identity.
_OPS = (
    "Identity", "ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate",
    "Brightness", "Color", "Contrast", "Sharpness", "Posterize", "Solarize",
    "AutoContrast", "Equalize", "Invert",
)
_OP_INDEX = {name: i for i, name in enumerate(_OPS)}
# RandAugment samples from the first 14 ops (no Invert), as in the paper and torchvision.
_RANDAUGMENT_NUM_OPS = 14
_SIGNED_OPS = frozenset(
    {"ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness", "Color", "Contrast",
     "Sharpness"}
)
_FILL_VALUE = 128.0  # grey fill for geometric ops, as in the reference TF AutoAugment code


def _projective(image: tf.Tensor, transform) -> tf.Tensor:
    """Apply a projective transform (maps output (x, y) to input coordinates)."""
    transform = tf.reshape(tf.cast(tf.stack(transform), tf.float32), [1, 8])
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[tf.newaxis],
        transforms=transform,
        output_shape=tf.shape(image)[:2],
        fill_value=tf.constant(_FILL_VALUE, tf.float32),
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )
    return out[0]


def _shear_x(image, m):
    return _projective(image, [1.0, m, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0])


def _shear_y(image, m):
    return _projective(image, [1.0, 0.0, 0.0, m, 1.0, 0.0, 0.0, 0.0])


def _translate_x(image, pixels):
    return _projective(image, [1.0, 0.0, -pixels, 0.0, 1.0, 0.0, 0.0, 0.0])


def _translate_y(image, pixels):
    return _projective(image, [1.0, 0.0, 0.0, 0.0, 1.0, -pixels, 0.0, 0.0])


def _rotate(image, degrees):
    angle = degrees * (math.pi / 180.0)
    shape = tf.cast(tf.shape(image), tf.float32)
    h, w = shape[0] - 1.0, shape[1] - 1.0
    cos, sin = tf.cos(angle), tf.sin(angle)
    x_offset = (w - (cos * w - sin * h)) / 2.0
    y_offset = (h - (sin * w + cos * h)) / 2.0
    return _projective(image, [cos, -sin, x_offset, sin, cos, y_offset, 0.0, 0.0])


def _sharpness(image, factor):
    # PIL ImageEnhance.Sharpness: blend with a 3x3 smoothed image whose border pixels are unchanged.
    kernel = tf.constant([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]]) / 13.0
    kernel = tf.tile(kernel[:, :, tf.newaxis, tf.newaxis], [1, 1, 3, 1])
    smooth = tf.nn.depthwise_conv2d(image[tf.newaxis], kernel, [1, 1, 1, 1], padding="SAME")[0]
    shape = tf.shape(image)
    rows = tf.range(shape[0])
    cols = tf.range(shape[1])
    interior_r = tf.logical_and(rows > 0, rows < shape[0] - 1)
    interior_c = tf.logical_and(cols > 0, cols < shape[1] - 1)
    interior = tf.logical_and(interior_r[:, tf.newaxis],
                              interior_c[tf.newaxis, :])[:, :, tf.newaxis]
    degenerate = tf.where(interior, smooth, image)
    return _blend(degenerate, image, factor)


def _posterize(image, bits):
    shift = tf.cast(8 - tf.cast(tf.round(bits), tf.int32), tf.uint8)
    as_int = tf.cast(tf.round(_clip(image)), tf.uint8)
    return tf.cast(tf.bitwise.left_shift(tf.bitwise.right_shift(as_int, shift), shift), tf.float32)


def _solarize(image, threshold):
    return tf.where(image >= threshold, 255.0 - image, image)


def _autocontrast(image):
    lo = tf.reduce_min(image, axis=[0, 1])
    hi = tf.reduce_max(image, axis=[0, 1])
    valid = hi > lo
    scale = tf.where(valid, 255.0 / tf.maximum(hi - lo, 1e-6), 1.0)
    offset = tf.where(valid, lo, 0.0)
    return _clip((image - offset) * scale)


def _equalize_channel(channel: tf.Tensor) -> tf.Tensor:
    histo = tf.histogram_fixed_width(channel, [0, 255], nbins=256)
    nonzero = tf.boolean_mask(histo, histo != 0)
    step = (tf.reduce_sum(nonzero) - nonzero[-1]) // 255

    def equalized():
        lut = (tf.cumsum(histo) + step // 2) // step
        lut = tf.clip_by_value(tf.concat([[0], lut[:-1]], 0), 0, 255)
        return tf.gather(lut, channel)

    return tf.cond(step == 0, lambda: channel, equalized)


def _equalize(image):
    as_int = tf.cast(tf.round(_clip(image)), tf.int32)
    channels = [_equalize_channel(as_int[:, :, c]) for c in range(3)]
    return tf.cast(tf.stack(channels, axis=-1), tf.float32)


def _apply_op(image: tf.Tensor, op_index: tf.Tensor, magnitude: tf.Tensor) -> tf.Tensor:
    """Apply ``_OPS[op_index]`` with an already signed/scaled ``magnitude``."""
    m = magnitude
    branches = [
        lambda: image,  # Identity
        lambda: _shear_x(image, m),
        lambda: _shear_y(image, m),
        lambda: _translate_x(image, m),
        lambda: _translate_y(image, m),
        lambda: _rotate(image, m),
        lambda: _clip(image * (1.0 + m)),  # Brightness (blend with black)
        lambda: _blend(_gray(image), image, 1.0 + m),  # Color (saturation)
        lambda: _blend(tf.reduce_mean(_gray(image)), image, 1.0 + m),  # Contrast
        lambda: _sharpness(image, 1.0 + m),
        lambda: _posterize(image, m),
        lambda: _solarize(image, m),
        lambda: _autocontrast(image),
        lambda: _equalize(image),
        lambda: 255.0 - image,  # Invert
    ]
    assert len(branches) == len(_OPS)
    out = tf.switch_case(tf.cast(op_index, tf.int32), branches)
    out = _clip(out)
    out.set_shape(image.shape)
    return out


def _magnitude(op: str, bin_index: int | None, num_bins: int, hw: tuple[int, int]) -> float:
    """torchvision's augmentation space: magnitude of ``op`` at ``bin_index`` of ``num_bins``."""
    if bin_index is None or op in ("Identity", "AutoContrast", "Equalize", "Invert"):
        return 0.0
    frac = bin_index / (num_bins - 1)
    if op in ("ShearX", "ShearY"):
        return 0.3 * frac
    if op == "TranslateX":
        return 150.0 / 331.0 * hw[1] * frac
    if op == "TranslateY":
        return 150.0 / 331.0 * hw[0] * frac
    if op == "Rotate":
        return 30.0 * frac
    if op in ("Brightness", "Color", "Contrast", "Sharpness"):
        return 0.9 * frac
    if op == "Posterize":
        return float(8 - round(bin_index / ((num_bins - 1) / 4)))
    if op == "Solarize":
        return 256.0 * (1.0 - frac)
    raise ValueError(f"unknown op {op!r}")
