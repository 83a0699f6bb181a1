"""Small real datasets shipped inside the package (no download needed).

``digits``: the UCI "Optical Recognition of Handwritten Digits" data as bundled
by scikit-learn (``sklearn.datasets.load_digits``): 1,797 grayscale 8x8 images of
the digits 0-9, stored as ``uint8`` (0..255) in ``kerascon/data/digits.npz`` with a
fixed, stratified train/test split (1,438 / 359). Licence CC BY 4.0; see
``kerascon/data/README.md`` for provenance.

Example::

    from kerascon.data import load_embedded

    train = load_embedded("digits", split="train")   # 1438 examples, 10 classes
    test = load_embedded("digits", split="test")     # 359 examples
    image, label = next(iter(train.dataset))         # uint8 (8, 8, 3), int32
"""

from __future__ import annotations

from importlib import resources

from kerascon.data.sources import DataSource, from_npz
from kerascon.errors import ConfigError

__all__ = ["EMBEDDED_DATASETS", "load_embedded"]

#: Embedded dataset name -> file inside the ``kerascon.data`` package.
EMBEDDED_DATASETS: dict[str, str] = {"digits": "digits.npz"}

_SPLITS = ("train", "test", "all")


def load_embedded(name: str = "digits", split: str = "train") -> DataSource:
    """Load an embedded dataset split (``"train"``, ``"test"`` or ``"all"``).

    Raises:
        ValueError: unknown dataset name (the message lists the available ones) or split.

    Example::

        src = load_embedded("digits", split="test")
        src.num_examples, src.num_classes, src.image_shape   # 359, 10, (8, 8, 3)
    """
    key = str(name).lower()
    if key not in EMBEDDED_DATASETS:
        raise ConfigError(
            f"unknown embedded dataset {name!r}; available: {', '.join(sorted(EMBEDDED_DATASETS))}"
        )
    if split not in _SPLITS:
        raise ConfigError(f"unknown split {split!r} for embedded dataset {key!r}; valid splits: {', '.join(_SPLITS)}")
    resource = resources.files("kerascon.data").joinpath(EMBEDDED_DATASETS[key])
    with resources.as_file(resource) as path:
        return from_npz(path, split=None if split == "all" else split, name=key)
