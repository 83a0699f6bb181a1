"""``make_augmentation``: an augmentation policy by name, as one ``fn(image, seed)``.

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

Policies (:data:`POLICY_BUILDERS`, one builder per name of
:data:`kerascon.choices.AUGMENT_POLICIES`):

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

import dataclasses
from typing import Callable

import tensorflow as tf

from kerascon.augment._common import (
    _as_rgb_float,
    _as_seed,
    _clip,
    _no_autograph,
    _size_hw,
    _split,
    _with_prob,
)
from kerascon.augment.batched import BatchStages, simclr_batch_stage
from kerascon.augment.policies import auto_augment, rand_augment
from kerascon.augment.simclr import (
    BLUR_MIN_SIZE,
    DEFAULT_COLOR_JITTER,
    DEFAULT_CROP_RATIO,
    DEFAULT_CROP_SCALE,
    color_jitter,
    gaussian_blur,
    make_eval_transform,
    random_resized_crop,
    to_grayscale,
)
from kerascon.choices import AUGMENT_POLICIES
from kerascon.errors import ConfigError

__all__ = ["POLICY_BUILDERS", "AugmentFn", "make_augmentation"]

#: ``fn(image [H, W, C] uint8|float32 in [0, 255], seed int[2]) -> float32 [h, w, 3] in [0, 255]``
AugmentFn = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


# --------------------------------------------------------------------------- options


@dataclasses.dataclass(frozen=True)
class _Options:
    """The checked arguments of :func:`make_augmentation`, shared by every policy builder."""

    hw: tuple[int, int]
    scale: tuple[float, float]
    ratio: tuple[float, float]
    jitter: tuple[float, float, float, float]
    color_jitter_prob: float
    grayscale_prob: float
    use_blur: bool
    blur_kernel: int
    blur_prob: float
    randaugment_ops: int
    randaugment_magnitude: int

    def finish(self, image):
        """Clip to ``[0, 255]`` and fix the static shape ``[h, w, 3]``."""
        image = _clip(image)
        image.set_shape([self.hw[0], self.hw[1], 3])
        return image


def _options(image_size, crop_scale, crop_ratio, color_jitter_strength, color_jitter_prob,
             grayscale_prob, blur, blur_prob, randaugment_ops, randaugment_magnitude) -> _Options:
    hw = _size_hw(image_size)
    scale = tuple(crop_scale) if crop_scale is not None else DEFAULT_CROP_SCALE
    if len(scale) != 2 or not 0.0 < scale[0] <= scale[1] <= 1.0:
        raise ConfigError(
            f"crop_scale must be (min, max) with 0 < min <= max <= 1, got {crop_scale!r}"
        )
    ratio = tuple(crop_ratio)
    if len(ratio) != 2 or not 0.0 < ratio[0] <= ratio[1]:
        raise ConfigError(f"crop_ratio must be (min, max) with 0 < min <= max, got {crop_ratio!r}")
    if not 0 <= randaugment_magnitude <= 30 or randaugment_ops < 0:
        raise ConfigError(
            f"randaugment_magnitude must be in [0, 30] and randaugment_ops >= 0, "
            f"got {randaugment_magnitude} and {randaugment_ops}"
        )
    jitter = tuple(color_jitter_strength)
    if len(jitter) != 4:
        raise ConfigError("color_jitter_strength must be (brightness, contrast, saturation, hue), "
                         f"got {color_jitter_strength!r}")
    return _Options(hw=hw, scale=scale, ratio=ratio, jitter=jitter,
                    color_jitter_prob=color_jitter_prob, grayscale_prob=grayscale_prob,
                    use_blur=(min(hw) >= BLUR_MIN_SIZE) if blur is None else bool(blur),
                    blur_kernel=min(hw) // 10, blur_prob=blur_prob,
                    randaugment_ops=randaugment_ops, randaugment_magnitude=randaugment_magnitude)


# --------------------------------------------------------------------------- building blocks


def _crop_flip(o: _Options):
    """Random resized crop + horizontal flip, on an RGB float image."""

    def crop_flip(image, seed):
        s_crop, s_flip = _split(seed, 2)
        image = random_resized_crop(image, o.hw, s_crop, scale=o.scale, ratio=o.ratio)
        return tf.image.stateless_random_flip_left_right(image, s_flip)

    return crop_flip


def _simclr(o: _Options):
    """SimAugment: crop + flip, colour jitter, grayscale and (large images) blur."""
    crop_flip = _crop_flip(o)
    b, c, s, h = o.jitter

    def simclr(image, seed):
        s_ = _split(seed, 6)
        image = crop_flip(image, s_[0])
        j_apply, j_params = _split(s_[1], 2)
        x = image
        x = _with_prob(
            o.color_jitter_prob,
            j_apply,
            lambda: color_jitter(x, j_params, brightness=b, contrast=c, saturation=s, hue=h),
            x,
        )
        y = x
        y = _with_prob(o.grayscale_prob, s_[2], lambda: to_grayscale(y), y)
        if o.use_blur:
            z = y
            y = _with_prob(
                o.blur_prob, s_[3], lambda: gaussian_blur(z, s_[4], kernel_size=o.blur_kernel), z
            )
        return y

    return simclr


def _then_rand_augment(o: _Options, base):
    """``base`` then RandAugment, on seeds split from one."""

    def augment(image, seed):
        s_base, s_extra = _split(seed, 2)
        return rand_augment(base(image, s_base), s_extra, num_ops=o.randaugment_ops,
                            magnitude=o.randaugment_magnitude)

    return augment


def _then_auto_augment(o: _Options, base):
    """``base`` then AutoAugment's ImageNet policy, on seeds split from one."""

    def augment(image, seed):
        s_base, s_extra = _split(seed, 2)
        return auto_augment(base(image, s_base), s_extra)

    return augment


