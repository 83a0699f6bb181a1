"""Layers that turn a batch of single examples into a batch of views, inside the model.

``SupConModel(..., augmentation=layer)`` applies such a layer to single-view batches, so
the views are made on the accelerator from raw inputs fed straight from NumPy (the
JAX-backend path, where there is no tf.data), or in any backend when the input pipeline
should stay light:

* :class:`ViewAugmentation`: SimCLR/SupCon image augmentation (random resized crop,
  horizontal flip, colour jitter, grayscale) written in ``keras.ops`` only, so it runs
  under TensorFlow, JAX and PyTorch and inside a jit-compiled train step.
* :class:`RepeatViews`: the same input repeated V times for "dropout views" (SimCSE):
  the views differ only through the encoder's dropout, which is active in training.
  Works on any input structure (a dict of token ids and padding mask, for example).

Both return views on axis 1: ``[B, V, ...]`` for every tensor of the input.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from kerascon.errors import ConfigError, DataError

__all__ = ["ViewAugmentation", "RepeatViews"]

_GRAY_WEIGHTS = (0.2989, 0.5870, 0.1140)  # ITU-R 601, as tf.image.rgb_to_grayscale


def _gray(images):
    weights = ops.convert_to_tensor(_GRAY_WEIGHTS, dtype="float32")
    return ops.sum(images * weights, axis=-1, keepdims=True)


def _per_image(values):
    """[N] -> [N, 1, 1, 1] so a per-image value broadcasts over pixels."""
    return ops.reshape(values, (-1, 1, 1, 1))


def _check_range(name, pair, low=None):
    if len(pair) != 2 or not pair[0] <= pair[1] or (low is not None and pair[0] <= low):
        bound = "" if low is None else f" with both above {low}"
        raise ConfigError(f"{name} must be (min, max) with min <= max{bound}, got {pair}")
    return tuple(float(v) for v in pair)


def _check_probability(name, value):
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name} must be in [0, 1], got {value}")
    return float(value)


@keras.saving.register_keras_serializable(package="kerascon")
class ViewAugmentation(keras.layers.Layer):
    """SimCLR / SupCon image views made on the device, in ``keras.ops``.

    Takes raw images ``[B, H, W, C]`` (uint8 or float in ``[0, 255]``) and returns
    ``views`` independently augmented copies of each, float32 ``[B, V, H, W, C]`` in
    ``[0, 255]`` (the model's preprocessing normalises them afterwards). Per view:

    1. random resized crop: a box covering a fraction ``crop_scale`` of the area with
       aspect ratio in ``crop_ratio`` (sampled log-uniformly, as torchvision does),
       resized back to ``H x W`` with bilinear interpolation. A box that would not fit is
       clipped to the image instead of re-sampled (torchvision's ten retries), so very
       elongated boxes are slightly less elongated;
    2. horizontal flip with probability 0.5 (``flip=True``), fused with the crop into one
       affine resampling;
    3. with probability ``color_jitter_probability``: brightness, contrast, saturation and
       hue jitter of strengths ``color_jitter`` (torchvision's ColorJitter(0.4, 0.4, 0.4,
       0.1) by default), applied in that fixed order rather than a random one;
    4. grayscale with probability ``grayscale_probability``.

    The defaults are the SupCon/SimCLR CIFAR recipe. Gaussian blur (SimCLR's ImageNet
    recipe) is not included; the tf.data pipeline (:mod:`kerascon.augment`) has it.
    Views are always augmented, in training and in evaluation: they define the
    contrastive loss rather than regularise it.

    Args:
        views: number of views per image (1 gives plain crop-and-flip style training).
        crop_scale, crop_ratio: ranges of the crop's area fraction and aspect ratio.
        flip: random horizontal flips.
        color_jitter: (brightness, contrast, saturation, hue) strengths; zeros disable.
        color_jitter_probability, grayscale_probability: how often each is applied.
        seed: seed of the layer's random stream (``None``: a random one).

    Example:
        >>> import numpy as np
        >>> augment = ViewAugmentation(views=2, seed=0)
        >>> augment(np.zeros((8, 32, 32, 3), "uint8")).shape
        (8, 2, 32, 32, 3)
        >>> from kerascon.encoders import resnet18
        >>> from kerascon.model import SupConModel
        >>> uint8_images = np.zeros((1024, 32, 32, 3), "uint8")
        >>> labels = np.arange(1024) % 10
        >>> encoder = resnet18(width_multiplier=0.25)
        >>> model = SupConModel(encoder, augmentation=ViewAugmentation(2))
        >>> model.compile(optimizer="sgd")
        >>> model.fit(uint8_images, labels, batch_size=512)   # views made on the device
    """

    def __init__(self, views=2, *, crop_scale=(0.2, 1.0), crop_ratio=(3 / 4, 4 / 3),
                 flip=True, color_jitter=(0.4, 0.4, 0.4, 0.1), color_jitter_probability=0.8,
                 grayscale_probability=0.2, seed=None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if int(views) != views or views < 1:
            raise ConfigError(f"views must be an integer >= 1, got {views}")
        self.views = int(views)
        self.crop_scale = _check_range("crop_scale", crop_scale, low=0.0)
        if self.crop_scale[1] > 1.0:
            raise ConfigError(f"crop_scale must lie in (0, 1], got {crop_scale}")
        self.crop_ratio = _check_range("crop_ratio", crop_ratio, low=0.0)
        self.flip = bool(flip)
        if len(color_jitter) != 4 or min(color_jitter) < 0 or color_jitter[3] > 0.5:
            raise ConfigError("color_jitter must be (brightness, contrast, saturation, hue) "
                              f"with non-negative strengths and hue <= 0.5, got {color_jitter}")
        self.color_jitter = tuple(float(v) for v in color_jitter)
        self.color_jitter_probability = _check_probability("color_jitter_probability",
                                                           color_jitter_probability)
        self.grayscale_probability = _check_probability("grayscale_probability",
                                                        grayscale_probability)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="view_seed")

    # ------------------------------------------------------------------ random draws
    def _uniform(self, n, low=0.0, high=1.0):
        return keras.random.uniform((n,), low, high, dtype="float32", seed=self.seed_generator)

    def _coin(self, n, probability):
        return self._uniform(n) < probability

    # ------------------------------------------------------------------ transforms
    def _crop_and_flip(self, images, n, height, width):
        area = self._uniform(n, *self.crop_scale)
        log_ratio = self._uniform(n, math.log(self.crop_ratio[0]), math.log(self.crop_ratio[1]))
        ratio = ops.exp(log_ratio)
        crop_w = ops.minimum(ops.sqrt(area * ratio), 1.0) * width
        crop_h = ops.minimum(ops.sqrt(area / ratio), 1.0) * height
        x0 = self._uniform(n) * (width - crop_w)
        y0 = self._uniform(n) * (height - crop_h)
        # Output pixel centre x + 0.5 samples input position x0 + (x + 0.5) * crop_w / width
        # (continuous coordinates); affine_transform puts pixel centres at integers.
        sx = crop_w / width
        sy = crop_h / height
        ax, cx = sx, x0 + 0.5 * sx - 0.5
        if self.flip:
            flipped = self._coin(n, 0.5)
            ax = ops.where(flipped, -sx, sx)
            cx = ops.where(flipped, x0 + crop_w - 0.5 * sx - 0.5, cx)
        zeros = ops.zeros_like(sx)
        transform = ops.stack([ax, zeros, cx, zeros, sy, y0 + 0.5 * sy - 0.5, zeros, zeros],
                              axis=1)
        return ops.image.affine_transform(images, transform, interpolation="bilinear",
                                          fill_mode="nearest", data_format="channels_last")

    def _jitter(self, images, n):
        brightness, contrast, saturation, hue = self.color_jitter
        x = images
        if brightness:
            factor = self._uniform(n, max(0.0, 1 - brightness), 1 + brightness)
            x = ops.clip(x * _per_image(factor), 0.0, 255.0)
        if contrast:
            factor = _per_image(self._uniform(n, max(0.0, 1 - contrast), 1 + contrast))
            mean = ops.mean(_gray(x), axis=(1, 2, 3), keepdims=True)
            x = ops.clip((x - mean) * factor + mean, 0.0, 255.0)
        if saturation:
            factor = _per_image(self._uniform(n, max(0.0, 1 - saturation), 1 + saturation))
            gray = _gray(x)
            x = ops.clip((x - gray) * factor + gray, 0.0, 255.0)
        if hue:
            shift = _per_image(self._uniform(n, -hue, hue))[..., 0]
            hsv = ops.image.rgb_to_hsv(x / 255.0, data_format="channels_last")
            rotated = ops.mod(hsv[..., 0] + shift, 1.0)
            hsv = ops.stack([rotated, hsv[..., 1], hsv[..., 2]], axis=-1)
            x = ops.clip(ops.image.hsv_to_rgb(hsv, data_format="channels_last") * 255.0,
                         0.0, 255.0)
        return x

    def call(self, images):
        images = ops.cast(images, "float32")
        if len(images.shape) != 4:
            raise DataError(f"ViewAugmentation takes images [batch, H, W, C], got shape "
                            f"{tuple(images.shape)}")
        height, width, channels = images.shape[1], images.shape[2], images.shape[3]
        dynamic = ops.shape(images)
        height = dynamic[1] if height is None else height
        width = dynamic[2] if width is None else width
        x = ops.repeat(images, self.views, axis=0)          # image 0 view 0, image 0 view 1, ...
        n = ops.shape(x)[0]
        x = self._crop_and_flip(x, n, ops.cast(height, "float32"), ops.cast(width, "float32"))
        if any(self.color_jitter) and self.color_jitter_probability > 0:
            jittered = self._jitter(x, n)
            apply = _per_image(self._coin(n, self.color_jitter_probability))
            x = ops.where(apply, jittered, x)
        if self.grayscale_probability > 0 and channels == 3:
            apply = _per_image(self._coin(n, self.grayscale_probability))
            x = ops.where(apply, ops.repeat(_gray(x), 3, axis=-1), x)
        return ops.reshape(x, (-1, self.views) + tuple(dynamic[1:]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.views) + tuple(input_shape[1:])

    def get_config(self):
        return {
            **super().get_config(),
            "views": self.views,
            "crop_scale": self.crop_scale,
            "crop_ratio": self.crop_ratio,
            "flip": self.flip,
            "color_jitter": self.color_jitter,
            "color_jitter_probability": self.color_jitter_probability,
            "grayscale_probability": self.grayscale_probability,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="kerascon")
class RepeatViews(keras.layers.Layer):
    """Repeats every input tensor ``views`` times on a new axis 1 ("dropout views").

    With an encoder that has dropout, the repeated copies are different views in
    training, as in SimCSE (Gao et al., 2021): pass ``augmentation=RepeatViews(2)`` to
    :class:`~kerascon.model.SupConModel`. Any input structure works: a tensor, or a dict
    / list of tensors (token ids and a padding mask, for example).

    Example:
        >>> import numpy as np
        >>> RepeatViews(2)({"token_ids": np.ones((4, 16), "int32")})["token_ids"].shape
        (4, 2, 16)
    """

    def __init__(self, views=2, **kwargs):
        super().__init__(**kwargs)
        if int(views) != views or views < 2:
            raise ConfigError(f"views must be an integer >= 2 to make pairs, got {views}")
        self.views = int(views)

    def call(self, inputs):
        return keras.tree.map_structure(
            lambda t: ops.repeat(ops.expand_dims(t, 1), self.views, axis=1), inputs
        )

    def compute_output_shape(self, input_shape):
        return keras.tree.map_shape_structure(
            lambda s: (s[0], self.views) + tuple(s[1:]), input_shape
        )

    def get_config(self):
        return {**super().get_config(), "views": self.views}
