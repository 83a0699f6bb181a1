"""Image corruptions of CIFAR-10-C (Hendrycks & Dietterich, ICLR 2019) in TensorFlow.

Each corruption takes an image batch ``[N, H, W, 3]`` (uint8, or float pixel values in
[0, 255] -- not [0, 1]), a severity 1..5 and a seed, and returns a numpy uint8 batch of
the same shape (float input is rounded to uint8 first by motion blur, pixelate and JPEG,
whose reference works on 8-bit files). The parameters are those of ``make_cifar_c.py`` in
github.com/hendrycks/robustness (``ImageNet-C/create_c``), i.e. the **CIFAR-10-C** ones,
tuned for 32x32 images. Any image size works, but only elastic_transform scales its
parameters with the image (as the reference does), so on 224x224 images the damage is
much milder than with the separate ImageNet-C parameters.

Order and groups follow the paper: noise (gaussian, shot, impulse), blur (defocus,
glass, motion, zoom), weather (snow, fog, brightness), digital (contrast, elastic,
pixelate, JPEG). **Frost is left out**: it blends crops of six frost photographs shipped
with the reference code (``frost1.png`` .. ``frost6.jpg``) into the image, and those
assets are not part of kerascon.

Like the reference, float results are clipped to [0, 255] and truncated to uint8
(``np.uint8(x)``); motion blur and snow's motion-blurred layer are rounded, as
ImageMagick does. Randomness uses ``tf.random.stateless_*`` ops, so a result depends
only on the images, severity and seed (not on global state), and images of one batch
get independent draws. The draws are TensorFlow's, not numpy's, so single images differ
from the published CIFAR-10-C files while the distributions are the same. One seed gives
the same noise at every severity (common random numbers), so severities compare cleanly.

Deviations from the reference (anything not listed follows its formula exactly; the
tests check pixelate and JPEG against Pillow bit for bit and the filters, zoom and
bilinear sampling against SciPy):

- all: computed in float64 (the reference mixes float32 and float64). Where a result is
  an exact integer in exact arithmetic (flat regions after a blur, for instance), float
  rounding noise decides the truncation, so a pixel can differ from the reference by one
  grey level; the reference's float32 and float64 paths disagree the same way.
- impulse_noise: each value (per channel) is replaced with probability ``amount`` by
  0 or 255 (probability 1/2 each), as ``skimage.util.random_noise(mode='s&p')`` of
  current scikit-image; scikit-image of 2018 drew a fixed number of coordinates with
  replacement instead.
- glass_blur: none, including a quirk of the reference: its pixel "swap" on numpy views
  copies the neighbour (offsets in ``[-d, d)``, i.e. up/left for d = 1) into the pixel
  and leaves the neighbour as it was. The loop over pixel positions runs in numpy on
  indices, vectorised over the batch. The reference hard-codes 32 as the image size.
- motion_blur: the reference calls ImageMagick ``MotionBlurImage`` through Wand; this is
  a re-implementation of that kernel (``2 * ceil(radius) + 1`` one-sided Gaussian taps
  along the angle, ImageMagick's rounding of the tap offsets, edge pixels repeated,
  result rounded), not a call to ImageMagick. As in ImageMagick, severities 3 and 4
  give the same image (the extra taps of radius 8 weigh less than 1e-9).
- snow: exact apart from its motion blur, which is the re-implementation above.
- elastic_transform: OpenCV's ``warpAffine`` quantises sample positions to 1/32 pixel;
  here bilinear sampling is exact. Sizes scale with ``min(H, W)`` (the reference uses
  32) and the affine anchor is the centre ``(W // 2, H // 2)`` (same for square images).
- pixelate: re-implements Pillow's ``BOX`` resampling, including its 22-bit fixed point
  weights and the rounding after each (horizontal, then vertical) pass.
- jpeg_compression: TensorFlow's libjpeg (4:2:0 chroma, accurate integer DCT) instead
  of Pillow's, same quality settings.
- fog: the diamond-square plasma map is ``2 ** ceil(log2(max(H, W)))`` wide, cropped to
  the image (the reference uses 32).

Example:
    >>> x = np.zeros((2, 32, 32, 3), np.uint8) + 128
    >>> corrupt(x, "gaussian_noise", severity=3, seed=0).shape
    (2, 32, 32, 3)
"""

from __future__ import annotations

import difflib

import numpy as np

# One module per group of the paper (noise, blur, weather, digital) plus the shared helpers
# in _common; this module holds the names, groups and dispatch. The private names
# re-exported with ``as`` are imported from here by kerascon.evaluation.robustness and tests.
from kerascon.evaluation.corruptions._common import _bilinear as _bilinear
from kerascon.evaluation.corruptions._common import _check_images, _check_severity, _seed_pair
from kerascon.evaluation.corruptions._common import _gaussian_blur as _gaussian_blur
from kerascon.evaluation.corruptions._common import _motion_blur as _motion_blur
from kerascon.evaluation.corruptions._common import _motion_blur_taps as _motion_blur_taps
from kerascon.evaluation.corruptions.blur import _DEFOCUS_BLUR as _DEFOCUS_BLUR
from kerascon.evaluation.corruptions.blur import _GLASS_BLUR as _GLASS_BLUR
from kerascon.evaluation.corruptions.blur import _correlate2d as _correlate2d
from kerascon.evaluation.corruptions.blur import _disk_kernel as _disk_kernel
from kerascon.evaluation.corruptions.blur import _glass_offsets as _glass_offsets
from kerascon.evaluation.corruptions.blur import _glass_source as _glass_source
from kerascon.evaluation.corruptions.blur import defocus_blur, glass_blur, motion_blur, zoom_blur
from kerascon.evaluation.corruptions.digital import _elastic_positions as _elastic_positions
from kerascon.evaluation.corruptions.digital import (
    contrast,
    elastic_transform,
    jpeg_compression,
    pixelate,
)
from kerascon.evaluation.corruptions.noise import gaussian_noise, impulse_noise, shot_noise
from kerascon.evaluation.corruptions.weather import _plasma_fractal as _plasma_fractal
from kerascon.evaluation.corruptions.weather import _UniformDraws as _UniformDraws
from kerascon.evaluation.corruptions.weather import brightness, fog, snow

