"""The checks of a data string that need no TensorFlow: no data, a missing path, a file
that is neither an image folder nor a ``.npz``.

:func:`kerascon.data.dispatch.load_source` runs them first; the command line runs them
before it loads TensorFlow, so a wrong path is refused at once.

Example:
    >>> check_data_path("embedded:digits")        # not a path: nothing to check here
    >>> check_data_path("/no/such/folder")
    Traceback (most recent call last):
    ...
    kerascon.errors.DataNotFoundError: data path '/no/such/folder' does not exist; check data, ...
"""

from __future__ import annotations

import os

from kerascon.errors import DataError, DataNotFoundError, Placeholder, Setting

__all__ = ["DATA_PATH", "NPZ_LAYOUTS", "TFDS_NAME", "WHAT_DATA", "check_data_path", "looks_like_path"]

#: The keys of a ``.npz`` file (:func:`kerascon.data.sources.from_npz`), in words.
NPZ_LAYOUTS = ("images (or x) [N, H, W, C] uint8 and labels (or y) [N] integers, optional "
               "<split>_idx index arrays (train_idx, test_idx) and class_names; or one pair per "
               "split: x_train/y_train and x_test/y_test (as keras.datasets gives them)")

#: The hints naming the two spellings of a data source: a path, a TFDS name.
DATA_PATH = Setting("data", Placeholder("PATH"))
TFDS_NAME = Setting("data", Placeholder("NAME"))
WHAT_DATA = ("{0} (an image folder with one subfolder per class, or a .npz file) or {1} (a TFDS "
             "dataset such as cifar10)")


def looks_like_path(spec: str) -> bool:
    """A string that can only mean a file or folder (a ``.npz`` name, or a path)."""
    return (spec.lower().endswith(".npz") or spec.startswith(("/", "./", "../", "~", ".\\", "..\\"))
            or os.path.isabs(spec))


def check_data_path(spec) -> None:
    """Raise the error :func:`~kerascon.data.dispatch.load_source` gives ``spec`` as a path.

    Raises:
        DataError: no data, or an existing file that is neither a folder nor a ``.npz``.
        DataNotFoundError: a path that does not exist.
    """
    if spec is None or not str(spec).strip():
        raise DataError(f"no data given; pass {WHAT_DATA}", DATA_PATH, TFDS_NAME)
    spec = str(spec).strip()
    expanded = os.path.expanduser(spec)
    if os.path.isdir(expanded) or spec.lower().startswith("embedded:"):
        return
    if os.path.exists(expanded) and not spec.lower().endswith(".npz"):
        raise DataError(f"data file '{os.path.abspath(expanded)}' is neither an image folder nor "
                        f"a .npz file; pass {WHAT_DATA}", DATA_PATH, TFDS_NAME)
    if looks_like_path(spec) and not os.path.exists(expanded):
        raise DataNotFoundError(f"data path '{os.path.abspath(expanded)}' does not exist; "
                                "check {0}, which takes an image folder (one subfolder per "
                                "class) or a .npz file", Setting("data"))
