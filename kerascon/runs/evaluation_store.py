"""Evaluations stored in a run: ``RUN/evaluations/<name>.json`` and its ``<name>.npz``.

The JSON object is the result of :func:`kerascon.runs.evaluation.run_evaluation`; the
``.npz`` beside it holds the 2-D embedding sample (``points`` float32 [N, 2], ``labels``
int64 [N]). Both are written atomically. An evaluation of the same model on the same
examples keeps the sections of an earlier one that it did not recompute (e.g. kNN first,
corruptions later). This module imports neither Keras nor TensorFlow, so reports start
quickly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from kerascon._utils.atomic_files import atomic_path, atomic_write_json

__all__ = [
    "EVALUATIONS",
    "SECTIONS",
    "evaluations_dir",
    "load_embedding_sample",
    "model_fingerprint",
    "read_evaluations",
    "write_evaluation",
]

EVALUATIONS = "evaluations"

#: Keys each optional part of an evaluation owns (replaced together when recomputed).
SECTIONS = {
    "knn": ("knn_top1", "knn_top5", "knn"),
    "calibration": ("ece", "reliability"),
    "corruptions": ("corruptions", "mce", "relative_mce", "mean_corruption_error", "mce_note"),
}

# What must be equal for an earlier evaluation's sections to describe the same thing.
_SAME_EVALUATION = ("model", "dataset", "examples", "image_size", "mode")


def evaluations_dir(run_dir) -> Path:
    """``RUN/evaluations``.

    Example:
        >>> evaluations_dir("runs/digits")
        PosixPath('runs/digits/evaluations')
    """
    return Path(run_dir) / EVALUATIONS


def model_fingerprint(model_path) -> dict:
    """Size and modification time of ``model.keras``: changes whenever a stage finishes.

    Example:
        >>> sorted(model_fingerprint("runs/digits/model.keras"))
        ['mtime_ns', 'size']
    """
    stat = Path(model_path).stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def read_evaluations(run_dir) -> dict:
    """``{name: evaluation dict}`` of every readable ``RUN/evaluations/*.json``, by name.

    Example:
        >>> sorted(read_evaluations("runs/digits"))
        ['frozen-test']
    """
    found = {}
    folder = evaluations_dir(run_dir)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not an evaluation (or unreadable): the report says what it found
        if isinstance(value, dict):
            found[path.stem] = value
    return found


def _merged(previous: dict | None, result: dict, computed: set) -> dict:
    if not previous or any(previous.get(k) != result.get(k) for k in _SAME_EVALUATION):
        return result
    merged = dict(result)
    for section, keys in SECTIONS.items():
        if section not in computed:
            merged.update({k: previous[k] for k in keys if k in previous})
    return merged


def write_evaluation(run_dir, result: dict, *, computed=(), points=None, labels=None) -> dict:
    """Write ``result`` to ``RUN/evaluations/<result['name']>.json`` (and the ``.npz``).

    Sections of an earlier evaluation of the same model and examples that are not in
    ``computed`` are kept. Returns the object written.

    Example:
        >>> import numpy as np
        >>> result = {"name": "frozen-test", "dataset": "digits:test", "knn_top1": 0.97,
        ...           "embedding_sample": {"file": "frozen-test.npz", "examples": 359}}
        >>> points, labels = np.zeros((359, 2), np.float32), np.arange(359) % 10
        >>> stored = write_evaluation("runs/digits", result, computed={"knn"},
        ...                           points=points, labels=labels)
    """
    folder = evaluations_dir(run_dir)
    name = result["name"]
    previous = read_evaluations(run_dir).get(name)
    if points is not None:
        with atomic_path(folder / f"{name}.npz", suffix=".npz") as tmp:
            np.savez(tmp, points=np.asarray(points, np.float32),
                     labels=np.asarray(labels, np.int64))
    merged = _merged(previous, result, set(computed))
    atomic_write_json(folder / f"{name}.json", merged)
    return merged


def load_embedding_sample(run_dir, evaluation: dict):
    """``(points [N, 2], labels [N])`` of an evaluation's embedding sample, or ``None``.

    Example:
        >>> evaluation = read_evaluations("runs/digits")["frozen-test"]
        >>> points, labels = load_embedding_sample("runs/digits", evaluation)
    """
    sample = evaluation.get("embedding_sample") or {}
    path = evaluations_dir(run_dir) / str(sample.get("file", ""))
    if not sample.get("file") or not path.is_file():
        return None
    with np.load(path) as data:
        return data["points"], data["labels"]
