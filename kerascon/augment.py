"""Image augmentations for contrastive training, built from stateless TF ops.

Every augmentation is a plain function ``fn(image, seed) -> image``:

* ``image``: ``uint8`` or ``float32`` tensor ``[H, W, C]`` with values in
  ``[0, 255]`` (``C`` = 1, 3 or 4; grayscale is broadcast to RGB, alpha is
  dropped). ``H``/``W`` may differ from the output size.
* ``seed``: an integer tensor of shape ``[2]`` (any ``int32``/``int64``). All
  randomness comes from ``tf.random.stateless_*`` ops keyed on this seed, so the
  same seed always gives the same output (inside ``tf.data``, eagerly, on any
  device).
* result: ``float32 [height, width, 3]`` with values in ``[0, 255]``. Nothing is
  normalised: the model rescales and standardises inputs itself.

Policies (see :data:`POLICIES`):

``simclr``
    SimAugment from SimCLR / SupCon: random resized crop, horizontal flip,
    colour jitter (brightness/contrast/saturation 0.4, hue 0.1) with p=0.8,
    grayscale with p=0.2, and Gaussian blur with p=0.5 only when the output is
    at least 96 px (SimCLR skips blur for CIFAR-sized images).
``randaugment``
    Random resized crop + flip, then RandAugment (2 ops, magnitude 9 of 30, the
    14-op space of the paper / torchvision).
``autoaugment``
    Random resized crop + flip, then the 25 sub-policies AutoAugment learned on
    ImageNet (Cubuk et al., 2019).
``stacked``
    SimAugment followed by RandAugment ("Stacked RandAugment" in SupCon).
``flip_crop``
    Random resized crop + flip only (light augmentation for linear evaluation).
``none``
    Deterministic resize / centre crop (same as :func:`make_eval_transform`).

Example::

    import tensorflow as tf
    from kerascon.augment import make_augmentation, make_eval_transform

    augment = make_augmentation("simclr", 32, crop_scale=(0.2, 1.0))
    view = augment(tf.zeros([40, 50, 3], tf.uint8), tf.constant([1, 2]))
    view.shape, view.dtype          # (32, 32, 3), float32, values in [0, 255]

    evaluate = make_eval_transform(32)
    evaluate(tf.zeros([40, 50, 3], tf.uint8)).shape   # (32, 32, 3)
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import tensorflow as tf

from kerascon.image_ops import to_three_channels

__all__ = [
    "POLICIES",
    "AUTOAUGMENT_IMAGENET_POLICY",
    "AugmentFn",
    "make_augmentation",
    "build_augmentation",
    "make_eval_transform",
    "random_resized_crop",
    "color_jitter",
    "to_grayscale",
    "gaussian_blur",
    "rand_augment",
    "auto_augment",
]

#: Valid policy names for :func:`make_augmentation`.
POLICIES: tuple[str, ...] = ("simclr", "randaugment", "autoaugment", "stacked", "flip_crop", "none")

#: ``fn(image [H, W, C] uint8|float32 in [0, 255], seed int[2]) -> float32 [h, w, 3] in [0, 255]``
AugmentFn = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]

DEFAULT_CROP_SCALE = (0.08, 1.0)
DEFAULT_CROP_RATIO = (3.0 / 4.0, 4.0 / 3.0)
#: (brightness, contrast, saturation, hue) as in SimCLR / SupCon.
DEFAULT_COLOR_JITTER = (0.4, 0.4, 0.4, 0.1)
#: Output sizes at or above this get Gaussian blur in ``simclr`` (SimCLR uses it for ImageNet, not CIFAR).
BLUR_MIN_SIZE = 96

# AutoAugment "ImageNet" policy (Cubuk et al. 2019, table 9; torchvision AutoAugmentPolicy.IMAGENET):
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
    {"ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness", "Color", "Contrast", "Sharpness"}
)
_FILL_VALUE = 128.0  # grey fill for geometric ops, as in the reference TF AutoAugment code


# --------------------------------------------------------------------------- helpers

# Everything here uses explicit TF control flow (tf.cond / tf.switch_case), so AutoGraph
# conversion is unnecessary; skipping it makes tracing inside Dataset.map ~10x faster.
_no_autograph = tf.autograph.experimental.do_not_convert


def _size_hw(image_size) -> tuple[int, int]:
    if isinstance(image_size, bool):
        raise ValueError(f"image_size must be a positive int or (height, width), got {image_size!r}")
    if isinstance(image_size, int):
        hw = (image_size, image_size)
    elif isinstance(image_size, Sequence) and len(image_size) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) for v in image_size
    ):
        hw = (int(image_size[0]), int(image_size[1]))
    else:
        raise ValueError(f"image_size must be a positive int or (height, width), got {image_size!r}")
    if hw[0] < 1 or hw[1] < 1:
        raise ValueError(f"image_size must be positive, got {image_size!r}")
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
        raise ValueError(f"seed must be an integer tensor of shape [2], got dtype {seed.dtype.name}")
    seed = tf.cast(seed, tf.int64)
    seed.shape.assert_is_compatible_with([2])
    return tf.reshape(seed, [2])


def _split(seed: tf.Tensor, n: int) -> list[tf.Tensor]:
    seeds = tf.random.experimental.stateless_split(seed, num=n)
    return [seeds[i] for i in range(n)]


def _clip(image: tf.Tensor) -> tf.Tensor:
    return tf.clip_by_value(image, 0.0, 255.0)


def _resize(image: tf.Tensor, hw: tuple[int, int]) -> tf.Tensor:
    out = tf.image.resize(image, hw, method="bilinear", antialias=True)
    out = _clip(out)
    out.set_shape([hw[0], hw[1], 3])
    return out


def _with_prob(p: float, seed: tf.Tensor, fn: Callable[[], tf.Tensor], image: tf.Tensor) -> tf.Tensor:
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


# --------------------------------------------------------------------------- basic transforms


def make_eval_transform(image_size, *, crop_fraction: float = 1.0) -> Callable[[tf.Tensor], tf.Tensor]:
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
        raise ValueError(f"crop_fraction must be in (0, 1], got {crop_fraction}")

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
    image = _as_rgb_float(image)
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
    return _resize(crop, hw)


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
    if brightness:
        f = tf.random.stateless_uniform([], s[0], max(0.0, 1.0 - brightness), 1.0 + brightness)
        image = _clip(image * f)
    if contrast:
        f = tf.random.stateless_uniform([], s[1], max(0.0, 1.0 - contrast), 1.0 + contrast)
        image = _blend(tf.reduce_mean(_gray(image)), image, f)
    if saturation:
        f = tf.random.stateless_uniform([], s[2], max(0.0, 1.0 - saturation), 1.0 + saturation)
        image = _blend(_gray(image), image, f)
    if hue:
        delta = tf.random.stateless_uniform([], s[3], -hue, hue)
        image = _clip(tf.image.adjust_hue(image / 255.0, delta) * 255.0)
    return image


@_no_autograph
def to_grayscale(image) -> tf.Tensor:
    """RGB -> grayscale replicated to 3 channels (float32, ``[0, 255]``)."""
    image = _as_rgb_float(image)
    return tf.tile(_gray(image), [1, 1, 3])


@_no_autograph
def gaussian_blur(image, seed, *, kernel_size: int, sigma: tuple[float, float] = (0.1, 2.0)) -> tf.Tensor:
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
    k = 2 * radius + 1
    kernel_h = tf.tile(tf.reshape(kernel, [k, 1, 1, 1]), [1, 1, 3, 1])
    kernel_w = tf.tile(tf.reshape(kernel, [1, k, 1, 1]), [1, 1, 3, 1])
    batched = tf.pad(image[tf.newaxis], [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    batched = tf.nn.depthwise_conv2d(batched, kernel_h, strides=[1, 1, 1, 1], padding="VALID")
    batched = tf.nn.depthwise_conv2d(batched, kernel_w, strides=[1, 1, 1, 1], padding="VALID")
    out = _clip(batched[0])
    out.set_shape(image.shape)
    return out


# --------------------------------------------------------------------------- RandAugment / AutoAugment ops


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
    interior = tf.logical_and(interior_r[:, tf.newaxis], interior_c[tf.newaxis, :])[:, :, tf.newaxis]
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


def _random_sign(seed) -> tf.Tensor:
    return tf.where(tf.random.stateless_uniform([], seed) < 0.5, -1.0, 1.0)


@_no_autograph
def rand_augment(image, seed, *, num_ops: int = 2, magnitude: int = 9, num_magnitude_bins: int = 31) -> tf.Tensor:
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
        raise ValueError(f"magnitude must be in [0, {num_magnitude_bins}), got {magnitude}")
    static_hw = image.shape[:2]
    hw = (int(static_hw[0] or 0), int(static_hw[1] or 0))
    if hw[0] == 0 or hw[1] == 0:
        raise ValueError("rand_augment needs an image with a static height and width")
    ops = _OPS[:_RANDAUGMENT_NUM_OPS]
    mags = tf.constant([_magnitude(op, magnitude, num_magnitude_bins, hw) for op in ops], tf.float32)
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
        raise ValueError("auto_augment needs an image with a static height and width")
    table = AUTOAUGMENT_IMAGENET_POLICY
    op_ids = tf.constant([[_OP_INDEX[op] for op, _, _ in sub] for sub in table], tf.int32)
    probs = tf.constant([[p for _, p, _ in sub] for sub in table], tf.float32)
    mags = tf.constant([[_magnitude(op, b, 10, hw) for op, _, b in sub] for sub in table], tf.float32)
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


# --------------------------------------------------------------------------- policies


def make_augmentation(
    policy: str,
    image_size,
    *,
    crop_scale: tuple[float, float] | None = None,
    crop_ratio: tuple[float, float] = DEFAULT_CROP_RATIO,
    color_jitter_strength: tuple[float, float, float, float] = DEFAULT_COLOR_JITTER,
    color_jitter_prob: float = 0.8,
    grayscale_prob: float = 0.2,
    blur: bool | None = None,
    blur_prob: float = 0.5,
    randaugment_ops: int = 2,
    randaugment_magnitude: int = 9,
) -> AugmentFn:
    """Return ``fn(image, seed) -> float32 [h, w, 3]`` in ``[0, 255]`` for ``policy``.

    Args:
        policy: one of :data:`POLICIES` (case-insensitive).
        image_size: output size, ``int`` or ``(height, width)``.
        crop_scale: area range of the random resized crop; default ``(0.08, 1.0)``.
            The SupCon authors use ``(0.2, 1.0)`` for CIFAR-sized images.
        crop_ratio: aspect-ratio range of the crop (default ``(3/4, 4/3)``).
        color_jitter_strength: ``(brightness, contrast, saturation, hue)`` for ``simclr``.
        color_jitter_prob, grayscale_prob: probabilities for ``simclr``.
        blur: Gaussian blur in ``simclr``; ``None`` = only if the output is >= 96 px.
        blur_prob: probability of the blur.
        randaugment_ops, randaugment_magnitude: RandAugment ``N`` and ``M`` (of 30).

    The returned function is pure TF (use it in ``Dataset.map``); the same seed
    always gives the same output. ``"none"`` ignores the seed.

    Example::

        augment = make_augmentation("autoaugment", 224)
        ds = ds.map(lambda image, seed: augment(image, seed))
    """
    if not isinstance(policy, str) or policy.lower() not in POLICIES:
        raise ValueError(f"unknown augmentation policy {policy!r}; valid policies: {', '.join(POLICIES)}")
    policy = policy.lower()
    hw = _size_hw(image_size)
    scale = tuple(crop_scale) if crop_scale is not None else DEFAULT_CROP_SCALE
    if len(scale) != 2 or not 0.0 < scale[0] <= scale[1] <= 1.0:
        raise ValueError(f"crop_scale must be (min, max) with 0 < min <= max <= 1, got {crop_scale!r}")
    ratio = tuple(crop_ratio)
    if len(ratio) != 2 or not 0.0 < ratio[0] <= ratio[1]:
        raise ValueError(f"crop_ratio must be (min, max) with 0 < min <= max, got {crop_ratio!r}")
    if not 0 <= randaugment_magnitude <= 30 or randaugment_ops < 0:
        raise ValueError(
            f"randaugment_magnitude must be in [0, 30] and randaugment_ops >= 0, "
            f"got {randaugment_magnitude} and {randaugment_ops}"
        )
    use_blur = (min(hw) >= BLUR_MIN_SIZE) if blur is None else bool(blur)
    blur_kernel = min(hw) // 10
    b, c, s, h = color_jitter_strength

    if policy == "none":
        evaluate = make_eval_transform(hw)

        @_no_autograph
        def none_fn(image, seed=None):
            return evaluate(image)

        return none_fn

    def crop_flip(image, seed):
        s_crop, s_flip = _split(seed, 2)
        image = random_resized_crop(image, hw, s_crop, scale=scale, ratio=ratio)
        return tf.image.stateless_random_flip_left_right(image, s_flip)

    def simclr(image, seed):
        s_ = _split(seed, 6)
        image = crop_flip(image, s_[0])
        j_apply, j_params = _split(s_[1], 2)
        x = image
        x = _with_prob(
            color_jitter_prob,
            j_apply,
            lambda: color_jitter(x, j_params, brightness=b, contrast=c, saturation=s, hue=h),
            x,
        )
        y = x
        y = _with_prob(grayscale_prob, s_[2], lambda: to_grayscale(y), y)
        if use_blur:
            z = y
            y = _with_prob(blur_prob, s_[3], lambda: gaussian_blur(z, s_[4], kernel_size=blur_kernel), z)
        return y

    def finish(image):
        image = _clip(image)
        image.set_shape([hw[0], hw[1], 3])
        return image

    @_no_autograph
    def augment(image, seed):
        seed = _as_seed(seed)
        image = _as_rgb_float(image)
        if policy == "flip_crop":
            return finish(crop_flip(image, seed))
        if policy == "simclr":
            return finish(simclr(image, seed))
        s_base, s_extra = _split(seed, 2)
        if policy == "randaugment":
            out = rand_augment(crop_flip(image, s_base), s_extra,
                               num_ops=randaugment_ops, magnitude=randaugment_magnitude)
        elif policy == "autoaugment":
            out = auto_augment(crop_flip(image, s_base), s_extra)
        else:  # stacked
            out = rand_augment(simclr(image, s_base), s_extra,
                               num_ops=randaugment_ops, magnitude=randaugment_magnitude)
        return finish(out)

    augment.__name__ = f"{policy}_augment"
    return augment


#: Alias of :func:`make_augmentation`.
build_augmentation = make_augmentation
