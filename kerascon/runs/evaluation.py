"""Evaluate a run directory: classifier accuracy, kNN, calibration, corruption robustness.

The command line's evaluation calls this. The model runs once over the evaluated split; every
figure comes from those outputs (and, for kNN, one pass over the training split). The
result is stored as ``RUN/evaluations/<name>.json`` (see :mod:`kerascon.runs.evaluation_store`).

Example:
    >>> result = run_evaluation("runs/digits", frozen=True, knn=True, calibration=True,
    ...                         corruptions=CorruptionOptions(types=("contrast",)))
    >>> result["top1"], result["knn_top1"], result["ece"], result["mean_corruption_error"]
"""

from __future__ import annotations

import datetime

import keras
import numpy as np

from kerascon.evaluation.calibration import expected_calibration_error, reliability_diagram
from kerascon.evaluation.knn import knn_accuracy
from kerascon.evaluation.outputs import (
    collect_outputs,
    cross_entropy,
    pca_2d,
    softmax,
    subset_indices,
)
from kerascon.runs.directory import RunDirectory
from kerascon.runs.evaluation_corruptions import (
    CALIBRATION_BINS,
    CorruptionOptions,
    corruption_section,
    matching_corruptions,
)
from kerascon.runs.evaluation_inputs import EvalInputs, resolve_inputs, training_source
from kerascon.runs.evaluation_store import model_fingerprint, read_evaluations, write_evaluation
from kerascon.runs.training import eval_dataset

__all__ = ["CALIBRATION_BINS", "EMBEDDING_SAMPLE", "CorruptionOptions", "run_evaluation"]

EMBEDDING_SAMPLE = 2000  # test embeddings projected to 2-D for the report


