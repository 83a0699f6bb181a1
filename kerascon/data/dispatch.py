"""One place that turns a data string into a :class:`~kerascon.data.sources.DataSource`.

``load_source`` is what notebooks, training runs and evaluations call alike: an embedded
dataset name, an image folder, a ``.npz`` file or a TFDS name. Its errors say what is wrong
with the data and which setting fixes it (see :mod:`kerascon.errors`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import socket
import sys
import threading

import numpy as np

from kerascon.data.data_paths import DATA_PATH, TFDS_NAME, WHAT_DATA, check_data_path, looks_like_path
from kerascon.data.embedded import EMBEDDED_DATASETS, load_embedded
from kerascon.data.holdout import HOLDOUT_SPLITS, TRAIN_SPLIT, HoldOut
from kerascon.data.image_files import DEFAULT_MAX_IMAGE_PIXELS, ImageFileError
from kerascon.data.sources import DataSource, from_image_folder, from_npz, from_tfds, npz_split_arrays
from kerascon.data.splits import normalize_split
from kerascon.errors import DataError, Placeholder, Setting

__all__ = ["has_evaluation_split", "load_source", "split_folders"]

logger = logging.getLogger("kerascon.data")


def _visible_entries(folder: str):
    return [entry for entry in os.scandir(folder) if not entry.name.startswith(".")]


def _missing_split(root: str, split: str, setting: str) -> DataError:
    """The error for ``root/<split>/`` missing, with the layouts that would work."""
    where = f"image folder '{root}' has no '{split}/' subfolder for {{0}}"
    if setting == "eval_split":
        return DataError(f"{where}; set {{1}} to skip the final evaluation, or add held-out "
                         f"images in '{root}/{split}/<class>/'",
                         Setting(setting, split), Setting("eval_split", None))
    subfolders = sorted(entry.name for entry in _visible_entries(root) if entry.is_dir())
    if subfolders:
        shown = ", ".join(subfolders[:4]) + (", ..." if len(subfolders) > 4 else "")
        return DataError(f"{where}; if its subfolders ({shown}) are the classes, set {{1}} (and "
                         f"{{2}}), or arrange it as '{root}/train/<class>/' and "
                         f"'{root}/test/<class>/'",
                         Setting(setting, split), Setting("split", None),
                         Setting("eval_split", None))
    return DataError(f"{where}; arrange it as '{root}/train/<class>/' and '{root}/test/<class>/', "
                     f"or as '{root}/<class>/' with {{1}}", Setting(setting, split),
                     Setting("split", None))


def _is_flat(root: str) -> bool:
    """A folder of class subfolders: none named train, test or val."""
    return not any(os.path.isdir(os.path.join(root, name)) for name in (TRAIN_SPLIT, *HOLDOUT_SPLITS))


def split_folders(spec) -> tuple[str, ...]:
    """The split subfolders (``train``, ``test``, ``val``) of an image folder, in that order;
    empty for a flat folder or data that is no folder."""
    root = os.path.expanduser(str(spec or "").strip())
    if not root or not os.path.isdir(root):
        return ()
    return tuple(name for name in (TRAIN_SPLIT, *HOLDOUT_SPLITS)
                 if os.path.isdir(os.path.join(root, name)))


def has_evaluation_split(spec) -> bool:
    """Whether the data has an evaluation split of its own (``test`` or ``val``).

    An image folder with ``test/`` or ``val/``, a ``.npz`` file with ``test_idx`` or
    ``val_idx``, and named datasets (embedded, TFDS) have one; a flat class folder and a
    ``.npz`` file without split arrays have none: evaluated as a whole, it is all of it.

    Example:
        >>> has_evaluation_split("embedded:digits")
        True
    """
    text = str(spec or "").strip()
    expanded = os.path.expanduser(text)
    if os.path.isdir(expanded):
        return any(name in HOLDOUT_SPLITS for name in split_folders(expanded))
    if text.lower().endswith(".npz") and os.path.isfile(expanded):
        names = _npz_split_names(expanded)
        return bool(names) and any(name in HOLDOUT_SPLITS for name in names)
    return True


def _holdout_select(where: str, split: str, holdout: HoldOut, drawn: dict):
    """A ``select(keys, labels)`` that keeps the training or the held-out part of the keys."""
    want_held_out = split in HOLDOUT_SPLITS

    def select(keys, labels):
        held = holdout.held_out_keys(keys, labels)
        drawn["held_out"] = held
        chosen = [i for i, key in enumerate(keys) if (key in held) == want_held_out]
        if want_held_out and holdout.held_out is None:
            names = {int(label): key.split("/")[0] if "/" in key else str(label)
                     for key, label in zip(keys, labels)}
            drawn["too_small"] = [names[label] for label in holdout.too_small(labels)]
        if want_held_out and not chosen:
            counts = {}
            for label in labels:
                counts[label] = counts.get(label, 0) + 1
            need = math.ceil(0.5 / holdout.fraction)
            raise DataError(f"{where} has too few examples per class to hold out {holdout.percent} of "
                            f"them for evaluation (largest class: {max(counts.values(), default=0)}; one "
                            f"is held out from {need}); set {{0}} higher, or {{1}} to skip the evaluation",
                            Setting("val_fraction"), Setting("eval_split", None))
        return chosen
    return select


def _log_holdout(where: str, split: str, holdout: HoldOut, drawn: dict):
    """Say what the layout detection did: INFO for the split, WARNING for classes left out."""
    if split == TRAIN_SPLIT:
        logger.info("%s has no %s/ and %s/ splits: training on %s of every class, holding out %s "
                    "(seed %d) for evaluation", where, TRAIN_SPLIT, HOLDOUT_SPLITS[0],
                    holdout.train_percent, holdout.percent, holdout.seed)
    small = drawn.get("too_small")
    if small:
        logger.warning("%d class(es) of %s have too few examples to hold out %s (%s); all their "
                       "examples are used for training and none for evaluation", len(small),
                       where, holdout.percent, ", ".join(repr(n) for n in small[:5]))


def _class_folders(folder: str) -> list[str]:
    return sorted(entry.name for entry in _visible_entries(folder) if entry.is_dir())


def _check_same_classes(root: str, parts) -> None:
    """Splits read together must name the same classes (one line naming the difference)."""
    first = _class_folders(os.path.join(root, parts[0]))
    for part in parts[1:]:
        other = _class_folders(os.path.join(root, part))
        if other != first:
            differing = sorted(set(first) ^ set(other))
            raise DataError(f"{{0}} reads all of '{root}' ({', '.join(p + '/' for p in parts)} "
                            f"together), but the class folders of {parts[0]}/ and {part}/ differ "
                            f"({', '.join(differing[:4])}); give them the same class folders, or "
                            "pick one split with {1}", Setting("split", None),
                            Setting("split", parts[0]))


def _image_folder(root: str, split, setting: str, skip_corrupt: bool, holdout: HoldOut | None,
                  max_pixels) -> DataSource:
    root = os.path.abspath(root)
    if not _visible_entries(root):
        raise DataError(f"image folder '{root}' is empty; put images in '{root}/train/<class>/' "
                        f"and '{root}/test/<class>/', or in '{root}/<class>/' with {{0}} {{1}}",
                        Setting("split", None), Setting("eval_split", None))
    folder, select, name, drawn, parts = root, None, None, {}, None
    if split is None and not _is_flat(root):  # all images of train/, test/ (and val/) together
        parts = split_folders(root)
        name = f"{os.path.basename(root) or root}:{'+'.join(parts)}"
        _check_same_classes(root, parts)
    if split is not None:
        folder = os.path.join(root, split)
        if not os.path.isdir(folder):
            val = os.path.join(root, HOLDOUT_SPLITS[1])
            if split == HOLDOUT_SPLITS[0] and os.path.isdir(val):
                logger.info("'%s' has no %s/ subfolder: using %s/ for %s", root, split, HOLDOUT_SPLITS[1],
                            split)
                folder = val
            elif split in (TRAIN_SPLIT, *HOLDOUT_SPLITS) and _is_flat(root):
                holdout = holdout or HoldOut()
                folder = root
                part = holdout.train_percent if split == TRAIN_SPLIT else holdout.percent
                name = f"{os.path.basename(root) or root}:{split}({part})"
                select = _holdout_select(f"image folder '{root}'", split, holdout, drawn)
            else:
                raise _missing_split(root, split, setting)
    # Unusable files are reported below, not by the data module's logger.
    data_logger = logging.getLogger("kerascon.data")
    level = data_logger.level
    data_logger.setLevel(logging.ERROR)
    try:
        source = from_image_folder(folder, on_error="skip" if skip_corrupt else "raise",
                                   max_pixels=max_pixels, select=select, name=name, parts=parts)
    except ImageFileError as error:
        problem = error.problem
        if problem is None or skip_corrupt:
            raise
        more = f" ({error.count - 1} more unusable file(s) in the folder)" if error.count > 1 else ""
        if problem.pixels is not None:
            raise DataError(f"image '{problem.path}' is too large ({problem.reason}); set {{0}} to "
                            f"allow it, or {{1}} to leave it out{more}",
                            Setting("max_image_pixels", problem.pixels),
                            Setting("skip_corrupt", True)) from None
        raise DataError(f"cannot decode image '{problem.path}' ({problem.reason}); delete it, or set "
                        f"{{0}} to leave unreadable images out{more}",
                        Setting("skip_corrupt", True)) from None
    finally:
        data_logger.setLevel(level)
    if select is not None:
        source = dataclasses.replace(source, holdout=holdout.recorded(drawn["held_out"]))
        _log_holdout(f"'{root}'", split, holdout, drawn)
    return source


def _npz_split_names(path: str):
    """The ``<split>_idx`` names of a .npz file (None if it cannot be read: from_npz says why)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return ([key[:-len("_idx")] for key in data.files if key.endswith("_idx")]
                    + list(npz_split_arrays(data.files)))
    except Exception:  # noqa: BLE001 - from_npz reports unreadable files
        return None


