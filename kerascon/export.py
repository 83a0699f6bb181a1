"""Export a SupConModel as a TensorFlow SavedModel that serves raw images.

The ``serving_default`` signature takes a batch of raw uint8 images [N, H, W, 3] of any
size; resizing to the training resolution and normalisation happen inside. It returns
``embedding`` (encoder features) and, when the model has a classifier, ``logits`` and
``probabilities``. A second signature, ``projection``, returns the L2-normalised
projection used by the contrastive loss (for retrieval).

Example:
    >>> export_saved_model(model, "export/", image_size=32)
    >>> served = tf.saved_model.load("export/")
    >>> served.signatures["serving_default"](images=tf.zeros([2, 48, 48, 3], tf.uint8))
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from kerascon.io import atomic_directory, atomic_path

__all__ = ["export_saved_model", "export_keras", "resize_for_serving"]


def resize_for_serving(images, image_size):
    """uint8 [N, H, W, 3] of any size -> float32 [N, S, S, 3] in [0, 255]."""
    images = tf.cast(images, tf.float32)
    return tf.image.resize(images, (image_size, image_size), method="bilinear", antialias=True)


def export_saved_model(model, path, *, image_size: int) -> Path:
    """Write ``model`` as a SavedModel directory at ``path`` (atomically)."""
    has_classifier = getattr(model, "classifier", None) is not None
    archive = keras.export.ExportArchive()
    archive.track(model)
    image_spec = tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")

    def serve(images):
        outputs = model(resize_for_serving(images, image_size), training=False)
        result = {"embedding": outputs["embedding"]}
        if has_classifier:
            result["logits"] = outputs["logits"]
            result["probabilities"] = tf.nn.softmax(outputs["logits"], axis=-1)
        return result

    def project(images):
        outputs = model(resize_for_serving(images, image_size), training=False)
        return {"projection": outputs["projection"], "embedding": outputs["embedding"]}

    archive.add_endpoint("serving_default", serve, input_signature=[image_spec])
    archive.add_endpoint("projection", project, input_signature=[image_spec])
    with atomic_directory(path) as tmp:
        archive.write_out(str(tmp), verbose=False)
    return Path(path)


def export_keras(model, path) -> Path:
    """Save ``model`` in the Keras format (``.keras``) atomically."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"a Keras model file must end in .keras, got {path}")
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
    return path
