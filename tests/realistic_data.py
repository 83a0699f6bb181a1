"""Data sets of realistic size for tests/test_realistic_sizes.py, written cheaply.

Images are random noise shifted by class (so classes differ), 32 x 32 RGB unless asked
otherwise; the pipelines resize them to the image size under test, so the data stays small
on disk while the views are 32 to 224 px. Every layout that ``kerascon.data.load_source``
reads has a writer here: ``.npz`` with and without ``<split>_idx`` arrays, a train/test
image folder and a plain class folder (TFDS comes from ``tfds.testing.mock_data``).
"""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np

CLASSES = 10


def class_images(n: int, *, size: int = 32, classes: int = CLASSES, seed: int = 0):
    """``(uint8 [n, size, size, 3], int64 [n])``: labels 0, 1, ..., classes - 1 in turn."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    images = rng.integers(0, 100, (n, size, size, 3), dtype=np.uint8)
    images += (labels * (150 // classes)).astype(np.uint8)[:, None, None, None]
    return images, labels


def write_npz(path, n: int, *, splits: dict[str, int] | None = None, seed: int = 0):
    """``path`` with ``images``/``labels`` (and ``<split>_idx`` arrays of the given sizes)."""
    images, labels = class_images(n, seed=seed)
    arrays = {"images": images, "labels": labels}
    start = 0
    for split, count in (splits or {}).items():
        arrays[f"{split}_idx"] = np.arange(start, start + count)
        start += count
    assert start <= n
    np.savez(path, **arrays)
    return path


def write_class_folder(root, n: int, *, seed: int = 0) -> None:
    """``root/class<k>/<i>.png`` for ``n`` images (PIL PNGs, about 0.1 ms each)."""
    from PIL import Image

    images, labels = class_images(n, seed=seed)
    for k in range(CLASSES):
        os.makedirs(os.path.join(root, f"class{k}"), exist_ok=True)
    for i, (image, label) in enumerate(zip(images, labels)):
        Image.fromarray(image).save(os.path.join(root, f"class{label}", f"{seed}_{i}.png"))


def trained_steps(keras_file) -> int:
    """The optimizer's step count stored in a ``.keras`` file (its first optimizer variable).

    Reads the weights file inside the archive with h5py: no model is built.
    """
    import h5py

    with zipfile.ZipFile(keras_file) as archive:
        weights = io.BytesIO(archive.read("model.weights.h5"))
    with h5py.File(weights, "r") as h5:
        return int(h5["optimizer/vars/0"][()])