__all__ = [
    "CORRUPTIONS",
    "CORRUPTION_GROUPS",
    "brightness",
    "contrast",
    "corrupt",
    "corrupted_batches",
    "defocus_blur",
    "elastic_transform",
    "fog",
    "gaussian_noise",
    "glass_blur",
    "impulse_noise",
    "jpeg_compression",
    "motion_blur",
    "pixelate",
    "shot_noise",
    "snow",
    "zoom_blur",
]

CORRUPTION_GROUPS = {
    "noise": ("gaussian_noise", "shot_noise", "impulse_noise"),
    "blur": ("defocus_blur", "glass_blur", "motion_blur", "zoom_blur"),
    "weather": ("snow", "fog", "brightness"),
    "digital": ("contrast", "elastic_transform", "pixelate", "jpeg_compression"),
}
CORRUPTIONS = tuple(name for names in CORRUPTION_GROUPS.values() for name in names)


# ------------------------------------------------------------------ dispatch
_FUNCTIONS = {
    "gaussian_noise": gaussian_noise,
    "shot_noise": shot_noise,
    "impulse_noise": impulse_noise,
    "defocus_blur": defocus_blur,
    "glass_blur": glass_blur,
    "motion_blur": motion_blur,
    "zoom_blur": zoom_blur,
    "snow": snow,
    "fog": fog,
    "brightness": brightness,
    "contrast": contrast,
    "elastic_transform": elastic_transform,
    "pixelate": pixelate,
    "jpeg_compression": jpeg_compression,
}


def _check_name(corruption):
    """Returns ``corruption`` if it is a known name, else raises a one-line ValueError."""
    if corruption in _FUNCTIONS:
        return corruption
    if corruption == "frost":
        raise ValueError(
            "frost is not implemented: it needs the reference frost photographs; "
            f"choose from {', '.join(CORRUPTIONS)}"
        )
    close = difflib.get_close_matches(str(corruption), CORRUPTIONS, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ValueError(
        f"unknown corruption {corruption!r}; {hint}choose from {', '.join(CORRUPTIONS)}"
    )


def corrupt(images, corruption, severity, seed=0):
    """Applies the named corruption at ``severity`` (1..5) to a batch [N, H, W, 3].

    Args:
        images: uint8 (or float in [0, 255]) images [N, H, W, 3].
        corruption: a name from ``CORRUPTIONS``.
        severity: integer 1..5.
        seed: int, or a pair of ints, for the stateless random ops.

    Returns:
        numpy uint8 array [N, H, W, 3].

    Example:
        >>> out = corrupt(x_test[:64], "motion_blur", severity=3, seed=0)
    """
    function = _FUNCTIONS[_check_name(corruption)]
    return function(images, _check_severity(severity), _seed_pair(seed))


def corrupted_batches(images, labels, corruptions=CORRUPTIONS, severities=(1, 2, 3, 4, 5),
                      batch_size=256, seed=0):
    """Iterates ``(corruption, severity, images_uint8, labels)`` over a dataset in batches.

    Batch ``b`` (counting from 0 within each corruption and severity) uses the seed pair
    ``(seed, b)``, so the output depends on ``batch_size`` but not on the order of
    iteration; the first batch equals ``corrupt(images[:batch_size], c, s, seed)``.
    Names, severities and shapes are checked before the first batch.

    Args:
        images: numpy uint8 (or float in [0, 255]) images [N, H, W, 3].
        labels: numpy array with N rows (passed through, sliced like ``images``).
        corruptions: names from ``CORRUPTIONS``.
        severities: integers 1..5.
        batch_size: images per yielded batch.
        seed: int seed.

    Example:
        >>> for name, severity, x, y in corrupted_batches(x_test, y_test, ["fog"], [1, 5]):
        ...     correct += np.sum(model.predict(x).argmax(-1) == y)
    """
    arr = _check_images(images)
    labels = np.asarray(labels)
    if labels.shape[:1] != arr.shape[:1]:
        raise ValueError(f"labels have {labels.shape[:1]} rows but images have {arr.shape[0]}")
    if isinstance(corruptions, str):
        corruptions = (corruptions,)
    names = [_check_name(c) for c in corruptions]
    levels = [_check_severity(s) for s in severities]
    if not names or not levels:
        raise ValueError("corruptions and severities must each name at least one value")
    if len(set(names)) != len(names) or len(set(levels)) != len(levels):
        raise ValueError(f"corruptions {names} or severities {levels} repeat a value")
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {seed!r}")
    batch_size = int(batch_size)

    def generate():
        for name in names:
            for level in levels:
                for b, start in enumerate(range(0, arr.shape[0], batch_size)):
                    stop = start + batch_size
                    out = _FUNCTIONS[name](arr[start:stop], level, (int(seed), b))
                    yield name, level, out, labels[start:stop]

    return generate()
