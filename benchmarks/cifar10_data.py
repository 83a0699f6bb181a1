"""CIFAR-10 from ../shared/data/cifar10/cifar10_jpeg.npz as uint8 arrays (benchmarks only).

The file holds JPEG bytes (see its README); this decodes them with Pillow when it is
installed (GPU machines without TensorFlow) and with tf.io.decode_jpeg otherwise.
kerascon itself never needs this file.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np

DEFAULT_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "cifar10",
                            "cifar10_jpeg.npz")


def _decode_pillow(chunks):
    import io

    from PIL import Image

    return np.stack([np.asarray(Image.open(io.BytesIO(c)).convert("RGB")) for c in chunks])


def _decode_tensorflow(chunks):
    import tensorflow as tf

    return np.stack([tf.io.decode_jpeg(c, channels=3).numpy() for c in chunks])


def _decode(jpeg, offsets, count, workers):
    chunks = [jpeg[offsets[i]:offsets[i + 1]].tobytes() for i in range(count)]
    try:
        import PIL  # noqa: F401
    except ImportError:
        return _decode_tensorflow(chunks)
    if workers <= 1 or count < 2000:
        return _decode_pillow(chunks)
    parts = np.array_split(np.arange(count), workers * 4)
    # spawn, not fork: the caller may already run JAX's threads, which fork can deadlock.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        decoded = pool.map(_decode_pillow, [[chunks[i] for i in p] for p in parts if len(p)])
        return np.concatenate(list(decoded))


def load_cifar10(path=DEFAULT_PATH, *, train_examples=None, test_examples=None, workers=None):
    """Returns ``(x_train, y_train, x_test, y_test, class_names)``, images uint8 [N, 32, 32, 3].

    ``train_examples`` / ``test_examples`` take a prefix (the file's order is shuffled,
    so a prefix is roughly class-balanced).
    """
    if not os.path.isfile(path):
        raise SystemExit(f"CIFAR-10 file not found: {path}; pass --data PATH to cifar10_jpeg.npz")
    workers = workers or min(16, os.cpu_count() or 1)
    with np.load(path) as f:
        out = []
        for split, limit in (("train", train_examples), ("test", test_examples)):
            labels = f[f"{split}_labels"]
            count = len(labels) if limit is None else min(int(limit), len(labels))
            images = _decode(f[f"{split}_jpeg"], f[f"{split}_offsets"], count, workers)
            out += [images, labels[:count].astype("int32")]
        out.append([str(c) for c in f["class_names"]])
    return tuple(out)