def _seeded(policy: str, o: _Options, core) -> AugmentFn:
    """``core`` on an RGB float image and an int64 seed, clipped to the output shape."""

    @_no_autograph
    def augment(image, seed):
        return o.finish(core(_as_rgb_float(image), _as_seed(seed)))

    augment.__name__ = f"{policy}_augment"
    return augment


# --------------------------------------------------------------------------- policies


def _none_policy(o: _Options) -> AugmentFn:
    evaluate = make_eval_transform(o.hw)

    @_no_autograph
    def none_fn(image, seed=None):
        return evaluate(image)

    return none_fn


def _simclr_policy(o: _Options) -> AugmentFn:
    augment = _seeded("simclr", o, _simclr(o))
    augment.batch_stages = _batch_stages("simclr", o, jitter=True)
    return augment


def _flip_crop_policy(o: _Options) -> AugmentFn:
    augment = _seeded("flip_crop", o, _crop_flip(o))
    augment.batch_stages = _batch_stages("flip_crop", o, jitter=False)
    return augment


def _randaugment_policy(o: _Options) -> AugmentFn:
    return _seeded("randaugment", o, _then_rand_augment(o, _crop_flip(o)))


def _autoaugment_policy(o: _Options) -> AugmentFn:
    return _seeded("autoaugment", o, _then_auto_augment(o, _crop_flip(o)))


def _stacked_policy(o: _Options) -> AugmentFn:
    return _seeded("stacked", o, _then_rand_augment(o, _simclr(o)))


#: policy name -> builder ``(options) -> AugmentFn``; one per name of
#: :data:`kerascon.choices.AUGMENT_POLICIES`.
POLICY_BUILDERS: dict[str, Callable[[_Options], AugmentFn]] = {
    "simclr": _simclr_policy,
    "randaugment": _randaugment_policy,
    "autoaugment": _autoaugment_policy,
    "stacked": _stacked_policy,
    "flip_crop": _flip_crop_policy,
    "none": _none_policy,
}


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
        policy: one of :data:`kerascon.choices.AUGMENT_POLICIES` (case-insensitive).
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
    always gives the same output. ``"none"`` ignores the seed. ``simclr`` and
    ``flip_crop`` carry ``fn.batch_stages`` (:class:`~kerascon.augment.batched.BatchStages`),
    the same policy split into a per-image crop and a per-batch rest.

    Example::

        augment = make_augmentation("autoaugment", 224)
        ds = ds.map(lambda image, seed: augment(image, seed))
    """
    if not isinstance(policy, str) or policy.lower() not in AUGMENT_POLICIES:
        raise ConfigError(
            f"unknown augmentation policy {policy!r}; valid policies: {', '.join(AUGMENT_POLICIES)}"
        )
    options = _options(image_size, crop_scale, crop_ratio, color_jitter_strength,
                       color_jitter_prob, grayscale_prob, blur, blur_prob, randaugment_ops,
                       randaugment_magnitude)
    return POLICY_BUILDERS[policy.lower()](options)


def _batch_stages(policy: str, o: _Options, jitter: bool) -> BatchStages:
    """The same policy as a per-image crop and a per-batch rest (``BatchStages``)."""

    @_no_autograph
    def crop(image, seed):
        image = random_resized_crop(_as_rgb_float(image), o.hw, _as_seed(seed), scale=o.scale,
                                    ratio=o.ratio)
        return o.finish(image)

    crop.__name__ = f"{policy}_crop"
    batch_stage = simclr_batch_stage(
        color_jitter_strength=o.jitter, color_jitter_prob=o.color_jitter_prob,
        grayscale_prob=o.grayscale_prob, blur_kernel=o.blur_kernel if o.use_blur else None,
        blur_prob=o.blur_prob, jitter=jitter)
    return BatchStages(crop, batch_stage, o.hw)
