"""Image sizes and orientation read from file headers, without decoding any pixels.

Image folders are screened with :func:`read_header` before TensorFlow decodes anything:
an empty or non-image file is named at once, an image whose header claims more pixels
than a limit is refused before its pixels are allocated, and JPEG files report their EXIF
orientation (TensorFlow's decoder ignores it) and 16-bit PNG files their bit depth (so
they are scaled to 8 bits rather than cut). Pure Python, a few small reads per file.

Example:
    >>> import struct, tempfile, zlib
    >>> ihdr = struct.pack(">IIBBBBB", 640, 480, 8, 2, 0, 0, 0)
    >>> png = (b"\\x89PNG\\r\\n\\x1a\\n" + struct.pack(">I", 13) + b"IHDR" + ihdr
    ...        + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)))
    >>> with tempfile.NamedTemporaryFile(suffix=".png", delete=False) as f:
    ...     _ = f.write(png)
    >>> header = read_header(f.name)
    >>> header.format, header.width, header.height, header.pixels
    ('png', 640, 480, 307200)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from kerascon.errors import DataError

__all__ = ["DEFAULT_MAX_IMAGE_PIXELS", "ImageHeader", "ImageHeaderError", "read_header"]

#: Images whose header claims more pixels than this are refused before decoding
#: (100 megapixels: 300 MB decoded; several such images decode in parallel).
DEFAULT_MAX_IMAGE_PIXELS = 100_000_000

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (baseline, progressive, lossless...); C4, C8 and CC are not frames.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE_MARKERS = frozenset([0x01, *range(0xD0, 0xD9)])
_EXIF_ORIENTATION_TAG = 0x0112


class ImageHeaderError(DataError):
    """A file whose header is not that of a supported image; the message is the reason."""


@dataclass(frozen=True)
class ImageHeader:
    """What a file's header says: ``format`` (``png``, ``jpeg``, ``gif``, ``bmp``), size,
    ``bit_depth`` (PNG: 1-16, else 8), EXIF ``orientation`` (1-8, 1 = as stored)."""

    format: str
    width: int
    height: int
    bit_depth: int = 8
    orientation: int = 1

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _exif_orientation(segment: bytes) -> int:
    """The orientation tag of an APP1 ``Exif`` segment's first IFD (1 when absent or bad)."""
    tiff = segment[6:]
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return 1
    order = "<" if tiff[:2] == b"II" else ">"
    offset = struct.unpack(order + "I", tiff[4:8])[0]
    if offset + 2 > len(tiff):
        return 1
    count = struct.unpack(order + "H", tiff[offset:offset + 2])[0]
    for i in range(count):
        entry = tiff[offset + 2 + 12 * i: offset + 14 + 12 * i]
        if len(entry) < 12:
            break
        tag, kind = struct.unpack(order + "HH", entry[:4])
        if tag == _EXIF_ORIENTATION_TAG and kind == 3:  # SHORT
            value = struct.unpack(order + "H", entry[8:10])[0]
            return value if 1 <= value <= 8 else 1
    return 1


def _jpeg(f) -> ImageHeader:
    orientation = 1
    while True:
        byte = f.read(1)
        if not byte:
            raise ImageHeaderError("truncated JPEG: no frame header")
        if byte != b"\xff":
            raise ImageHeaderError("corrupt JPEG: bad marker")
        marker = f.read(1)
        while marker == b"\xff":  # fill bytes
            marker = f.read(1)
        if not marker:
            raise ImageHeaderError("truncated JPEG: no frame header")
        code = marker[0]
        if code in _STANDALONE_MARKERS:
            continue
        if code in (0xD9, 0xDA):
            raise ImageHeaderError("corrupt JPEG: image data before any frame header")
        length_bytes = f.read(2)
        if len(length_bytes) < 2:
            raise ImageHeaderError("truncated JPEG: no frame header")
        length = struct.unpack(">H", length_bytes)[0]
        if length < 2:
            raise ImageHeaderError("corrupt JPEG: bad segment length")
        if code in _SOF_MARKERS:
            frame = f.read(6)
            if len(frame) < 6:
                raise ImageHeaderError("truncated JPEG frame header")
            _, height, width, _ = struct.unpack(">BHHB", frame)
            if not width or not height:
                raise ImageHeaderError(f"JPEG frame header gives size {width}x{height}")
            return ImageHeader("jpeg", width, height, 8, orientation)
        if code == 0xE1 and orientation == 1:
            segment = f.read(length - 2)
            if segment.startswith(b"Exif\x00\x00"):
                orientation = _exif_orientation(segment)
        else:
            f.seek(length - 2, 1)


def read_header(path) -> ImageHeader:
    """Format, size, bit depth and EXIF orientation of an image file, from its header only.

    Raises:
        ImageHeaderError: an empty file, a file that is no PNG, JPEG, GIF or BMP image
            (whatever its extension), or a header that is cut short or gives a zero size.
        OSError: the file cannot be read.

    Example::

        read_header("photo.jpg")    # ImageHeader(format='jpeg', width=4032, height=3024, ...)
    """
    with open(path, "rb") as f:
        start = f.read(32)
        if not start:
            raise ImageHeaderError("empty file (0 bytes)")
        if start.startswith(b"\xff\xd8"):
            f.seek(2)
            return _jpeg(f)
        if start.startswith(_PNG_SIGNATURE):
            ihdr = start[8:] + f.read(1)  # length, type, width, height, depth, colour type
            if len(ihdr) < 18 or ihdr[4:8] != b"IHDR":
                raise ImageHeaderError("truncated PNG: no IHDR header")
            width, height, depth = struct.unpack(">IIB", ihdr[8:17])
            if not width or not height:
                raise ImageHeaderError(f"PNG header gives size {width}x{height}")
            return ImageHeader("png", width, height, depth)
        if start[:6] in (b"GIF87a", b"GIF89a") and len(start) >= 10:
            width, height = struct.unpack("<HH", start[6:10])
            if not width or not height:
                raise ImageHeaderError(f"GIF header gives size {width}x{height}")
            return ImageHeader("gif", width, height)
        if start.startswith(b"BM") and len(start) >= 26:
            width, height = struct.unpack("<ii", start[18:26])
            if width <= 0 or height == 0:
                raise ImageHeaderError(f"BMP header gives size {width}x{abs(height)}")
            return ImageHeader("bmp", width, abs(height))
    raise ImageHeaderError(f"not a JPEG, PNG, GIF or BMP image (starts with {start[:8]!r})")
