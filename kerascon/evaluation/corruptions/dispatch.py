"""The corruptions by name: groups, dispatch, and batches over a dataset."""

from __future__ import annotations

import difflib

import numpy as np

from kerascon.errors import ConfigError, ConfigTypeError, DataError
from kerascon.evaluation.corruptions._common import _check_images, _check_severity, _seed_pair
from kerascon.evaluation.corruptions.blur import defocus_blur, glass_blur, motion_blur, zoom_blur
from kerascon.evaluation.corruptions.digital import (
    contrast,
    elastic_transform,
    jpeg_compression,
    pixelate,
)
from kerascon.evaluation.corruptions.noise import gaussian_noise, impulse_noise, shot_noise
from kerascon.evaluation.corruptions.weather import brightness, fog, snow

__all__ = ["CORRUPTIONS", "CORRUPTION_GROUPS", "corrupt", "corrupted_batches"]

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
        raise ConfigError(
            "frost is not implemented: it needs the reference frost photographs; "
            f"choose from {', '.join(CORRUPTIONS)}"
        )
    close = difflib.get_close_matches(str(corruption), CORRUPTIONS, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ConfigError(
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
        >>> import numpy as np
        >>> x_test = np.full((64, 32, 32, 3), 128, np.uint8)
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
        >>> import numpy as np
        >>> from kerascon.model import SupConModel
        >>> model = SupConModel.from_architecture("resnet18", num_classes=10, width_multiplier=0.125)
        >>> x_test, y_test = np.full((16, 32, 32, 3), 128, np.uint8), np.zeros(16, np.int32)
        >>> correct = 0
        >>> for name, severity, x, y in corrupted_batches(x_test, y_test, ["fog"], [1, 5], batch_size=8):
        ...     correct += np.sum(model.predict(x, verbose=0)["logits"].argmax(-1) == y)
    """
    arr = _check_images(images)
    labels = np.asarray(labels)
    if labels.shape[:1] != arr.shape[:1]:
        raise DataError(f"labels have {labels.shape[:1]} rows but images have {arr.shape[0]}")
    if isinstance(corruptions, str):
        corruptions = (corruptions,)
    names = [_check_name(c) for c in corruptions]
    levels = [_check_severity(s) for s in severities]
    if not names or not levels:
        raise ConfigError("corruptions and severities must each name at least one value")
    if len(set(names)) != len(names) or len(set(levels)) != len(levels):
        raise ConfigError(f"corruptions {names} or severities {levels} repeat a value")
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ConfigError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ConfigTypeError(f"seed must be an int, got {seed!r}")
    batch_size = int(batch_size)

    def generate():
        for name in names:
            for level in levels:
                for b, start in enumerate(range(0, arr.shape[0], batch_size)):
                    stop = start + batch_size
                    out = _FUNCTIONS[name](arr[start:stop], level, (int(seed), b))
                    yield name, level, out, labels[start:stop]

    return generate()