def _base(inputs: EvalInputs) -> dict:
    source = inputs.source
    result = {
        "name": inputs.name, "run": str(inputs.run.path.resolve()), "mode": inputs.mode,
        "stage": inputs.model.stage, "data": str(inputs.data), "split": inputs.split,
        "dataset": source.name, "examples": source.num_examples,
        "num_classes": source.num_classes, "class_names": [str(c) for c in source.class_names],
        "image_size": inputs.image_size, "model": model_fingerprint(inputs.run.model_path),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    if source.skipped:
        result["skipped_images"] = len(source.skipped)
    result["evaluated"] = inputs.scope
    result["class_match"] = inputs.class_match
    if inputs.evaluated_classes is not None:
        result["evaluated_classes"] = [str(c) for c in inputs.evaluated_classes]
    if inputs.notes:
        result["notes"] = list(inputs.notes)
    return result


def _classifier_metrics(model, labels, logits) -> dict:
    """Top-1 / top-5 by the Keras metrics training logs (same float32 values, same ties),
    and the mean cross-entropy per example."""
    result = {}
    for name, k in (("top1", 1), ("top5", min(5, logits.shape[1]))):
        metric = keras.metrics.SparseTopKCategoricalAccuracy(k=k)
        metric.update_state(labels, logits)
        result[name] = float(metric.result())
    result["loss"] = cross_entropy(labels, logits, getattr(model, "label_smoothing", 0.0))
    return result


def _knn_metrics(inputs: EvalInputs, embeddings, labels, k, temperature, batch_size) -> dict:
    train = training_source(inputs)
    train_out = collect_outputs(inputs.model, eval_dataset(train, inputs.image_size, batch_size))
    scores = knn_accuracy(train_out.embeddings, train_out.labels, embeddings, labels, k=k,
                          temperature=temperature, num_classes=inputs.source.num_classes)
    return {**scores, "knn": {"k": int(k), "temperature": float(temperature),
                              "train_dataset": train.name, "train_examples": train.num_examples}}


def _calibration(labels, logits) -> dict:
    bins = reliability_diagram(labels, softmax(logits), num_bins=CALIBRATION_BINS)

    def listed(values):
        return [None if np.isnan(v) else float(v) for v in values]

    return {"ece": expected_calibration_error(labels, softmax(logits), CALIBRATION_BINS),
            "reliability": {"bin_edges": [float(v) for v in bins["bin_edges"]],
                            "bin_confidence": listed(bins["bin_confidence"]),
                            "bin_accuracy": listed(bins["bin_accuracy"]),
                            "bin_count": [int(v) for v in bins["bin_count"]]}}


def _reference_corruptions(reference, inputs: EvalInputs, options: CorruptionOptions,
                           batch_size: int) -> dict:
    """The reference run's corruption section on the same data: stored, or evaluated now."""
    current = model_fingerprint(RunDirectory(reference).model_path)
    for stored in read_evaluations(reference).values():
        section = matching_corruptions(stored, inputs.source.name, inputs.source.num_examples,
                                       options)
        if section is not None and stored.get("model") == current:
            return section
    frozen = "linear" in RunDirectory(reference).finished_stages()
    result = run_evaluation(reference, inputs.data, split=inputs.split, data_dir=inputs.data_dir,
                            frozen=frozen, batch_size=batch_size, corruptions=options)
    return result["corruptions"]


def run_evaluation(run_dir, data: str | None = None, *, split: str | None = "recorded",
                   data_dir=None, frozen: bool = False, batch_size: int = 256,
                   skip_corrupt: bool | None = None, knn: bool = False, knn_k: int = 200,
                   knn_temperature: float = 0.1, calibration: bool = False,
                   corruptions: CorruptionOptions | None = None, reference=None) -> dict:
    """Evaluate a run and store the result in ``RUN/evaluations/<name>.json``.

    Always: top-1, top-5 and cross-entropy ``loss`` of the classifier (``frozen=True``: the
    linear classifier on the frozen encoder; otherwise a ce or joint run's own), and a 2-D
    PCA sample of up to 2,000 test embeddings (``<name>.npz``). ``knn=True`` adds
    ``knn_top1``: weighted kNN (cosine, ``knn_k`` neighbours, ``knn_temperature``) with the
    embeddings of the split the run was trained on; with ``knn`` alone a run without a
    classifier (contrastive stage) is evaluated too. ``calibration=True`` adds ``ece``
    (15 bins) and ``reliability`` bins of softmax(logits). ``corruptions`` adds accuracy and
    ECE per corruption and severity and the corruption errors; with a ``reference`` run,
    ``mce`` and ``relative_mce`` normalised by that run's errors (Hendrycks & Dietterich
    2019), otherwise ``mean_corruption_error`` only. Data and split resolve as in
    :func:`kerascon.runs.evaluation_inputs.resolve_inputs`.

    Other ``data`` is evaluated whole (or its own ``test`` split when it has one); its
    classes are matched to the run's by name: a subset is evaluated over all the run's
    classes (``evaluated_classes`` lists it), an unknown class name is a DataError, and data
    without class names keeps its label indices (``class_match`` says ``"index"``).
    ``evaluated`` says which images were evaluated, ``notes`` what the matching did.

    Returns the stored object (with sections kept from an earlier evaluation of the same
    model and examples that were not recomputed).

    Example:
        >>> result = run_evaluation("runs/supcon", frozen=True, knn=True,
        ...                         corruptions=CorruptionOptions(), reference="runs/ce")
        >>> result["relative_mce"]
    """
    if corruptions is not None:
        corruptions = corruptions.validated()
    if reference is not None:
        RunDirectory(reference).require_model()
    inputs = resolve_inputs(run_dir, data, split=split, data_dir=data_dir, frozen=frozen,
                            skip_corrupt=skip_corrupt,
                            needs_classifier=not knn or calibration or corruptions is not None)
    total = inputs.source.num_examples
    sample = subset_indices(total, EMBEDDING_SAMPLE)
    image_index = subset_indices(total, corruptions.examples, corruptions.seed) \
        if corruptions is not None else None
    out = collect_outputs(inputs.model, eval_dataset(inputs.source, inputs.image_size, batch_size),
                          embedding_index=None if knn else sample, image_index=image_index)
    result = _base(inputs)
    computed = {"knn"} if knn else set()
    if inputs.mode != "encoder":
        result.update(_classifier_metrics(inputs.model, out.labels, out.logits))
    if knn:
        result.update(_knn_metrics(inputs, out.embeddings, out.labels, knn_k, knn_temperature,
                                   batch_size))
    if calibration:
        result.update(_calibration(out.labels, out.logits))
        computed.add("calibration")
    if corruptions is not None:
        reference_section = (_reference_corruptions(reference, inputs, corruptions, batch_size)
                             if reference is not None else None)
        result.update(corruption_section(inputs.model, out.images, out.labels[image_index],
                                         corruptions, dataset=inputs.source.name,
                                         split_examples=total, batch_size=batch_size,
                                         reference=reference_section, reference_run=reference))
        computed.add("corruptions")
    points, ratio = pca_2d(out.embeddings[sample] if knn else out.embeddings)
    result["embedding_sample"] = {"file": f"{inputs.name}.npz", "examples": len(points),
                                  "explained_variance_ratio": [float(v) for v in ratio]}
    return write_evaluation(inputs.run.path, result, computed=computed, points=points,
                            labels=out.labels[sample])
