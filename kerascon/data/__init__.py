"""Data sources and ``tf.data`` pipelines for kerascon.

Sources (:mod:`kerascon.data.sources`, :mod:`kerascon.data.embedded`) yield single
``(uint8 [H, W, 3], int32)`` examples; pipelines (:mod:`kerascon.data.pipeline`)
turn them into augmented float32 batches in ``[0, 255]``.

Example::

    from kerascon.data import load_source, multiview_dataset, single_view_dataset

    train_src = load_source("digits", split="train")       # embedded, no download
    train = multiview_dataset(train_src, views=2, batch_size=128, image_size=32,
                              augment="simclr", crop_scale=(0.2, 1.0), seed=0)
    test = single_view_dataset(load_source("digits", split="test"),
                               batch_size=256, image_size=32)
"""

from kerascon.data.embedded import EMBEDDED_DATASETS, load_embedded
from kerascon.data.pipeline import multiview_dataset, single_view_dataset
from kerascon.data.sources import (
    IMAGE_EXTENSIONS,
    DataSource,
    from_arrays,
    from_image_folder,
    from_npz,
    from_tfds,
    load_source,
)

__all__ = [
    "DataSource",
    "EMBEDDED_DATASETS",
    "IMAGE_EXTENSIONS",
    "from_arrays",
    "from_image_folder",
    "from_npz",
    "from_tfds",
    "load_embedded",
    "load_source",
    "multiview_dataset",
    "single_view_dataset",
]
