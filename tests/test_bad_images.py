"""Images in the wild through image folders: each accepted (decoded as a viewer shows it)
or refused with the file named, never a crash; through load_source and `kerascon train`."""

import json
import struct
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest
from conftest import invoke_cli, one_error_line
from PIL import Image, ImageOps

from kerascon.data import load_source
from kerascon.data.image_headers import read_header
from kerascon.errors import DataError


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png_header(path, size=20_000):
    """A PNG whose header claims size x size RGB pixels, with a cut-off IDAT (a few bytes)."""
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64)))


def blocks(height=8, width=12):
    """Four coloured quadrants: every rotation or mirror gives another image."""
    image = np.zeros((height, width, 3), np.uint8)
    image[: height // 2, : width // 2] = (250, 10, 10)
    image[: height // 2, width // 2:] = (10, 250, 10)
    image[height // 2:, : width // 2] = (10, 10, 250)
    image[height // 2:, width // 2:] = (250, 250, 10)
    return image


# Accepted files: writer(path) -> the uint8 [H, W, 3] a viewer shows, and the largest mean
# absolute difference allowed (JPEG is lossy; PNG and GIF must match exactly).
def write_16bit(path):
    values = np.array([[0, 255, 256, 32768, 33096, 65535], [1000, 20000, 40000, 50000, 60000, 65280]],
                      np.uint16)
    Image.fromarray(values).save(path)  # mode I;16: a 16-bit grayscale PNG
    assert read_header(path).bit_depth == 16
    expected = np.round(values / 257.0).astype(np.uint8)  # scaled, not the high byte
    return np.repeat(expected[..., None], 3, axis=-1), 0.0


def write_cmyk(path):
    y, x = np.mgrid[0:16, 0:16]
    cmyk = np.stack([x * 16, y * 16, (x + y) * 8, (x * y) % 64], -1).astype(np.uint8)
    Image.fromarray(cmyk, "CMYK").save(path, quality=98)
    c, k = cmyk[..., :3].astype(float), cmyk[..., 3:].astype(float)
    return np.round((255 - c) * (255 - k) / 255).astype(np.uint8), 3.0


def write_progressive(path):
    Image.fromarray(blocks(16, 16)).save(path, progressive=True, quality=95)
    assert Image.open(path).info.get("progressive")
    return np.asarray(Image.open(path).convert("RGB")), 2.0  # what Pillow's decoder shows


def write_exif(orientation):
    def write(path):
        exif = Image.Exif()
        exif[0x0112] = orientation
        Image.fromarray(blocks(16, 24)).save(path, quality=95, exif=exif)
        shown = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
        return shown, 4.0
    return write


def write_palette(path):
    image = Image.fromarray(np.array([[0, 1], [1, 2]], np.uint8), "P")
    image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 759)
    image.save(path, transparency=0)
    return np.array([[[255, 0, 0], [0, 255, 0]], [[0, 255, 0], [0, 0, 255]]], np.uint8), 0.0


def write_gif(path):
    first, second = Image.new("RGB", (6, 4), (255, 0, 0)), Image.new("RGB", (6, 4), (0, 0, 255))
    first.save(path, save_all=True, append_images=[second], duration=100, loop=0)
    return np.full((4, 6, 3), (255, 0, 0), np.uint8), 0.0


def write_1x1(path):
    Image.new("RGB", (1, 1), (7, 8, 9)).save(path)
    return np.array([[[7, 8, 9]]], np.uint8), 0.0


ACCEPTED = {"16bit.png": write_16bit, "cmyk.jpg": write_cmyk, "progressive.jpg": write_progressive,
            "palette.png": write_palette, "animated.gif": write_gif, "one_pixel.png": write_1x1,
            **{f"exif{o}.jpg": write_exif(o) for o in range(1, 9)}}


def write_empty(path):
    path.write_bytes(b"")


def write_text(path):
    path.write_text("name,label\ncat,0\n")


REFUSED = {"empty.png": (write_empty, "empty file (0 bytes)"),
           "notes.jpg": (write_text, "not a JPEG, PNG, GIF or BMP image"),
           "huge.png": (huge_png_header, "20000x20000 pixels, more than the limit of 100,000,000")}


def folder_with(root, name, writer):
    """``root/a/<name>`` (the file under test) beside ordinary images in classes a and b."""
    for label in "ab":
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(2):
            Image.new("RGB", (8, 8), (100 * (label == "b"), 40 * i, 0)).save(root / label / f"{i}.png")
    return writer(root / "a" / name)


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_accepted_files_decode_as_a_viewer_shows_them(tmp_path, name):
    expected, tolerance = folder_with(tmp_path, name, ACCEPTED[name])
    source = load_source(tmp_path, split=None)
    assert source.num_examples == 5 and source.skipped == ()
    images = [image for image, _ in source.dataset.as_numpy_iterator()]
    names = sorted(["0.png", "1.png", name])  # label a, in sorted file order
    image = images[names.index(name)]
    assert image.dtype == np.uint8 and image.shape == expected.shape
    assert np.abs(image.astype(float) - expected).mean() <= tolerance


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_files_are_named_or_skipped(tmp_path, name):
    writer, reason = REFUSED[name]
    folder_with(tmp_path, name, writer)
    with pytest.raises(DataError) as info:
        load_source(tmp_path, split=None)
    message = str(info.value)
    assert f"'{tmp_path / 'a' / name}'" in message and reason in message and "\n" not in message
    assert "skip_corrupt=True" in message
    if name == "huge.png":
        assert "max_image_pixels=400000000" in message
    skipped = load_source(tmp_path, split=None, skip_corrupt=True)
    assert skipped.skipped == (str(tmp_path / "a" / name),) and skipped.num_examples == 4


def test_huge_header_is_refused_fast_and_small(tmp_path):
    """Refused from the header: no 1.2 GB decode (peak memory and time of a fresh process)."""
    folder_with(tmp_path, "huge.png", huge_png_header)
    script = textwrap.dedent(f"""
        import json, time
        from kerascon.data import load_source
        from kerascon.errors import DataError
        import tensorflow as tf
        tf.constant(0)
        def high_water_kib():  # this process's own peak (ru_maxrss can be the parent's)
            with open("/proc/self/status") as f:
                return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
        before = high_water_kib()
        start = time.perf_counter()
        try:
            load_source({str(tmp_path)!r}, split=None)
        except DataError as error:
            message = str(error)
        print(json.dumps({{"seconds": time.perf_counter() - start, "message": message,
                          "grown_kib": high_water_kib() - before}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "too large" in result["message"]
    assert result["grown_kib"] < 200 * 1024  # decoding would need 1.2 GB
    assert result["seconds"] < 30  # generous on a busy machine; a decode attempt is far slower


# --------------------------------------------------------------------------- command line

SMALL = ["--stage", "ce", "--arch", "cli_test_cnn", "--image-size", "8", "--batch-size", "4",
         "--epochs", "1", "--steps-per-epoch", "1", "--split", "none", "--eval-split", "none"]


@pytest.mark.usefixtures("tiny_architecture")
def test_cli_accepts_all_wild_images_together(tmp_path):
    data = tmp_path / "wild"
    for name, writer in ACCEPTED.items():
        folder_with(data, name, writer)
    result = invoke_cli("train", "--data", data, *SMALL, "--output", tmp_path / "run", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["stage"] == "ce"


@pytest.mark.usefixtures("tiny_architecture")
def test_cli_refuses_each_bad_file_in_one_line_and_skips_them_all(tmp_path):
    data = tmp_path / "bad"
    for name, (writer, reason) in REFUSED.items():
        single = tmp_path / name.replace(".", "_")
        folder_with(single, name, writer)
        message = one_error_line(invoke_cli("train", "--data", single, *SMALL, "--output", tmp_path / "no"))
        assert str(single / "a" / name) in message and reason in message and "--skip-corrupt" in message
        folder_with(data, name, writer)
    assert "--max-image-pixels 400000000" in message  # the last one is huge.png
    assert not (tmp_path / "no").exists()
    result = invoke_cli("train", "--data", data, *SMALL, "--skip-corrupt", "--output", tmp_path / "run",
                        "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["skipped_images"] == 3
