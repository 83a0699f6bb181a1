"""A seeded, stratified hold-out: the evaluation split of data that has none.

An image folder without ``train/`` and ``test/`` subfolders, or a ``.npz`` file without
``train_idx``/``test_idx`` arrays, is split by :class:`HoldOut`: in every class, the
examples are ordered by a hash of ``(seed, key)`` (the key is a file's path relative to
the folder, or an example's index in the file) and the first ``round(fraction * n)`` of
them are held out. The draw depends on nothing else (not on file order, the machine or
NumPy's version), so the same seed gives the same files. A class whose share rounds to
zero (fewer than 5 examples at 10%) keeps all its examples for training; the evaluation
then has none of that class, and a warning names it. Every class keeps at least one
training example.

A run records the held-out keys (``HoldOut.to_dict``); a later stage or evaluation builds
``HoldOut.from_dict(record)``, which holds out exactly those keys, whatever the data holds
by then.

Example:
    >>> holdout = HoldOut(fraction=0.25, seed=0)
    >>> keys = [f"cat/{i}.png" for i in range(8)] + [f"dog/{i}.png" for i in range(4)]
    >>> held = holdout.held_out_keys(keys, [0] * 8 + [1] * 4)
    >>> len(held), sum(key.startswith("dog/") for key in held)
    (3, 1)
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

from kerascon.errors import ConfigError

__all__ = ["DEFAULT_VAL_FRACTION", "HOLDOUT_SPLITS", "HoldOut", "TRAIN_SPLIT"]

#: The default share of every class held out for evaluation.
DEFAULT_VAL_FRACTION = 0.1
#: The split name that means "the training part" of held-out data.
TRAIN_SPLIT = "train"
#: Split names that mean "the held-out part" (the default evaluation split is ``test``).
HOLDOUT_SPLITS = ("test", "val")


def _order(seed: int, key: str) -> bytes:
    return hashlib.blake2b(f"{seed}\0{key}".encode(), digest_size=8).digest()


@dataclass(frozen=True)
class HoldOut:
    """How to hold out a share of every class: ``fraction`` (0 < f < 1) drawn with ``seed``,
    or, when ``held_out`` is given (a recorded draw), exactly those keys.

    ``too_small`` lists the classes (by label) whose share rounded to zero in the last draw.
    """

    fraction: float = DEFAULT_VAL_FRACTION
    seed: int = 0
    held_out: tuple | None = None

    def __post_init__(self):
        if not 0.0 < float(self.fraction) < 1.0:
            raise ConfigError(f"the held-out fraction must lie between 0 and 1, got {self.fraction!r}")

    @property
    def percent(self) -> str:
        """The held-out share as a percentage, e.g. ``"10%"``."""
        return f"{100 * self.fraction:.4g}%"

    @property
    def train_percent(self) -> str:
        return f"{100 - 100 * self.fraction:.4g}%"

    def class_share(self, count: int) -> int:
        """How many of a class's ``count`` examples are held out."""
        return max(0, min(count - 1, math.floor(self.fraction * count + 0.5)))

    def held_out_keys(self, keys: Sequence[str], labels: Sequence[int]) -> frozenset:
        """The keys held out of ``keys`` (one per example, with its label)."""
        if self.held_out is not None:
            return frozenset(str(key) for key in self.held_out) & frozenset(keys)
        by_class = defaultdict(list)
        for key, label in zip(keys, labels):
            by_class[int(label)].append(key)
        held = set()
        for members in by_class.values():
            members.sort(key=lambda key: _order(self.seed, key))
            held.update(members[:self.class_share(len(members))])
        return frozenset(held)

    def too_small(self, labels: Sequence[int]) -> list[int]:
        """Labels of the classes that hold out nothing (their share rounds to zero)."""
        counts = defaultdict(int)
        for label in labels:
            counts[int(label)] += 1
        return sorted(label for label, count in counts.items() if self.class_share(count) == 0)

    def recorded(self, keys) -> "HoldOut":
        """This hold-out with its drawn keys, sorted (what a run records)."""
        return HoldOut(self.fraction, self.seed, tuple(sorted(keys)))

    def to_dict(self) -> dict:
        """A JSON-ready record: fraction, seed and the held-out keys."""
        return {"fraction": float(self.fraction), "seed": int(self.seed),
                "held_out": list(self.held_out) if self.held_out is not None else None}

    @classmethod
    def from_dict(cls, values: dict) -> "HoldOut":
        held = values.get("held_out")
        return cls(float(values["fraction"]), int(values.get("seed", 0)),
                   tuple(str(key) for key in held) if held is not None else None)
