"""SimCLR's per-pixel stages on a whole batch ``[N, H, W, 3]`` with per-image random parameters.

A random resized crop must run image by image (every image has its own box, and image-folder
images differ in size), but what follows it -- horizontal flip, colour jitter, grayscale,
Gaussian blur -- works on same-size images and can run once per batch: at 32 px each view
costs about 40 small TF ops when augmented alone, so per-op overhead, not arithmetic, is what
a per-image pipeline pays for. The functions here take their random parameters as tensors
(one value per image) and compute the same pixels as the per-image ops of
:mod:`kerascon.augment.simclr` given the same parameters; :func:`simclr_batch_stage` draws the
parameters with the same distributions and probabilities from one seed per batch.

Example:
    >>> import tensorflow as tf
    >>> from kerascon.augment.batched import simclr_batch_stage
    >>> finish = simclr_batch_stage(blur_kernel=None)
    >>> finish(tf.zeros([8, 32, 32, 3]), tf.constant([1, 2])).shape
    TensorShape([8, 32, 32, 3])
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import tensorflow as tf

from kerascon.augment._common import _as_seed, _blend, _clip, _gray, _no_autograph, _split
from kerascon.augment.simclr import DEFAULT_COLOR_JITTER, _blur_rows
from kerascon.errors import DataError

__all__ = [
    "BatchStages",
    "color_jitter_batch",
    "flip_batch",
    "gaussian_blur_batch",
    "grayscale_batch",
    "simclr_batch_stage",
]

# Up to this many pixels per image the batch is blurred as one depthwise convolution per pass
# (images x columns x 3 channels); above it the per-image convolution runs image by image
# (tf.map_fn), which is faster on the CPU once an image no longer fits in the cache
# (measured: 32 px 0.05 vs 0.09 ms per image, 224 px 9.4 vs 3.8 ms).
_BATCH_BLUR_MAX_PIXELS = 64 * 64


class BatchStages(NamedTuple):
    """An augmentation split into a per-image stage and a per-batch stage.

    ``per_image(image, seed) -> float32 [h, w, 3]`` (the crop, which fixes the size) runs in
    ``Dataset.map`` on single images; ``per_batch(images [N, h, w, 3], seed [2]) -> float32
    [N, h, w, 3]`` runs once per batch with its own seed. ``make_augmentation`` attaches one
    to the per-image function it returns (as ``fn.batch_stages``) for the policies that can
    be split this way.

    Example:
        >>> import tensorflow as tf
        >>> stages = BatchStages(lambda image, seed: image, lambda images, seed: images)
        >>> stages.per_batch(tf.zeros([2, 4, 4, 3]), tf.constant([0, 1])).shape
        TensorShape([2, 4, 4, 3])
    """

    per_image: Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
    per_batch: Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
    #: output ``(height, width)`` of ``per_image``, when known
    image_size: tuple[int, int] | None = None


def _per_image(values: tf.Tensor) -> tf.Tensor:
    """[N] -> [N, 1, 1, 1], to broadcast one value per image over [N, H, W, C]."""
    return tf.reshape(values, [-1, 1, 1, 1])


def _select(mask: tf.Tensor, when_true: tf.Tensor, when_false: tf.Tensor) -> tf.Tensor:
    """Image-wise ``tf.where``: ``mask`` bool [N] picks whole images."""
    return tf.where(_per_image(mask), when_true, when_false)


@_no_autograph
def flip_batch(images, mask) -> tf.Tensor:
    """Flip left-right the images of ``images`` [N, H, W, C] where ``mask`` [N] is true.

    Example:
        >>> import tensorflow as tf
        >>> flip_batch(tf.reshape(tf.range(4.0), [1, 1, 4, 1]), tf.constant([True]))[0, 0, :, 0]
        <tf.Tensor: shape=(4,), dtype=float32, numpy=array([3., 2., 1., 0.], dtype=float32)>
    """
    images = tf.convert_to_tensor(images)
    return _select(tf.convert_to_tensor(mask, tf.bool), tf.reverse(images, axis=[2]), images)


@_no_autograph
def grayscale_batch(images, mask) -> tf.Tensor:
    """Grayscale (ITU-R 601-2 luma on all 3 channels) where ``mask`` [N] is true.

    Example:
        >>> import tensorflow as tf
        >>> grayscale_batch(tf.fill([2, 4, 4, 3], 10.0), tf.constant([True, False])).shape
        TensorShape([2, 4, 4, 3])
    """
    images = tf.convert_to_tensor(images, tf.float32)
    gray = tf.tile(_gray(images), [1, 1, 1, 3])
    return _select(tf.convert_to_tensor(mask, tf.bool), gray, images)


def _adjust_hue(images: tf.Tensor, delta: tf.Tensor) -> tf.Tensor:
    """``tf.image.adjust_hue`` with one ``delta`` per image (float [0, 1] RGB in and out)."""
    hsv = tf.image.rgb_to_hsv(images)
    hue = hsv[..., :1] + _per_image(delta)
    hue = hue - tf.floor(hue)
    return tf.image.hsv_to_rgb(tf.concat([hue, hsv[..., 1:]], axis=-1))


@_no_autograph
def color_jitter_batch(images, factors, steps=(True, True, True, True)) -> tf.Tensor:
    """Brightness, contrast, saturation and hue with one factor row per image (fixed order).

    The same pixel maths as :func:`kerascon.augment.color_jitter` (op by op), given its
    factors: ``factors`` is float [N, 4] = (brightness, contrast, saturation factor, hue
    shift) per image, and ``steps`` (4 bools) says which of the four run.

    Example:
        >>> import tensorflow as tf
        >>> images = tf.fill([2, 4, 4, 3], 100.0)
        >>> color_jitter_batch(images, tf.constant([[1.2, 1.0, 1.0, 0.0], [0.5, 1.0, 1.0, 0.0]]),
        ...                    steps=(True, False, False, False))[:, 0, 0, 0]
        <tf.Tensor: shape=(2,), dtype=float32, numpy=array([120.,  50.], dtype=float32)>
    """
    images = tf.convert_to_tensor(images, tf.float32)
    factors = tf.convert_to_tensor(factors, tf.float32)
    if steps[0]:
        images = _clip(images * _per_image(factors[:, 0]))
    if steps[1]:
        mean = tf.reduce_mean(_gray(images), axis=[1, 2, 3], keepdims=True)
        images = _blend(mean, images, _per_image(factors[:, 1]))
    if steps[2]:
        images = _blend(_gray(images), images, _per_image(factors[:, 2]))
    if steps[3]:
        images = _clip(_adjust_hue(images / 255.0, factors[:, 3]) * 255.0)
    return images


def _gaussian_kernels(sigmas: tf.Tensor, radius: int) -> tf.Tensor:
    """[N] sigmas -> [N, 2 * radius + 1] normalised Gaussian kernels (as gaussian_blur's)."""
    x = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernels = tf.exp(-tf.square(x)[tf.newaxis] / (2.0 * tf.square(sigmas)[:, tf.newaxis]))
    return kernels / tf.reduce_sum(kernels, axis=1, keepdims=True)


def _blur_columns_batch(matrix: tf.Tensor, kernels: tf.Tensor, radius: int, per_image: int) -> tf.Tensor:
    """Blur the first axis of ``matrix`` [L, N * per_image] with kernel n on image n's columns."""
    weights = tf.repeat(tf.transpose(kernels), per_image, axis=1)  # [taps, N * per_image]
    length, channels = tf.shape(matrix)[0], tf.shape(matrix)[1]
    padded = tf.pad(matrix, [[radius, radius], [0, 0]], mode="REFLECT")
    padded = tf.reshape(padded, [1, length + 2 * radius, 1, channels])
    weights = tf.reshape(weights, [2 * radius + 1, 1, channels, 1])
    out = tf.nn.depthwise_conv2d(padded, weights, strides=[1, 1, 1, 1], padding="VALID")
    return tf.reshape(out, [length, channels])


def _blur_together(images: tf.Tensor, kernels: tf.Tensor, radius: int) -> tf.Tensor:
    """All images in one depthwise convolution per pass ([H, N x W x 3] channels, then W)."""
    n, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
    rows = tf.reshape(tf.transpose(images, [1, 0, 2, 3]), [height, n * width * 3])
    rows = _blur_columns_batch(rows, kernels, radius, width * 3)
    columns = tf.transpose(tf.reshape(rows, [height, n, width, 3]), [2, 1, 0, 3])
    columns = _blur_columns_batch(tf.reshape(columns, [width, n * height * 3]), kernels, radius,
                                  height * 3)
    return tf.transpose(tf.reshape(columns, [width, n, height, 3]), [1, 2, 0, 3])


def _blur_one(image: tf.Tensor, kernel: tf.Tensor, radius: int) -> tf.Tensor:
    """gaussian_blur's two passes on one [H, W, 3] image with a given kernel."""
    height, width = image.shape[0], image.shape[1]
    out = _blur_rows(tf.reshape(image, [height, width * 3]), kernel, radius)
    out = tf.transpose(tf.reshape(out, [height, width, 3]), [1, 0, 2])
    out = _blur_rows(tf.reshape(out, [width, height * 3]), kernel, radius)
    return tf.transpose(tf.reshape(out, [width, height, 3]), [1, 0, 2])


@_no_autograph
def gaussian_blur_batch(images, sigmas, *, kernel_size: int, mask=None) -> tf.Tensor:
    """Separable Gaussian blur of ``images`` [N, H, W, 3] with one ``sigmas`` [N] per image.

    The kernel size, its rounding to odd, the reflect padding and the clipping are those of
    :func:`kerascon.augment.gaussian_blur` (which draws ``sigma ~ U(0.1, 2.0)`` itself); the
    height and width must be static. With ``mask`` [N], only those images are blurred (the
    others are returned as they are, and not computed).

    Example:
        >>> import tensorflow as tf
        >>> gaussian_blur_batch(tf.zeros([2, 32, 32, 3]), tf.constant([0.5, 1.5]), kernel_size=3).shape
        TensorShape([2, 32, 32, 3])
    """
    images = tf.convert_to_tensor(images, tf.float32)
    height, width = images.shape[1], images.shape[2]
    if height is None or width is None:
        raise DataError("gaussian_blur_batch needs images with a static height and width; resize the "
                        "images to one fixed size first")
    radius = min(int(kernel_size) // 2, int(height) - 1, int(width) - 1)
    if radius <= 0:
        return images
    sigmas = tf.convert_to_tensor(sigmas, tf.float32)
    if mask is None:
        picked, chosen = images, sigmas
    else:
        index = tf.where(tf.convert_to_tensor(mask, tf.bool))
        picked, chosen = tf.gather_nd(images, index), tf.gather_nd(sigmas, index)
    kernels = _gaussian_kernels(chosen, radius)
    if height * width <= _BATCH_BLUR_MAX_PIXELS:
        def blur():
            return _blur_together(picked, kernels, radius)
    else:
        def blur():
            return tf.map_fn(lambda args: _blur_one(args[0], args[1], radius), (picked, kernels),
                             fn_output_signature=tf.float32)
    # no image picked: nothing to blur (an empty map_fn would also lose the image shape)
    blurred = tf.cond(tf.shape(picked)[0] > 0, blur, lambda: picked)
    blurred = _clip(blurred)
    blurred.set_shape(picked.shape)
    if mask is None:
        return blurred
    return tf.tensor_scatter_nd_update(images, index, blurred)


def _uniform(n: tf.Tensor, seed: tf.Tensor, low: float, high: float) -> tf.Tensor:
    return tf.random.stateless_uniform([n], seed, low, high)


def _jitter_factors(n, seed, strength) -> tuple[tf.Tensor, tuple[bool, bool, bool, bool]]:
    """[N, 4] factors drawn as color_jitter draws them (one row per image), and the steps."""
    b, c, s, h = strength
    seeds = _split(seed, 4)
    columns = [
        _uniform(n, seeds[0], max(0.0, 1.0 - b), 1.0 + b) if b else tf.ones([n]),
        _uniform(n, seeds[1], max(0.0, 1.0 - c), 1.0 + c) if c else tf.ones([n]),
        _uniform(n, seeds[2], max(0.0, 1.0 - s), 1.0 + s) if s else tf.ones([n]),
        _uniform(n, seeds[3], -h, h) if h else tf.zeros([n]),
    ]
    return tf.stack(columns, axis=1), (bool(b), bool(c), bool(s), bool(h))


def _happens(p: float, n: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """bool [N]: true with probability ``p`` per image."""
    if p >= 1.0:
        return tf.ones([n], tf.bool)
    if p <= 0.0:
        return tf.zeros([n], tf.bool)
    return tf.random.stateless_uniform([n], seed) < p


def simclr_batch_stage(
    *,
    color_jitter_strength: tuple[float, float, float, float] = DEFAULT_COLOR_JITTER,
    color_jitter_prob: float = 0.8,
    grayscale_prob: float = 0.2,
    blur_kernel: int | None = None,
    blur_prob: float = 0.5,
    blur_sigma: tuple[float, float] = (0.1, 2.0),
    flip: bool = True,
    jitter: bool = True,
) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """``fn(images [N, H, W, 3], seed [2]) -> float32 [N, H, W, 3]`` in ``[0, 255]``.

    SimCLR after the crop, per image: horizontal flip (p 0.5), colour jitter with
    probability ``color_jitter_prob``, grayscale with probability ``grayscale_prob``, and,
    when ``blur_kernel`` is given, Gaussian blur (kernel ``blur_kernel``, ``sigma ~
    U(blur_sigma)``) with probability ``blur_prob``; then the values are clipped to
    ``[0, 255]``. Every image draws its own flip, factors, choices and sigma, with the
    distributions of the per-image ``simclr`` policy, all from ``seed``: the same seed and
    images always give the same output. ``jitter=False`` leaves only the flip (the
    ``flip_crop`` policy).

    Example:
        >>> import tensorflow as tf
        >>> finish = simclr_batch_stage(blur_kernel=9)
        >>> finish(tf.zeros([4, 96, 96, 3]), tf.constant([3, 4])).shape
        TensorShape([4, 96, 96, 3])
    """
    b, c, s, h = color_jitter_strength

    @_no_autograph
    def per_batch(images, seed):
        seed = _as_seed(seed)
        images = tf.convert_to_tensor(images)
        if images.dtype != tf.float32:
            images = tf.cast(images, tf.float32)
        images.shape.assert_has_rank(4)
        n = tf.shape(images)[0]
        s_flip, s_jitter, s_factors, s_gray, s_blur, s_sigma = _split(seed, 6)
        # The random draws stay outside XLA (its stateless RNG draws other numbers).
        flips = _happens(0.5, n, s_flip) if flip else None
        factors, steps = _jitter_factors(n, s_factors, (b, c, s, h))
        jitters = grays = None
        if jitter and any(steps) and color_jitter_prob > 0.0:
            jitters = _happens(color_jitter_prob, n, s_jitter)
        if jitter and grayscale_prob > 0.0:
            grays = _happens(grayscale_prob, n, s_gray)
        images = _pixels(images, flips, jitters, factors, grays, steps)
        if jitter and blur_kernel is not None and blur_prob > 0.0:
            sigmas = _uniform(n, s_sigma, float(blur_sigma[0]), float(blur_sigma[1]))
            images = gaussian_blur_batch(images, sigmas, kernel_size=blur_kernel,
                                         mask=_happens(blur_prob, n, s_blur))
        return images

    return per_batch


@tf.function(jit_compile=True, autograph=False)
def _pixels(images, flips, jitters, factors, grays, steps):
    """Flip, colour jitter and grayscale where the masks say (``None``: nowhere), then clip.

    One XLA-compiled function: op by op, each of these ~20 element-wise ops is a pass over
    the batch (a batch of 32 px images took ~230 us per image op by op, ~15 with XLA).
    """
    if flips is not None:
        images = flip_batch(images, flips)
    if jitters is not None:
        images = _select(jitters, color_jitter_batch(images, factors, steps), images)
    if grays is not None:
        images = grayscale_batch(images, grays)
    return _clip(images)
