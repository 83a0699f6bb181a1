"""The corruption-robustness section of a run evaluation.

Accuracy and ECE of the classifier on corrupted copies of the evaluated images, per
corruption and severity, and the corruption errors of Hendrycks & Dietterich (2019):
with a reference model (the SupCon paper's Table 2 uses the cross-entropy model),
``mce`` and ``relative_mce`` in percent (100 = as robust as the reference, see
:mod:`kerascon.evaluation.robustness`); without one only the unnormalised
``mean_corruption_error`` (a fraction), since mCE is defined relative to a reference.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from kerascon.errors import ConfigError, KerasconError, Placeholder, Setting
from kerascon.evaluation.corruptions import CORRUPTIONS
from kerascon.evaluation.outputs import softmax
from kerascon.evaluation.robustness import (
    corruption_errors,
    evaluate_corruptions,
    mean_corruption_error,
    relative_mean_corruption_error,
)

__all__ = ["CorruptionOptions", "corruption_section", "matching_corruptions"]

CALIBRATION_BINS = 15
#: Why an evaluation without a reference run has no mCE (a template: {0} is the hint).
MCE_NOTE = KerasconError("mCE and relative mCE need a reference run's errors (the paper uses "
                         "the cross-entropy model); pass {0}",
                         Setting("reference", Placeholder("RUN")))


@dataclass(frozen=True)
class CorruptionOptions:
    """Which corruptions to apply, at which severities, to how many evaluated images.

    ``types=None`` means every corruption of :data:`~kerascon.evaluation.corruptions.CORRUPTIONS`;
    ``examples`` images are drawn (seeded by ``seed``) from the evaluated split.

    Example:
        >>> CorruptionOptions(types=("fog", "contrast"), severities=(1, 5)).validated().types
        ('fog', 'contrast')
    """

    types: tuple | None = None
    severities: tuple = (1, 2, 3, 4, 5)
    examples: int = 1000
    seed: int = 0

    def validated(self) -> CorruptionOptions:
        """A copy with ``types`` filled in; a one-line ValueError naming a bad value."""
        types = tuple(self.types) if self.types else CORRUPTIONS
        for name in types:
            if name not in CORRUPTIONS:
                close = difflib.get_close_matches(str(name), CORRUPTIONS, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ConfigError(f"unknown corruption {name!r} in {{0}}; {hint}"
                                  f"choose from {', '.join(CORRUPTIONS)}",
                                  Setting("corruption_types"))
        severities = tuple(int(s) for s in self.severities)
        if not severities or any(not 1 <= s <= 5 for s in severities):
            raise ConfigError(f"severities must be integers in 1..5, got {self.severities}; "
                              "pass e.g. {0}", Setting("severities", Placeholder("1,2,3,4,5")))
        if len(set(types)) != len(types) or len(set(severities)) != len(severities):
            raise ConfigError("{0} and {1} must not repeat a value",
                              Setting("corruption_types"), Setting("severities"))
        if int(self.examples) < 1:
            raise ConfigError(f"{{0}} must be >= 1, got {self.examples}",
                              Setting("corruption_examples"))
        return replace(self, types=types, severities=severities, examples=int(self.examples))


def _restricted(section: dict, options: CorruptionOptions) -> dict:
    """``section`` with only the corruptions and severities of ``options``."""
    severities = [str(s) for s in options.severities]
    tables = {key: {c: {s: section[key][c][s] for s in severities} for c in options.types}
              for key in ("accuracy", "ece")}
    return {**section, **tables, "types": list(options.types),
            "severities": list(options.severities)}


def matching_corruptions(evaluation: dict, dataset: str, split_examples: int,
                         options: CorruptionOptions) -> dict | None:
    """The corruption section of a stored evaluation if it measured what ``options`` ask.

    It must cover the same dataset (same split size), image subset and seed, and at least
    the requested corruptions and severities; it is returned restricted to those.

    Example:
        >>> from kerascon.runs.evaluation_store import read_evaluations
        >>> stored = read_evaluations("runs/digits")["frozen-test"]
        >>> section = matching_corruptions(stored, "digits:test", 359, CorruptionOptions().validated())
    """
    section = evaluation.get("corruptions")
    if not isinstance(section, dict):
        return None
    same = (section.get("dataset") == dataset and section.get("split_examples") == split_examples
            and section.get("examples") == min(options.examples, split_examples)
            and section.get("seed") == options.seed)
    covered = (set(options.types) <= set(section.get("types", ()))
               and set(options.severities) <= set(section.get("severities", ())))
    return _restricted(section, options) if same and covered else None


def _flat_errors(accuracy: dict) -> list:
    return [1.0 - value for row in accuracy.values() for value in row.values()]


def _normalised(errors: dict, clean_error: float, reference: dict) -> tuple:
    """(top-level figures, per-corruption figures) relative to the reference section."""
    reference_errors = corruption_errors(reference["accuracy"])
    figures, per_corruption, notes = {}, {}, []
    try:
        absolute = mean_corruption_error(errors, reference_errors)
        figures["mce"], per_corruption["ce"] = absolute["mce"], absolute["ce"]
    except ValueError as error:
        notes.append(f"mCE undefined: {error}")
    try:
        relative = relative_mean_corruption_error(errors, clean_error, reference_errors,
                                                  1.0 - reference["clean"]["accuracy"])
        figures["relative_mce"] = relative["relative_mce"]
        per_corruption["relative_ce"] = relative["relative_ce"]
    except ValueError as error:
        notes.append(f"relative mCE undefined: {error}")
    if notes:
        figures["mce_note"] = "; ".join(notes)
    return figures, per_corruption


def corruption_section(model, images, labels, options: CorruptionOptions, *, dataset: str,
                       split_examples: int, batch_size: int = 256,
                       reference: dict | None = None, reference_run=None) -> dict:
    """Evaluate ``model``'s classifier on corrupted ``images`` and compute corruption errors.

    Args:
        model: a SupConModel with a classifier (``predict_on_batch(...)["logits"]``).
        images: uint8 evaluated images [N, S, S, 3]; labels: int [N].
        options: validated :class:`CorruptionOptions`.
        dataset, split_examples: name and size of the split the images were drawn from.
        reference: the reference run's corruption section on the same images, or ``None``.

    Returns:
        ``{"corruptions": section, "mean_corruption_error": fraction}`` plus ``mce`` and
        ``relative_mce`` (percent, 100 = as robust as the reference) with a reference,
        or ``mce_note`` without one. ``section`` holds ``clean``, ``accuracy`` and ``ece``
        (``{corruption: {severity: value}}``), ``by_severity`` and, with a reference,
        ``ce`` and ``relative_ce`` per corruption.

    Example:
        >>> import numpy as np
        >>> from kerascon.model import SupConModel
        >>> model = SupConModel.from_architecture("resnet18", num_classes=10, width_multiplier=0.125)
        >>> x, y = np.full((100, 32, 32, 3), 128, np.uint8), np.arange(100) % 10
        >>> figures = corruption_section(model, x, y, CorruptionOptions().validated(),
        ...                              dataset="cifar10:test", split_examples=10000)
        >>> figures["mean_corruption_error"]
    """
    def predict(batch):
        logits = model.predict_on_batch(np.asarray(batch, np.float32))["logits"]
        return softmax(np.asarray(logits))

    measured = evaluate_corruptions(predict, images, labels, corruptions=options.types,
                                    severities=options.severities, batch_size=batch_size,
                                    seed=options.seed, num_bins=CALIBRATION_BINS)
    section = {"types": list(options.types), "severities": list(options.severities),
               "examples": len(images), "seed": options.seed, "dataset": dataset,
               "split_examples": int(split_examples), **measured}
    result = {"corruptions": section,
              "mean_corruption_error": float(np.mean(_flat_errors(measured["accuracy"])))}
    if reference is None:
        result["mce_note"] = str(MCE_NOTE)
        return result
    figures, per_corruption = _normalised(corruption_errors(measured["accuracy"]),
                                          1.0 - measured["clean"]["accuracy"], reference)
    section.update(per_corruption)
    section["reference"] = {"run": str(Path(reference_run).resolve()),
                            "clean": reference["clean"], "accuracy": reference["accuracy"]}
    result.update(figures)
    return result
