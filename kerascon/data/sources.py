"""Labelled image sources: TFDS, image folders, NumPy arrays, ``.npz`` files.

Every constructor returns a :class:`DataSource` whose ``dataset`` yields single,
unbatched ``(image, label)`` pairs: ``image`` is ``uint8 [H, W, 3]`` (grayscale is
broadcast to RGB, alpha dropped; sizes may vary between examples) and ``label`` is
a scalar ``int32`` in ``[0, num_classes)``. Batching, augmentation and resizing
happen in :mod:`kerascon.data.pipeline`.

Example::

    from kerascon.data import from_image_folder, from_tfds, load_source

    src = from_image_folder("pets/train")            # pets/train/<class>/*.jpg
    src.num_examples, src.num_classes, src.class_names
    for image, label in src.dataset.take(1):
        image.shape, image.dtype                     # (H, W, 3) uint8

    cifar = from_tfds("cifar10", split="test", data_dir="~/tensorflow_datasets")
    digits = load_source("digits", split="train")    # embedded, no download
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import tensorflow as tf

from kerascon._utils.image_ops import to_three_channels
from kerascon.data.data_paths import NPZ_LAYOUTS
from kerascon.data.holdout import HoldOut
from kerascon.data.image_files import (
    DEFAULT_MAX_IMAGE_PIXELS,
    FileProblem,
    ImageFileError,
    decode_file,
    header_keys,
    screen_files,
)
from kerascon.errors import ConfigError, DataError, DataNotFoundError, DataUnavailableError, Setting

__all__ = [
    "DataSource",
    "IMAGE_EXTENSIONS",
    "from_tfds",
    "from_image_folder",
    "from_arrays",
    "from_npz",
]

logger = logging.getLogger("kerascon.data")

#: File extensions read by :func:`from_image_folder` (compared case-insensitively).
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".gif")

# Shuffle buffer used when a source has no cheap per-example keys (e.g. TFDS).
_DEFAULT_SHUFFLE_BUFFER = 10_000


@dataclass(frozen=True, eq=False)
class DataSource:
    """A labelled image dataset plus its metadata.

    Attributes:
        dataset: ``tf.data.Dataset`` of single ``(image uint8 [H, W, 3], label int32)``.
        num_examples: number of examples in ``dataset``.
        num_classes: size of the label space (labels lie in ``[0, num_classes)``).
        class_names: ``num_classes`` human-readable names, index = label.
        name: short description, e.g. ``"cifar10:train"``.
        skipped: paths of unreadable files left out (image folders, ``on_error="skip"``).
        image_shape: ``(H, W, 3)`` when every image has the same size, else ``None``.
        holdout: when the source is one part of a hold-out split (data without splits of
            its own), the :class:`~kerascon.data.holdout.HoldOut` with its held-out keys.
        named_classes: whether ``class_names`` come from the data (class folders, a
            ``class_names`` array, TFDS label names); ``False`` when they are only the
            label indices as strings (arrays or ``.npz`` without names).

    Build one with :func:`from_tfds`, :func:`from_image_folder`, :func:`from_arrays`,
    :func:`from_npz`, :func:`~kerascon.data.load_embedded` or :func:`load_source`.

    Example::

        src = from_arrays(np.zeros([4, 8, 8], np.uint8), [0, 1, 0, 1])
        len(src), src.num_classes, src.image_shape      # 4, 2, (8, 8, 3)
        ds = src.shuffled(seed=0)                       # a new random order per epoch
    """

    dataset: tf.data.Dataset = field(repr=False)
    num_examples: int
    num_classes: int
    class_names: tuple[str, ...]
    name: str
    skipped: tuple[str, ...] = ()
    image_shape: tuple[int, int, int] | None = None
    holdout: HoldOut | None = None
    named_classes: bool = True
    # Optional cheap per-example keys (indices, file paths) and a function mapping a
    # key to (image, label): lets shuffled() shuffle keys before decoding images.
    _keys: tf.data.Dataset | None = field(default=None, repr=False)
    _load: Callable | None = field(default=None, repr=False)

    def __post_init__(self):
        if len(self.class_names) != self.num_classes:
            raise DataError(
                f"class_names has {len(self.class_names)} entries but num_classes is {self.num_classes}"
            )

    def __len__(self) -> int:
        return self.num_examples

    def shuffled(
        self, seed: int | None = None, *, buffer_size: int | None = None, reshuffle_each_iteration: bool = True
    ) -> tf.data.Dataset:
        """``dataset`` in random order (a new order on every iteration/epoch).

        Sources with cheap keys (arrays, ``.npz``, image folders) shuffle all keys
        perfectly before decoding; others (TFDS) use a buffer of
        ``min(num_examples, 10000)`` decoded examples unless ``buffer_size`` is given.
        With an integer ``seed`` the sequence of orders is reproducible.
        """
        if self._keys is not None and self._load is not None:
            keys = self._keys.shuffle(
                buffer_size or max(self.num_examples, 1), seed=seed, reshuffle_each_iteration=reshuffle_each_iteration
            )
            return keys.map(self._load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=seed is not None)
        buffer = buffer_size or max(1, min(self.num_examples, _DEFAULT_SHUFFLE_BUFFER))
        return self.dataset.shuffle(buffer, seed=seed, reshuffle_each_iteration=reshuffle_each_iteration)


# --------------------------------------------------------------------------- helpers


def _to_rgb_uint8(image: tf.Tensor) -> tf.Tensor:
    """uint8 [H, W, C] (C in 1, 3, 4) -> uint8 [H, W, 3]."""
    if image.dtype != tf.uint8:
        image = tf.cast(tf.clip_by_value(tf.round(tf.cast(image, tf.float32)), 0.0, 255.0), tf.uint8)
    return to_three_channels(image)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _cardinality(ds: tf.data.Dataset) -> int:
    n = int(ds.cardinality())
    return n if n >= 0 else -1


def _keyed_source(
    keys: tf.data.Dataset, load: Callable, num_examples: int, **metadata
) -> DataSource:
    dataset = keys.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return DataSource(dataset=dataset, num_examples=num_examples, _keys=keys, _load=load, **metadata)


# --------------------------------------------------------------------------- TFDS


def from_tfds(
    name: str,
    split: str = "train",
    data_dir: str | None = None,
    image_key: str = "image",
    label_key: str = "label",
    *,
    download: bool = True,
) -> DataSource:
    """Load a TensorFlow Datasets split as a :class:`DataSource`.

    Uses ``tfds.builder(name, data_dir=data_dir)``; if the dataset is not prepared
    under ``data_dir`` yet and ``download`` is true, ``download_and_prepare()`` is
    called (this needs internet access for most datasets). A dataset prepared
    elsewhere can be used offline by copying its ``data_dir`` (TFDS reads it from
    files, even without the builder code). Grayscale images are converted to RGB.

    Args:
        name: TFDS name, optionally with config/version (``"cifar10"``, ``"mnist:3.*.*"``).
        split: TFDS split expression (``"train"``, ``"test"``, ``"train[:10%]"``).
        data_dir: TFDS data directory (default: TFDS's own, ``~/tensorflow_datasets``).
        image_key, label_key: feature names of the image and the class label.
        download: allow ``download_and_prepare()`` when the data is not prepared.

    Raises:
        ConfigError: unknown dataset name or feature keys.
        DataUnavailableError: the data is missing and cannot be downloaded/prepared (one
            line saying where to put a prepared copy).

    Example::

        src = from_tfds("cifar10", split="train", data_dir="/data/tfds")
        src.num_examples, src.class_names[:3]     # 50000, ('airplane', 'automobile', 'bird')
    """
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as exc:
        where = data_dir or "the default TFDS data_dir"
        raise ConfigError(
            f"unknown TFDS dataset {name!r}: not a registered TFDS name and no prepared copy in {where} "
            f"({_first_line(exc).splitlines()[0][:200]})"
        ) from None

    if not builder.is_prepared():
        root = str(getattr(builder, "data_dir_root", None) or data_dir or "~/tensorflow_datasets")
        hint = (
            f"build it where there is internet access (`tfds build {builder.name} --data_dir DIR`) and copy "
            f"DIR/{builder.name} into '{root}' (or pass data_dir=DIR); manual downloads go in "
            f"'{os.path.join(root, 'downloads', 'manual')}'"
        )
        if not download:
            raise DataUnavailableError(f"TFDS dataset {name!r} is not prepared in '{root}' and download=False: {hint}")
        try:
            builder.download_and_prepare()
        except Exception as exc:  # noqa: BLE001 - any download/prepare failure gets the same advice
            raise DataUnavailableError(
                f"cannot download/prepare TFDS dataset {name!r} ({_first_line(exc)[:200]}); {hint}"
            ) from exc

    features = builder.info.features
    for key, what in ((image_key, "image_key"), (label_key, "label_key")):
        if key not in features:
            raise ConfigError(
                f"TFDS dataset {name!r} has no feature {key!r} ({what}); available features: "
                f"{', '.join(sorted(features.keys()))}"
            )
    label_feature = features[label_key]
    num_classes = getattr(label_feature, "num_classes", None)
    if not num_classes:
        raise DataError(f"feature {label_key!r} of TFDS dataset {name!r} is not a ClassLabel; pass as "
                        "label_key a ClassLabel feature of the dataset")
    class_names = tuple(str(n) for n in getattr(label_feature, "names", None) or range(num_classes))

    image_shape = None
    shape = getattr(features[image_key], "shape", None)
    if shape is not None and len(shape) == 3 and shape[0] and shape[1]:
        image_shape = (int(shape[0]), int(shape[1]), 3)

    raw = builder.as_dataset(split=split, shuffle_files=False)
    num_examples = _cardinality(raw)
    if num_examples < 0:
        num_examples = int(builder.info.splits[split].num_examples)

    def convert(example):
        return _to_rgb_uint8(example[image_key]), tf.cast(example[label_key], tf.int32)

    dataset = raw.map(convert, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return DataSource(
        dataset=dataset,
        num_examples=num_examples,
        num_classes=int(num_classes),
        class_names=class_names,
        name=f"{name}:{split}",
        image_shape=image_shape,
    )


# --------------------------------------------------------------------------- image folders


def _check_decodable(keys: tuple, load: Callable) -> tuple[list[int], dict[int, tuple[int, int]]]:
    """Decode every file once (in parallel); return indices that failed and shapes of the rest."""
    def probe(i, *key):
        image, _ = load(*key)
        return i, tf.shape(image)[:2]

    probe_ds = (
        tf.data.Dataset.from_tensor_slices((tf.range(len(keys[0]), dtype=tf.int64), *keys))
        .map(probe, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
        .ignore_errors()
    )
    shapes: dict[int, tuple[int, int]] = {}
    for i, hw in probe_ds.as_numpy_iterator():
        shapes[int(i)] = (int(hw[0]), int(hw[1]))
    bad = [i for i in range(len(keys[0])) if i not in shapes]
    return bad, shapes


def _list_image_folder(root: str) -> tuple[list[str], list[str], list[int]]:
    """Class names, image paths and labels of ``root/<class>/...`` (sorted, hidden entries out)."""
    expected = f"expected one subfolder per class with {'/'.join(IMAGE_EXTENSIONS)} images, e.g. '{root}/cat/001.jpg'"
    class_names = sorted(
        entry.name for entry in os.scandir(root) if entry.is_dir() and not entry.name.startswith(".")
    )
    if not class_names:
        raise DataError(f"no class folders in '{root}': {expected}")
    paths: list[str] = []
    labels: list[int] = []
    for label, class_name in enumerate(class_names):
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, class_name), followlinks=True):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in sorted(filenames):
                if not filename.startswith(".") and filename.lower().endswith(IMAGE_EXTENSIONS):
                    paths.append(os.path.join(dirpath, filename))
                    labels.append(label)
    if not paths:
        raise DataError(f"no images found in '{root}' (class folders: {', '.join(class_names[:10])}): {expected}")
    return class_names, paths, labels


def _list_split_folders(root: str, parts) -> tuple[list[str], list[str], list[int]]:
    """Class names, paths and labels of ``root/<part>/<class>/...`` for every part together.

    Every part must hold the same class folders (a ValueError names the first difference).
    """
    class_names, paths, labels = None, [], []
    for part in parts:
        names, part_paths, part_labels = _list_image_folder(os.path.join(root, part))
        if class_names is None:
            class_names, first = names, part
        elif names != class_names:
            differing = sorted(set(names) ^ set(class_names))
            raise DataError(f"the class folders of '{os.path.join(root, first)}' and "
                            f"'{os.path.join(root, part)}' differ ({', '.join(differing[:4])})")
        paths += part_paths
        labels += part_labels
    return class_names, paths, labels


def _refuse(problems: list[FileProblem]) -> ImageFileError:
    first = problems[0]
    more = f" ({len(problems) - 1} more unusable file(s) in the folder)" if len(problems) > 1 else ""
    if first.pixels is not None:
        return ImageFileError(f"image '{first.path}' is too large ({first.reason}); set {{0}} to "
                              f"allow it, or {{1}} to leave it out{more}",
                              Setting("max_pixels", first.pixels), Setting("on_error", "skip"),
                              problem=first, count=len(problems))
    return ImageFileError(f"cannot decode image '{first.path}' ({first.reason}); remove it or set "
                          f"{{0}}{more}", Setting("on_error", "skip"), problem=first,
                          count=len(problems))


def from_image_folder(path, *, on_error: str = "raise", validate: bool = True,
                      max_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS,
                      select: Callable | None = None, name: str | None = None,
                      parts=None) -> DataSource:
    """Images in one subfolder per class: ``path/<class_name>/<image>``.

    Class labels follow the sorted subfolder names. Files ending in ``.jpg``,
    ``.jpeg``, ``.png`` or ``.gif`` (any case) are read, also from nested folders; other
    files and hidden entries are ignored. Grayscale, RGB, RGBA, palette, 16-bit and CMYK
    images of mixed sizes are fine (all become ``uint8 [H, W, 3]``, 16-bit scaled to 8,
    JPEGs turned as their EXIF orientation says, GIFs by their first frame; see
    :mod:`kerascon.data.image_files`). A 1x1 image is accepted.

    Every file's header is read first: an empty file, a file that is no image, or an
    image of more than ``max_pixels`` pixels (``None``: no limit) is found before
    anything is decoded. Then every file is decoded once (``validate=True``), because
    decode errors inside ``tf.data`` do not say which file failed. Unusable files raise
    an :class:`~kerascon.data.image_files.ImageFileError` (a ``ValueError``) naming the
    file and the reason (``on_error="raise"``) or are left out and listed in
    ``source.skipped`` (``on_error="skip"``). ``validate=False`` skips the decoding
    check (faster for huge folders; a corrupt file then fails during training).

    ``select(keys, labels)``, when given, returns the indices of the files to use, from
    their paths relative to ``path`` (``/``-separated) and labels: a subset such as a
    hold-out (:mod:`kerascon.data.holdout`) keeps every class name. ``name`` replaces
    the source's name (default: the folder's name). ``parts`` (e.g. ``("train", "test")``)
    reads ``path/<part>/<class_name>/<image>`` for every part together, as one source: the
    parts must hold the same class folders.

    Raises:
        DataNotFoundError: ``path`` does not exist.
        DataError: no class folders, no images, or an unusable image.

    Example::

        src = from_image_folder("flowers/", on_error="skip")
        src.class_names, src.num_examples, src.skipped
    """
    if on_error not in ("raise", "skip"):
        raise ConfigError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    root = os.path.abspath(os.path.expanduser(os.fspath(path)))
    if not os.path.exists(root):
        raise DataNotFoundError(f"image folder not found: '{root}'")
    if not os.path.isdir(root):
        raise DataError(f"not a directory: '{root}' (expected a folder with one subfolder per class)")
    class_names, paths, labels = (_list_split_folders(root, parts) if parts
                                  else _list_image_folder(root))
    if select is not None:
        keys = [os.path.relpath(p, root).replace(os.sep, "/") for p in paths]
        chosen = list(select(keys, labels))
        paths = [paths[i] for i in chosen]
        labels = [labels[i] for i in chosen]
        if not paths:
            raise DataError(f"no images of '{root}' were selected")

    problems_by_index, headers = screen_files(paths, max_pixels)
    orientations, sixteen = header_keys(headers, range(len(paths)))
    any_oriented, any_sixteen = any(o != 1 for o in orientations), any(sixteen)

    def load(file_path, orientation, sixteen_bit, label):
        return decode_file(file_path, orientation, sixteen_bit, any_oriented=any_oriented,
                           any_sixteen_bit=any_sixteen), label

    keys = (paths, orientations, sixteen, labels)
    image_shape = None
    if validate:
        usable = [i for i in range(len(paths)) if i not in problems_by_index]
        probe_keys = tuple(
            tf.constant([column[i] for i in usable], dtype=dtype) if usable else tf.constant([], dtype)
            for column, dtype in zip(keys, (tf.string, tf.int32, tf.bool, tf.int32)))
        bad, shapes = _check_decodable(probe_keys, load) if usable else ([], {})
        for j in bad:
            problems_by_index[usable[j]] = FileProblem(paths[usable[j]], "corrupt or not an image")
        distinct = set(shapes.values())
        if len(distinct) == 1:
            image_shape = (*distinct.pop(), 3)
    skipped: tuple[str, ...] = ()
    if problems_by_index:
        problems = [problems_by_index[i] for i in sorted(problems_by_index)]
        if on_error == "raise":
            raise _refuse(problems)
        logger.warning("skipped %d unusable image(s) in '%s', e.g. '%s' (%s)", len(problems), root,
                       problems[0].path, problems[0].reason)
        keys = tuple([value for i, value in enumerate(column) if i not in problems_by_index] for column in keys)
        skipped = tuple(problem.path for problem in problems)
        if not keys[0]:
            raise ImageFileError(f"no usable images in '{root}': all {len(problems)} files were left out, "
                                 f"e.g. '{problems[0].path}' ({problems[0].reason})",
                                 problem=problems[0], count=len(problems))

    key_ds = tf.data.Dataset.from_tensor_slices((
        tf.constant(keys[0]), tf.constant(keys[1], tf.int32), tf.constant(keys[2], tf.bool),
        tf.constant(keys[3], tf.int32)))
    return _keyed_source(
        key_ds,
        load,
        len(keys[0]),
        num_classes=len(class_names),
        class_names=tuple(class_names),
        name=name or os.path.basename(root) or root,
        skipped=skipped,
        image_shape=image_shape,
    )


# --------------------------------------------------------------------------- arrays and .npz


def _images_to_uint8(images) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
        raise DataError(f"images must have shape [N, H, W] or [N, H, W, 1|3|4], got {list(images.shape)}")
    if images.shape[-1] == 4:
        images = images[..., :3]
    if images.dtype == np.uint8:
        return images
    if images.dtype == np.bool_ or not (
        np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)
    ):
        raise DataError(f"images must be uint8, integer or float arrays with values in [0, 255], got {images.dtype}")
    if images.size:
        lo, hi = float(np.min(images)), float(np.max(images))
        if np.issubdtype(images.dtype, np.floating) and not np.isfinite(images).all():
            raise DataError("images contain NaN or infinite values; replace or drop those images")
        if lo < 0 or hi > 255:
            raise DataError(f"image values must lie in [0, 255], got range [{lo:g}, {hi:g}]")
        if np.issubdtype(images.dtype, np.floating) and 0 < hi <= 1.0:
            raise DataError(
                f"float images look scaled to [0, 1] (max {hi:g}); pass values in [0, 255] (multiply by 255) "
                "- the model normalises inputs itself"
            )
    return np.round(images).astype(np.uint8) if np.issubdtype(images.dtype, np.floating) else images.astype(np.uint8)


def _labels_to_int(labels, n: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise DataError(f"labels must be a 1-D array of class indices, got shape {list(labels.shape)}")
    if len(labels) != n:
        raise DataError(f"images and labels differ in length: {n} images vs {len(labels)} labels; "
                        "pass one label per image")
    if np.issubdtype(labels.dtype, np.floating):
        if labels.size and not np.all(np.equal(np.mod(labels, 1), 0)):
            bad = labels[np.flatnonzero(np.mod(labels, 1) != 0)[0]]
            raise DataError(f"labels must be integer class indices, got {bad!r}")
    elif not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"labels must be integer class indices, got dtype {labels.dtype}")
    return labels.astype(np.int64)


def from_arrays(
    images,
    labels,
    *,
    class_names=None,
    num_classes: int | None = None,
    name: str = "arrays",
) -> DataSource:
    """In-memory images and integer labels as a :class:`DataSource`.

    Args:
        images: ``[N, H, W]`` or ``[N, H, W, 1|3|4]`` array, ``uint8`` or integer/float
            with values in ``[0, 255]`` (float data in ``[0, 1]`` is rejected).
        labels: ``[N]`` integer class indices in ``[0, num_classes)``.
        class_names: optional names; default ``"0" .. str(num_classes - 1)`` (the source's
            ``named_classes`` is then ``False``).
        num_classes: default ``len(class_names)`` or ``max(labels) + 1``.
        name: description used in messages.

    Raises:
        ValueError: empty data, mismatched lengths, bad shapes/values, labels out of range.

    Example::

        src = from_arrays(x_train, y_train, class_names=["cat", "dog"])
    """
    images = _images_to_uint8(images)
    n = int(images.shape[0])
    if n == 0:
        raise DataError(f"empty dataset: {name!r} has no images")
    labels = _labels_to_int(labels, n)
    named_classes = class_names is not None
    if class_names is not None:
        class_names = tuple(str(c) for c in np.asarray(class_names).reshape(-1).tolist())
    if num_classes is None:
        num_classes = len(class_names) if class_names is not None else int(labels.max()) + 1
    num_classes = int(num_classes)
    if num_classes < 1:
        raise ConfigError(f"num_classes must be >= 1, got {num_classes}")
    if class_names is None:
        class_names = tuple(str(i) for i in range(num_classes))
    elif len(class_names) != num_classes:
        raise ConfigError(f"{len(class_names)} class_names given but num_classes is {num_classes}")
    out_of_range = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if out_of_range.size:
        i = int(out_of_range[0])
        raise DataError(
            f"label {int(labels[i])} (index {i}) is out of range [0, {num_classes}); "
            f"{out_of_range.size} label(s) out of range"
        )

    images_t = tf.constant(images)
    labels_t = tf.constant(labels.astype(np.int32))

    def load(i):
        return _to_rgb_uint8(tf.gather(images_t, i)), tf.gather(labels_t, i)

    return _keyed_source(
        tf.data.Dataset.range(n),
        load,
        n,
        num_classes=num_classes,
        class_names=class_names,
        name=name,
        image_shape=(int(images.shape[1]), int(images.shape[2]), 3),
        named_classes=named_classes,
    )


def npz_split_arrays(keys) -> dict:
    """``{split: (images key, labels key)}`` of a file in the ``x_<split>``/``y_<split>`` layout.

    Example:
        >>> npz_split_arrays(["x_train", "y_train", "x_test", "y_test"])
        {'train': ('x_train', 'y_train'), 'test': ('x_test', 'y_test')}
    """
    keys = list(keys)
    return {key[2:]: (key, "y_" + key[2:]) for key in keys
            if key.startswith("x_") and len(key) > 2 and "y_" + key[2:] in keys}


def _split_pairs(arrays: dict, split, file_path: str):
    """``(images, labels, labels of every split)`` of the ``x_<split>``/``y_<split>`` layout."""
    pairs = npz_split_arrays(arrays)
    every = np.concatenate([np.asarray(arrays[y]).reshape(-1) for _, y in pairs.values()])
    if split is None:
        return (np.concatenate([arrays[x] for x, _ in pairs.values()]), every, every)
    if split not in pairs:
        raise DataError(f"'{file_path}' has no split {split!r} (no 'x_{split}' and 'y_{split}' "
                        f"arrays); available splits: {', '.join(pairs)}")
    images_key, labels_key = pairs[split]
    return arrays[images_key], np.asarray(arrays[labels_key]).reshape(-1), every


def from_npz(path, *, split: str | None = None, name: str | None = None,
             select: Callable | None = None) -> DataSource:
    """A ``.npz`` file with ``images`` (or ``x``) and ``labels`` (or ``y``) arrays.

    Optional keys: ``class_names`` (strings) and per-split index arrays
    ``<split>_idx`` (e.g. ``train_idx``/``test_idx``). With ``split=None`` all
    examples are used; with a split name the file must hold ``<split>_idx``.
    A file with one pair of arrays per split instead, ``x_train``/``y_train`` and
    ``x_test``/``y_test`` (any ``x_<split>``/``y_<split>``), reads the split's pair
    (``split=None``: all of them).
    ``select(keys, labels)``, when given, returns the indices of the examples to use
    (keys are the examples' indices in the file, as strings): a subset such as a
    hold-out (:mod:`kerascon.data.holdout`). The file is read with
    ``np.load(allow_pickle=False)``.

    Example::

        np.savez_compressed("data.npz", images=x, labels=y, class_names=["a", "b"])
        src = from_npz("data.npz")
    """
    file_path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    if not os.path.exists(file_path):
        raise DataNotFoundError(f".npz file not found: '{file_path}'")
    try:
        with np.load(file_path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"cannot read .npz file '{file_path}' ({_first_line(exc)[:200]})") from None

    def pick(*keys):
        for key in keys:
            if key in arrays:
                return arrays[key]
        raise DataError(
            f"'{file_path}' has no {' or '.join(repr(k) for k in keys)} array; keys found: "
            f"{', '.join(sorted(arrays)) or 'none'}; a .npz holds {NPZ_LAYOUTS}"
        )

    class_names = arrays.get("class_names")
    stem = name or os.path.splitext(os.path.basename(file_path))[0]
    paired = "images" not in arrays and "x" not in arrays and bool(npz_split_arrays(arrays))
    if paired:  # x_<split>/y_<split>: the pair is the split
        images, labels, all_labels = _split_pairs(arrays, split, file_path)
        if split is not None:
            stem = f"{stem}:{split}"
    else:
        images = pick("images", "x")
        labels = all_labels = pick("labels", "y")
    if split is not None and not paired:
        key = f"{split}_idx"
        if key not in arrays:
            available = sorted(k[: -len("_idx")] for k in arrays if k.endswith("_idx"))
            raise DataError(
                f"'{file_path}' has no split {split!r} (no {key!r} array); "
                + (f"available splits: {', '.join(available)}" if available else "use split=None for all examples")
            )
        index = np.asarray(arrays[key]).astype(np.int64)
        if len(images) != len(labels):
            raise DataError(f"images and labels differ in length: {len(images)} images vs {len(labels)} labels; "
                            "pass one label per image")
        if index.size and (index.min() < 0 or index.max() >= len(labels)):
            raise DataError(f"'{key}' in '{file_path}' holds indices outside [0, {len(labels)}); "
                            "store indices into the labels array")
        images, labels = images[index], labels[index]
        stem = f"{stem}:{split}"
    if select is not None:
        label_array = np.asarray(labels)
        if len(images) != len(label_array):
            raise DataError(f"images and labels differ in length: {len(images)} images vs {len(label_array)} labels; "
                            "pass one label per image")
        index = np.asarray(list(select([str(i) for i in range(len(label_array))], label_array.reshape(-1).tolist())),
                           dtype=np.int64)
        images, labels = images[index], label_array[index]
    num_classes = len(class_names) if class_names is not None else None
    if num_classes is None and np.size(all_labels) and np.issubdtype(np.asarray(all_labels).dtype, np.number):
        num_classes = int(np.max(all_labels)) + 1  # from all splits, so train/test agree
    return from_arrays(images, labels, class_names=class_names, num_classes=num_classes, name=stem)
