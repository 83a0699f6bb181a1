"""Data sources and ``tf.data`` pipelines for kerascon.

Sources (:mod:`kerascon.data.sources`, :mod:`kerascon.data.embedded`) yield single
``(uint8 [H, W, 3], int32)`` examples; :func:`load_source` (:mod:`kerascon.data.dispatch`)
opens any of them from a string; pipelines (:mod:`kerascon.data.pipeline`) turn them into
augmented float32 batches in ``[0, 255]``. Names load on first use (PEP 562), so
``kerascon.data.splits`` and friends import without TensorFlow.

Example:
    >>> from kerascon.data import load_source, multiview_dataset, single_view_dataset
    >>> train_src = load_source("digits", split="train")       # embedded, no download
    >>> train = multiview_dataset(train_src, views=2, batch_size=128, image_size=32,
    ...                           augment="simclr", crop_scale=(0.2, 1.0), seed=0)
    >>> test = single_view_dataset(load_source("digits", split="test"),
    ...                            batch_size=256, image_size=32)
"""

from kerascon._utils.lazy_exports import lazy_exports

_EXPORTS = {
    "DataSource": "kerascon.data.sources",
    "IMAGE_EXTENSIONS": "kerascon.data.sources",
    "from_arrays": "kerascon.data.sources",
    "from_image_folder": "kerascon.data.sources",
    "from_npz": "kerascon.data.sources",
    "from_tfds": "kerascon.data.sources",
    "HoldOut": "kerascon.data.holdout",
    "EMBEDDED_DATASETS": "kerascon.data.embedded",
    "load_embedded": "kerascon.data.embedded",
    "load_source": "kerascon.data.dispatch",
    "normalize_split": "kerascon.data.splits",
    "multiview_dataset": "kerascon.data.pipeline",
    "single_view_dataset": "kerascon.data.pipeline",
    "batches_per_epoch": "kerascon.data.pipeline",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
