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
    >>> import numpy as np
    >>> x = np.zeros((2, 32, 32, 3), np.uint8) + 128
    >>> corrupt(x, "gaussian_noise", severity=3, seed=0).shape
    (2, 32, 32, 3)
"""

from kerascon.evaluation.corruptions.blur import defocus_blur, glass_blur, motion_blur, zoom_blur
from kerascon.evaluation.corruptions.digital import (
    contrast,
    elastic_transform,
    jpeg_compression,
    pixelate,
)
from kerascon.evaluation.corruptions.dispatch import (
    CORRUPTION_GROUPS,
    CORRUPTIONS,
    corrupt,
    corrupted_batches,
)
from kerascon.evaluation.corruptions.noise import gaussian_noise, impulse_noise, shot_noise
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