def _npz(path: str, split, holdout: HoldOut | None) -> DataSource:
    names = _npz_split_names(path)
    if split is None or names is None or split in names:
        return from_npz(path, split=split)
    if split == HOLDOUT_SPLITS[0] and HOLDOUT_SPLITS[1] in names:
        logger.info("'%s' has no %s_idx: using %s_idx for %s", path, split, HOLDOUT_SPLITS[1], split)
        return from_npz(path, split=HOLDOUT_SPLITS[1])
    if names or split not in (TRAIN_SPLIT, *HOLDOUT_SPLITS):
        return from_npz(path, split=split)  # its error lists the splits there are
    holdout = holdout or HoldOut()
    drawn = {}
    part = holdout.train_percent if split == TRAIN_SPLIT else holdout.percent
    stem = os.path.splitext(os.path.basename(path))[0]
    source = from_npz(path, name=f"{stem}:{split}({part})",
                      select=_holdout_select(f"'{path}'", split, holdout, drawn))
    source = dataclasses.replace(source, holdout=holdout.recorded(drawn["held_out"]))
    _log_holdout(f"'{path}'", split, holdout, drawn)
    return source


def _online(host: str = "storage.googleapis.com", port: int = 443, timeout: float = 3.0) -> bool:
    """Whether the internet looks reachable, answered within ``timeout`` seconds.

    Name resolution can block far longer than a socket timeout, so the probe runs in a
    daemon thread that is simply abandoned when it takes too long.
    """
    result = []

    def probe():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def _tfds_source(name: str, split: str, data_dir) -> DataSource:
    """A TFDS split; fails fast, with the alternatives, when it is not prepared and offline."""
    import tensorflow_datasets as tfds

    absl_logger = logging.getLogger("absl")  # TFDS warns about folders it looks into
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)
    try:
        builder = tfds.builder(name, data_dir=data_dir)
        prepared = builder.is_prepared()
    except tfds.core.registered.DatasetNotFoundError:
        where = f" in data_dir {data_dir}" if data_dir else ""
        raise DataError(f"{name!r} is neither an existing file or folder nor a TFDS dataset "
                        f"(registered or prepared{where}); pass {WHAT_DATA}",
                        DATA_PATH, TFDS_NAME) from None
    finally:
        absl_logger.setLevel(level)
    if prepared:
        return from_tfds(name, split=split, data_dir=data_dir, download=False)
    root = str(getattr(builder, "data_dir_root", None) or data_dir or "~/tensorflow_datasets")
    fix = (f"set {{0}} to a copy prepared elsewhere (`tfds build {name} --data_dir DIR`), or "
           "{1} to an image folder or .npz file instead")
    hints = (Setting("data_dir", Placeholder("DIR")), DATA_PATH)
    if not _online():
        raise DataError(f"TFDS dataset {name!r} is not prepared in '{root}' and cannot be "
                        f"downloaded (no network); {fix}", *hints)
    try:
        # TFDS prints its download messages on stdout, which a JSON front end keeps clean.
        with contextlib.redirect_stdout(sys.stderr):
            return from_tfds(name, split=split, data_dir=data_dir, download=True)
    except RuntimeError as error:
        cause = error.__cause__
        detail = str(cause).strip().splitlines()[0][:200] if cause and str(cause).strip() else ""
        detail = f" ({type(cause).__name__}: {detail})" if detail else ""
        raise DataError(f"cannot download and prepare TFDS dataset {name!r} into "
                        f"'{root}'{detail}; {fix}", *hints) from error


