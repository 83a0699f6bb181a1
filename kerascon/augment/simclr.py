"""SimCLR / SupCon transforms: random resized crop, colour jitter, grayscale, Gaussian blur,
and the deterministic evaluation transform."""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

from kerascon._utils.image_ops import to_three_channels
from kerascon.augment._common import (
    _as_rgb_float,
    _as_seed,
    _blend,
    _clip,
    _gray,
    _no_autograph,
    _resize,
    _size_hw,
    _split,
)
from kerascon.errors import ConfigError

DEFAULT_CROP_SCALE = (0.08, 1.0)
DEFAULT_CROP_RATIO = (3.0 / 4.0, 4.0 / 3.0)
#: (brightness, contrast, saturation, hue) as in SimCLR / SupCon.
DEFAULT_COLOR_JITTER = (0.4, 0.4, 0.4, 0.1)
#: Output sizes at or above this get Gaussian blur in ``simclr`` (SimCLR uses it for ImageNet,
#: not CIFAR).
BLUR_MIN_SIZE = 96
# Images of at least this many pixels get color_jitter's XLA-compiled pixel maths.
_XLA_JITTER_MIN_PIXELS = 64 * 64


def make_eval_transform(
    image_size, *, crop_fraction: float = 1.0
) -> Callable[[tf.Tensor], tf.Tensor]:
    """Deterministic evaluation transform: resize the shorter side, then centre-crop.

    The image is resized (bilinear, antialiased, aspect ratio kept) so that it just
    covers ``image_size / crop_fraction``, then the central ``image_size`` region is
    cropped. A square input with ``crop_fraction=1`` is simply resized. Use e.g.
    ``crop_fraction=0.875`` for the classic ImageNet "resize 256, crop 224".

    Example::

        evaluate = make_eval_transform(224, crop_fraction=0.875)
        evaluate(tf.zeros([300, 400, 3], tf.uint8)).shape   # (224, 224, 3) float32
    """
    hw = _size_hw(image_size)
    if not 0.0 < crop_fraction <= 1.0:
        raise ConfigError(f"crop_fraction must be in (0, 1], got {crop_fraction}")

    @_no_autograph
    def transform(image) -> tf.Tensor:
        image = _as_rgb_float(image)
        shape = tf.cast(tf.shape(image)[:2], tf.float32)
        target = tf.constant([hw[0] / crop_fraction, hw[1] / crop_fraction], tf.float32)
        scale = tf.reduce_max(target / shape)
        new_hw = tf.cast(tf.math.ceil(shape * scale - 1e-3), tf.int32)
        new_hw = tf.maximum(new_hw, tf.constant(hw, tf.int32))
        resized = tf.image.resize(image, new_hw, method="bilinear", antialias=True)
        top = (new_hw[0] - hw[0]) // 2
        left = (new_hw[1] - hw[1]) // 2
        out = resized[top : top + hw[0], left : left + hw[1], :]
        out = _clip(out)
        out.set_shape([hw[0], hw[1], 3])
        return out

    return transform


@_no_autograph
def random_resized_crop(
    image,
    image_size,
    seed,
    *,
    scale: tuple[float, float] = DEFAULT_CROP_SCALE,
    ratio: tuple[float, float] = DEFAULT_CROP_RATIO,
) -> tf.Tensor:
    """Inception-style random resized crop (torchvision ``RandomResizedCrop``).

    Samples a box covering a fraction ``scale`` of the image area with aspect ratio
    in ``ratio`` (100 attempts, falling back to the whole image), then resizes it to
    ``image_size``. Returns float32 ``[h, w, 3]`` in ``[0, 255]``.

    Example::

        crop = random_resized_crop(image, 32, tf.constant([0, 1]), scale=(0.2, 1.0))
    """
    hw = _size_hw(image_size)
    # crop first, convert to float after: only the crop's pixels are cast
    image = to_three_channels(tf.convert_to_tensor(image))
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image),
        bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]], tf.float32),
        seed=_as_seed(seed),
        min_object_covered=0.0,
        aspect_ratio_range=tuple(float(r) for r in ratio),
        area_range=tuple(float(s) for s in scale),
        max_attempts=100,
        use_image_if_no_bounding_boxes=True,
    )
    crop = tf.slice(image, begin, size)
    return _resize(tf.cast(crop, tf.float32), hw)


