"""Image files as a viewer shows them: screened by header, decoded to ``uint8 [H, W, 3]``.

:func:`screen_files` reads every file's header (:mod:`kerascon.data.image_headers`) before
anything is decoded: empty files, files that are no image whatever their extension, and
images larger than ``max_pixels`` (a 20,000 x 20,000 header would need 1.2 GB decoded) are
found there, with a reason. :func:`decode_file` then decodes with TensorFlow and fixes what
TensorFlow's decoder leaves out:

* 16-bit PNG: decoded at 16 bits and scaled to 8 (``round(v / 257)``), where
  ``decode_image`` keeps the high byte;
* EXIF orientation (JPEG): applied, so a photo taken sideways stands upright.

What TensorFlow already does right: CMYK JPEG (converted to RGB with Adobe's inverted
convention when the file has an Adobe marker, plain CMYK otherwise, as libjpeg defines;
no ICC colour management), progressive JPEG, palette PNG with transparency (RGB, alpha
dropped), grayscale, animated GIF (the first frame). A 1x1 image is accepted: it resizes
to a uniform image of its colour.

Example:
    >>> problems, headers = screen_files(["missing.png"], max_pixels=DEFAULT_MAX_IMAGE_PIXELS)
    >>> problems[0].reason.startswith("cannot read")
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from kerascon.data.image_headers import DEFAULT_MAX_IMAGE_PIXELS, ImageHeader, ImageHeaderError, read_header
from kerascon.errors import DataError

__all__ = ["DEFAULT_MAX_IMAGE_PIXELS", "FileProblem", "ImageFileError", "decode_file", "screen_files"]


@dataclass(frozen=True)
class FileProblem:
    """Why a file cannot be used: ``reason`` (one phrase); ``pixels`` when it is too large."""

    path: str
    reason: str
    pixels: int | None = None


class ImageFileError(DataError):
    """An image file that cannot be used (``problem`` says which and why)."""

    def __init__(self, template: str, *hints, problem: FileProblem | None = None, count: int = 1):
        super().__init__(template, *hints)
        self.problem = problem
        self.count = count

    def __reduce__(self):
        return (_rebuild_error, (self.template, self.hints, self.problem, self.count))


def _rebuild_error(template, hints, problem, count):
    return ImageFileError(template, *hints, problem=problem, count=count)


def screen_files(paths, max_pixels: int | None) -> tuple[dict[int, FileProblem], dict[int, ImageHeader]]:
    """Read every file's header: ``(problems by index, headers by index)``.

    ``max_pixels=None`` sets no size limit.
    """
    problems: dict[int, FileProblem] = {}
    headers: dict[int, ImageHeader] = {}
    for i, path in enumerate(paths):
        try:
            header = read_header(path)
        except ImageHeaderError as error:
            problems[i] = FileProblem(path, str(error))
            continue
        except OSError as error:
            problems[i] = FileProblem(path, f"cannot read it: {error.strerror or error}")
            continue
        if max_pixels is not None and header.pixels > max_pixels:
            problems[i] = FileProblem(
                path, f"{header.width}x{header.height} pixels, more than the limit of {max_pixels:,}",
                pixels=header.pixels)
            continue
        headers[i] = header
    return problems, headers


def _orient(image: tf.Tensor, orientation: tf.Tensor) -> tf.Tensor:
    """Apply an EXIF orientation (1-8) the way viewers do."""
    def transpose(x):
        return tf.transpose(x, [1, 0, 2])

    branches = [
        lambda: image,                                         # 1 as stored
        lambda: tf.reverse(image, [1]),                        # 2 mirrored left-right
        lambda: tf.image.rot90(image, 2),                      # 3 rotated 180
        lambda: tf.reverse(image, [0]),                        # 4 mirrored top-bottom
        lambda: transpose(image),                              # 5 transposed
        lambda: tf.image.rot90(image, 3),                      # 6 rotated 90 clockwise
        lambda: tf.image.rot90(transpose(image), 2),           # 7 transversed
        lambda: tf.image.rot90(image, 1),                      # 8 rotated 90 counter-clockwise
    ]
    index = tf.clip_by_value(tf.cast(orientation, tf.int32) - 1, 0, 7)
    oriented = tf.switch_case(index, branches)
    oriented.set_shape([None, None, 3])
    return oriented


def _decode_16bit_png(data: tf.Tensor) -> tf.Tensor:
    wide = tf.io.decode_png(data, channels=3, dtype=tf.uint16)
    return tf.cast(tf.round(tf.cast(wide, tf.float32) / 257.0), tf.uint8)


def decode_file(path: tf.Tensor, orientation: tf.Tensor, sixteen_bit: tf.Tensor, *,
                any_oriented: bool = True, any_sixteen_bit: bool = True) -> tf.Tensor:
    """Decode one file to ``uint8 [H, W, 3]`` (first frame of a GIF), scaled and oriented.

    ``orientation`` and ``sixteen_bit`` come from the file's header; ``any_*`` false leaves
    the corresponding step out of the graph (no file of the folder needs it).
    """
    data = tf.io.read_file(path)

    def plain():
        image = tf.io.decode_image(data, channels=3, expand_animations=False, dtype=tf.uint8)
        image.set_shape([None, None, 3])
        return image

    image = tf.cond(sixteen_bit, lambda: _decode_16bit_png(data), plain) if any_sixteen_bit else plain()
    image.set_shape([None, None, 3])
    return _orient(image, orientation) if any_oriented else image


def header_keys(headers: dict[int, ImageHeader], indices) -> tuple[list[int], list[bool]]:
    """Per-file orientation and 16-bit flags, for the files at ``indices``."""
    orientations = [headers[i].orientation if i in headers else 1 for i in indices]
    sixteen = [bool(i in headers and headers[i].format == "png" and headers[i].bit_depth == 16)
               for i in indices]
    return orientations, sixteen

