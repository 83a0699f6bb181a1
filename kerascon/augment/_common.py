"""Shared helpers of the augmentations: argument checks, seeds, resizing, blending."""

from __future__ import annotations

from typing import Callable, Sequence

import tensorflow as tf

from kerascon._utils.image_ops import to_three_channels
from kerascon.errors import ConfigError

# Every augmentation here uses explicit TF control flow (tf.cond / tf.switch_case), so AutoGraph
# conversion is unnecessary; skipping it makes tracing inside Dataset.map ~10x faster.
_no_autograph = tf.autograph.experimental.do_not_convert


def _size_hw(image_size) -> tuple[int, int]:
    if isinstance(image_size, bool):
        raise ConfigError(
            f"image_size must be a positive int or (height, width), got {image_size!r}"
        )
    if isinstance(image_size, int):
        hw = (image_size, image_size)
    elif isinstance(image_size, Sequence) and len(image_size) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) for v in image_size
    ):
        hw = (int(image_size[0]), int(image_size[1]))
    else:
        raise ConfigError(
            f"image_size must be a positive int or (height, width), got {image_size!r}"
        )
    if hw[0] < 1 or hw[1] < 1:
        raise ConfigError(f"image_size must be positive, got {image_size!r}")
    return hw


def _as_rgb_float(image) -> tf.Tensor:
    """uint8/float [H, W, C] (C in 1, 3, 4) or [H, W] -> float32 [H, W, 3] (no rescaling)."""
    image = tf.convert_to_tensor(image)
    if image.dtype != tf.float32:
        image = tf.cast(image, tf.float32)
    return to_three_channels(image)


def _as_seed(seed) -> tf.Tensor:
    seed = tf.convert_to_tensor(seed)
    if not seed.dtype.is_integer:
        raise ConfigError(
            f"seed must be an integer tensor of shape [2], got dtype {seed.dtype.name}"
        )
    seed = tf.cast(seed, tf.int64)
    seed.shape.assert_is_compatible_with([2])
    return tf.reshape(seed, [2])


def _split(seed: tf.Tensor, n: int) -> list[tf.Tensor]:
    seeds = tf.random.experimental.stateless_split(seed, num=n)
    return [seeds[i] for i in range(n)]


def _clip(image: tf.Tensor) -> tf.Tensor:
    return tf.clip_by_value(image, 0.0, 255.0)


def _resize(image: tf.Tensor, hw: tuple[int, int]) -> tf.Tensor:
    """Antialiased bilinear resize to ``hw``, clipped to [0, 255].

    When no side shrinks, antialiasing changes nothing (the triangle filter keeps its unit
    support; the two kernels' sums differ by float rounding, < 0.01 on the 0-255 scale), so
    the plain bilinear kernel runs: with the crop cast after slicing, a 224 px crop from a
    256 px image took 0.42 instead of 1.05 ms (1 thread, tf.data).
    """
    upscale = tf.reduce_all(tf.shape(image)[:2] <= tf.constant(hw, tf.int32))
    out = tf.cond(
        upscale,
        lambda: tf.image.resize(image, hw, method="bilinear", antialias=False),
        lambda: tf.image.resize(image, hw, method="bilinear", antialias=True),
    )
    out = _clip(out)
    out.set_shape([hw[0], hw[1], 3])
    return out


def _with_prob(
    p: float, seed: tf.Tensor, fn: Callable[[], tf.Tensor], image: tf.Tensor
) -> tf.Tensor:
    """``fn()`` with probability ``p``, else ``image`` (decided by ``seed``)."""
    if p >= 1.0:
        return fn()
    if p <= 0.0:
        return image
    u = tf.random.stateless_uniform([], seed)
    return tf.cond(u < p, fn, lambda: image)


def _gray(image: tf.Tensor) -> tf.Tensor:
    """[H, W, 3] -> [H, W, 1] luma (ITU-R 601-2, as PIL / tf.image)."""
    return tf.image.rgb_to_grayscale(image)


def _blend(degenerate: tf.Tensor, image: tf.Tensor, factor) -> tf.Tensor:
    """PIL ImageEnhance-style blend: factor 0 -> degenerate, 1 -> image, >1 extrapolates."""
    return _clip(degenerate + factor * (image - degenerate))