def load_source(spec, split=None, data_dir=None, *, skip_corrupt: bool = False,
                setting: str = "split", holdout: HoldOut | None = None,
                max_image_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS) -> DataSource:
    """Open a data source from a string.

    * ``"digits"`` / ``"embedded:<name>"``: an embedded dataset (no download);
    * an existing directory: an image folder, in one of three layouts:

      - ``<spec>/<split>/<class>/`` (e.g. ``train/`` and ``test/``); a missing ``test/``
        falls back to ``val/``;
      - ``<spec>/<class>/`` with no ``train/``, ``test/`` or ``val/`` subfolder: split
        ``"train"`` is the training part of a seeded, stratified hold-out
        (:mod:`kerascon.data.holdout`, ``holdout``, default 10% of every class, seed 0)
        and ``"test"`` or ``"val"`` its held-out part; the source's name says so
        (``flowers:train(90%)``, ``flowers:test(10%)``), its ``holdout`` lists the
        held-out files, and a log line (``kerascon.data``, INFO) reports it;
      - with ``split=None``, ``"none"`` or ``""``: all images: ``<spec>/<class>/`` as a
        whole, or, in the first layout, every split folder together (``train/``, ``test/``
        and ``val/``, which must hold the same class folders; the source's name says so,
        ``pets:train+test``);
    * embedded and TFDS datasets read their ``"train"`` split when ``split`` is None;
    * a path ending in ``.npz``: arrays (:func:`~kerascon.data.sources.from_npz`); a file
      without any ``<split>_idx`` array is held out like a flat folder (keys: indices);
    * anything else: a TFDS dataset in ``data_dir``. When it is not prepared there and
      there is no network, the error comes at once instead of TFDS's download retries.

    An unusable image (corrupt, empty, not an image, more than ``max_image_pixels``
    pixels by its header: refused before decoding) is an error naming the file, unless
    ``skip_corrupt`` (the source then lists the files left out in ``skipped``).
    ``setting`` names the setting that chose ``split`` (``"split"`` or ``"eval_split"``),
    for the advice in errors.

    Example:
        >>> load_source("embedded:digits", split="test").num_examples
        359
        >>> # load_source("/data/pets", split="train")     # /data/pets/train/<class>/...
        >>> # load_source("cifar10", split="test", data_dir="/data/tfds")
    """
    if not (str(spec).strip().lower() in EMBEDDED_DATASETS
            and not os.path.exists(os.path.expanduser(str(spec).strip()))):
        check_data_path(spec)  # no data, a missing path, a file of another kind
    spec = str(spec).strip()
    split = normalize_split(split)
    expanded = os.path.expanduser(spec)
    lowered = spec.lower()
    if os.path.isdir(expanded):
        return _image_folder(expanded, split, setting, skip_corrupt, holdout, max_image_pixels)
    if lowered.startswith("embedded:"):
        return load_embedded(spec.split(":", 1)[1], split=split or "train")
    if lowered in EMBEDDED_DATASETS and not os.path.exists(expanded):
        return load_embedded(lowered, split=split or "train")
    if looks_like_path(spec):
        return _npz(expanded, split, holdout)
    return _tfds_source(spec, split or "train", data_dir)
