"""One place that turns a data string into a :class:`~kerascon.data.sources.DataSource`.

``load_source`` is what notebooks, training runs and evaluations call alike: an embedded
dataset name, an image folder, a ``.npz`` file or a TFDS name. Its errors say what is wrong
with the data and which setting fixes it (see :mod:`kerascon.errors`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import threading

from kerascon.data.embedded import EMBEDDED_DATASETS, load_embedded
from kerascon.data.sources import DataSource, from_image_folder, from_npz, from_tfds
from kerascon.data.splits import normalize_split
from kerascon.errors import DataError, DataNotFoundError, Placeholder, Setting

__all__ = ["load_source"]

_PATH = Setting("data", Placeholder("PATH"))
_TFDS_NAME = Setting("data", Placeholder("NAME"))
_WHAT_DATA = ("{0} (an image folder with one subfolder per class, or a .npz file) or {1} (a TFDS "
              "dataset such as cifar10)")


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


def _image_folder(root: str, split, setting: str, skip_corrupt: bool) -> DataSource:
    root = os.path.abspath(root)
    if not _visible_entries(root):
        raise DataError(f"image folder '{root}' is empty; put images in '{root}/train/<class>/' "
                        f"and '{root}/test/<class>/', or in '{root}/<class>/' with {{0}} {{1}}",
                        Setting("split", None), Setting("eval_split", None))
    folder = root
    if split is not None:
        folder = os.path.join(root, split)
        if not os.path.isdir(folder):
            raise _missing_split(root, split, setting)
    # Unreadable files are found here and reported below, not by the data module's logger.
    data_logger = logging.getLogger("kerascon.data")
    level = data_logger.level
    data_logger.setLevel(logging.ERROR)
    try:
        source = from_image_folder(folder, on_error="skip")
    finally:
        data_logger.setLevel(level)
    if source.skipped and not skip_corrupt:
        more = (f" ({len(source.skipped) - 1} more unreadable file(s) in the folder)"
                if len(source.skipped) > 1 else "")
        raise DataError(f"cannot decode image '{source.skipped[0]}' (corrupt or not an image); "
                        f"delete it, or set {{0}} to leave unreadable images out{more}",
                        Setting("skip_corrupt", True))
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
                        f"(registered or prepared{where}); pass {_WHAT_DATA}",
                        _PATH, _TFDS_NAME) from None
    finally:
        absl_logger.setLevel(level)
    if prepared:
        return from_tfds(name, split=split, data_dir=data_dir, download=False)
    root = str(getattr(builder, "data_dir_root", None) or data_dir or "~/tensorflow_datasets")
    fix = (f"set {{0}} to a copy prepared elsewhere (`tfds build {name} --data_dir DIR`), or "
           "{1} to an image folder or .npz file instead")
    hints = (Setting("data_dir", Placeholder("DIR")), _PATH)
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
                setting: str = "split") -> DataSource:
    """Open a data source from a string.

    * ``"digits"`` / ``"embedded:<name>"``: an embedded dataset (no download);
    * an existing directory: an image folder, read as ``<spec>/<split>/<class>/`` (with
      ``split=None``, ``"none"`` or ``""``: ``<spec>/<class>/``);
    * embedded and TFDS datasets read their ``"train"`` split when ``split`` is None;
    * a path ending in ``.npz``: arrays (:func:`~kerascon.data.sources.from_npz`);
    * anything else: a TFDS dataset in ``data_dir``. When it is not prepared there and
      there is no network, the error comes at once instead of TFDS's download retries.

    A corrupt image is an error naming the file, unless ``skip_corrupt`` (the source then
    lists the files left out in ``skipped``). ``setting`` names the setting that chose
    ``split`` (``"split"`` or ``"eval_split"``), for the advice in errors.

    Example:
        >>> load_source("embedded:digits", split="test").num_examples
        359
        >>> # load_source("/data/pets", split="train")     # /data/pets/train/<class>/...
        >>> # load_source("cifar10", split="test", data_dir="/data/tfds")
    """
    if spec is None or not str(spec).strip():
        raise DataError(f"no data given; pass {_WHAT_DATA}", _PATH, _TFDS_NAME)
    spec = str(spec).strip()
    split = normalize_split(split)
    expanded = os.path.expanduser(spec)
    lowered = spec.lower()
    if os.path.isdir(expanded):
        return _image_folder(expanded, split, setting, skip_corrupt)
    if lowered.startswith("embedded:"):
        return load_embedded(spec.split(":", 1)[1], split=split or "train")
    if lowered in EMBEDDED_DATASETS and not os.path.exists(expanded):
        return load_embedded(lowered, split=split or "train")
    if os.path.exists(expanded) and not lowered.endswith(".npz"):
        raise DataError(f"data file '{os.path.abspath(expanded)}' is neither an image folder nor "
                        f"a .npz file; pass {_WHAT_DATA}", _PATH, _TFDS_NAME)
    if lowered.endswith(".npz") or spec.startswith(("/", "./", "../", "~", ".\\", "..\\")) \
            or os.path.isabs(spec):
        if not os.path.exists(expanded):
            raise DataNotFoundError(f"data path '{os.path.abspath(expanded)}' does not exist; "
                                    "check {0}, which takes an image folder (one subfolder per "
                                    "class) or a .npz file", Setting("data"))
        return from_npz(expanded, split=split)
    return _tfds_source(spec, split or "train", data_dir)