@_no_autograph
def color_jitter(
    image,
    seed,
    *,
    brightness: float = 0.4,
    contrast: float = 0.4,
    saturation: float = 0.4,
    hue: float = 0.1,
) -> tf.Tensor:
    """torchvision-style ``ColorJitter`` on a float ``[0, 255]`` RGB image (fixed order).

    Brightness multiplies by a factor in ``[1-b, 1+b]``; contrast blends with the mean
    grey level; saturation blends with the grayscale image; hue rotates the hue by a
    fraction in ``[-hue, hue]`` of the colour wheel.

    Example::

        jittered = color_jitter(image, tf.constant([3, 4]), brightness=0.8)
    """
    image = _as_rgb_float(image)
    s = _split(_as_seed(seed), 4)
    # The factors are drawn outside XLA (XLA's stateless RNG draws other numbers). From 64 x 64
    # pixels on, the pixel maths runs as one XLA-compiled function: 2.6x faster on CPU than op
    # by op at 224 px, as fast at 64 px; smaller or unknown sizes stay op by op.
    factors = [
        tf.random.stateless_uniform([], s[0], max(0.0, 1.0 - brightness), 1.0 + brightness)
        if brightness else tf.ones([]),
        tf.random.stateless_uniform([], s[1], max(0.0, 1.0 - contrast), 1.0 + contrast)
        if contrast else tf.ones([]),
        tf.random.stateless_uniform([], s[2], max(0.0, 1.0 - saturation), 1.0 + saturation)
        if saturation else tf.ones([]),
        tf.random.stateless_uniform([], s[3], -hue, hue) if hue else tf.zeros([]),
    ]
    steps = (bool(brightness), bool(contrast), bool(saturation), bool(hue))
    height, width = image.shape[0], image.shape[1]
    if height is not None and width is not None and height * width >= _XLA_JITTER_MIN_PIXELS:
        return _jitter_pixels(image, tf.stack(factors), steps)
    return _jitter_pixels.python_function(image, tf.stack(factors), steps)


@tf.function(jit_compile=True, autograph=False)
def _jitter_pixels(image, factors, steps):
    """Brightness, contrast, saturation and hue with the given factors (``steps`` says which)."""
    if steps[0]:
        image = _clip(image * factors[0])
    if steps[1]:
        image = _blend(tf.reduce_mean(_gray(image)), image, factors[1])
    if steps[2]:
        image = _blend(_gray(image), image, factors[2])
    if steps[3]:
        image = _clip(tf.image.adjust_hue(image / 255.0, factors[3]) * 255.0)
    return image


@_no_autograph
def to_grayscale(image) -> tf.Tensor:
    """RGB -> grayscale replicated to 3 channels (float32, ``[0, 255]``)."""
    image = _as_rgb_float(image)
    return tf.tile(_gray(image), [1, 1, 3])


@_no_autograph
def gaussian_blur(
    image, seed, *, kernel_size: int, sigma: tuple[float, float] = (0.1, 2.0)
) -> tf.Tensor:
    """Separable Gaussian blur with ``sigma ~ U(sigma)`` and reflect padding.

    ``kernel_size`` is rounded to the odd size ``2 * (kernel_size // 2) + 1`` (as in
    SimCLR) and clipped to the image size.

    Example::

        blurred = gaussian_blur(image, tf.constant([5, 6]), kernel_size=23)
    """
    image = _as_rgb_float(image)
    radius = int(kernel_size) // 2
    static_hw = image.shape[:2]
    if static_hw[0] is not None and static_hw[1] is not None:
        radius = min(radius, int(static_hw[0]) - 1, int(static_hw[1]) - 1)
    if radius <= 0:
        return image
    sig = tf.random.stateless_uniform([], _as_seed(seed), float(sigma[0]), float(sigma[1]))
    x = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-tf.square(x) / (2.0 * tf.square(sig)))
    kernel = kernel / tf.reduce_sum(kernel)
    height, width = (static_hw[i] if static_hw[i] is not None else tf.shape(image)[i] for i in (0, 1))
    # Each pass blurs the first axis of a [rows, columns * 3] matrix, so the depthwise
    # convolution has columns * 3 channels: ~1.5x faster on CPU than two passes over the
    # [H, W, 3] image with 3 channels, and the same sums.
    batched = _blur_rows(tf.reshape(image, [height, width * 3]), kernel, radius)
    batched = tf.transpose(tf.reshape(batched, [height, width, 3]), [1, 0, 2])
    batched = _blur_rows(tf.reshape(batched, [width, height * 3]), kernel, radius)
    batched = tf.transpose(tf.reshape(batched, [width, height, 3]), [1, 0, 2])
    out = _clip(batched)
    out.set_shape(image.shape)
    return out


def _blur_rows(matrix: tf.Tensor, kernel: tf.Tensor, radius: int) -> tf.Tensor:
    """1-D convolution of every column of ``matrix`` [n, c] with ``kernel`` (reflect padding)."""
    n, c = (matrix.shape[i] if matrix.shape[i] is not None else tf.shape(matrix)[i] for i in (0, 1))
    padded = tf.pad(matrix, [[radius, radius], [0, 0]], mode="REFLECT")
    padded = tf.reshape(padded, [1, n + 2 * radius, 1, c])
    weights = tf.tile(tf.reshape(kernel, [2 * radius + 1, 1, 1, 1]), [1, 1, c, 1])
    out = tf.nn.depthwise_conv2d(padded, weights, strides=[1, 1, 1, 1], padding="VALID")
    return tf.reshape(out, [n, c])
