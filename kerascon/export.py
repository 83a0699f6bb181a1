"""Export a SupConModel as a TensorFlow SavedModel that serves raw images.

The ``serving_default`` signature takes a batch of raw uint8 images [N, H, W, 3] of any
size; resizing to the training resolution and normalisation happen inside. It returns
``embedding`` (encoder features) and, when the model has a classifier, ``logits`` and
``probabilities``. A second signature, ``projection``, returns the L2-normalised
projection used by the contrastive loss (for retrieval).

The classifier is served only when it was trained: when the model's stage trains one
(``linear``, ``joint``, ``ce``; see :data:`kerascon.model.stages.STAGES`). A model still at the
``contrastive`` stage carries a classifier layer that no stage has trained; it is left out
unless ``include_classifier=True`` asks for it.

Example:
    >>> import tensorflow as tf
    >>> from kerascon.model import SupConModel
    >>> model = SupConModel.from_architecture("resnet18", num_classes=10, width_multiplier=0.125)
    >>> export_saved_model(model, "export/", image_size=32)
    >>> served = tf.saved_model.load("export/")
    >>> served.signatures["serving_default"](images=tf.zeros([2, 48, 48, 3], tf.uint8))

:func:`export_embedding_model` exports any encoder (text, tabular, images...) for
retrieval: its ``serving_default`` takes the encoder's own inputs and returns the
L2-normalised ``embedding``.

A model whose linear probe normalises its features (``SupConModel.probe_norm``) is
exported with that normalization folded into the classifier
(:func:`fold_probe_normalization`): the served logits are one matrix product.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from kerascon._utils.atomic_files import atomic_directory, atomic_path
from kerascon.errors import ConfigError, Setting, StateError, Step
from kerascon.model.stages import STAGES
from kerascon.ownership import mark_keras_export, require_export_destination, write_export_marker

__all__ = [
    "classifier_is_trained",
    "embedding_input_signature",
    "export_embedding_model",
    "export_keras",
    "export_saved_model",
    "fold_probe_normalization",
    "resize_for_serving",
]


def resize_for_serving(images, image_size):
    """uint8 [N, H, W, 3] of any size -> float32 [N, S, S, 3] in [0, 255]."""
    images = tf.cast(images, tf.float32)
    return tf.image.resize(images, (image_size, image_size), method="bilinear", antialias=True)


def fold_probe_normalization(model):
    """The classifier's ``(kernel [D, K], bias [K])`` with the probe normalization folded in.

    The linear probe computes ``W (x - mean) / sqrt(var + eps) + b`` with the moving
    statistics of ``model.probe_norm``; that is ``W' x + b'`` with
    ``W' = W / sqrt(var + eps)`` (row-wise) and ``b' = b - mean @ W'``. A model without
    the normalization returns its classifier's weights unchanged.

    Example:
        >>> from kerascon.encoders import resnet18
        >>> from kerascon.model import SupConModel
        >>> model = SupConModel(resnet18(width_multiplier=0.25), num_classes=10, stage="linear")
        >>> outputs = model(np.zeros((2, 32, 32, 3), "float32"))
        >>> kernel, bias = fold_probe_normalization(model)
        >>> logits = outputs["embedding"] @ kernel + bias     # == outputs["logits"]
    """
    if getattr(model, "classifier", None) is None:
        raise ConfigError("the model has no classifier to fold; train its linear stage first")
    kernel, bias = (np.asarray(keras.ops.convert_to_numpy(w), np.float64)
                    for w in (model.classifier.kernel, model.classifier.bias))
    norm = getattr(model, "probe_norm", None)
    if norm is not None:
        mean, variance = (np.asarray(keras.ops.convert_to_numpy(w), np.float64)
                          for w in (norm.moving_mean, norm.moving_variance))
        kernel = kernel / np.sqrt(variance + norm.epsilon)[:, None]
        bias = bias - mean @ kernel
    return kernel.astype("float32"), bias.astype("float32")


def _folded_classifier(model):
    kernel, bias = fold_probe_normalization(model)
    classifier = keras.layers.Dense(kernel.shape[1], dtype="float32", name="classifier")
    classifier.build((None, kernel.shape[0]))
    classifier.set_weights([kernel, bias])
    return classifier


def classifier_is_trained(model) -> bool:
    """Whether ``model`` has a classifier that a stage trained (its stage has one).

    Example:
        >>> from kerascon.model import SupConModel
        >>> model = SupConModel.from_architecture("resnet18", num_classes=10,
        ...                                       width_multiplier=0.125)
        >>> classifier_is_trained(model), model.classifier is not None
        (False, True)
    """
    return (getattr(model, "classifier", None) is not None
            and STAGES[getattr(model, "stage", "contrastive")].has_classifier)


def export_saved_model(model, path, *, image_size: int,
                       include_classifier: bool | None = None) -> Path:
    """Write ``model`` as a SavedModel directory at ``path`` (atomically).

    The served graph is the model's preprocessing, encoder and heads in inference mode;
    the probe normalization is folded into the classifier (one matrix product).
    ``include_classifier``: serve ``logits`` and ``probabilities``; by default (``None``)
    only when the classifier was trained (:func:`classifier_is_trained`). ``True`` serves
    an untrained one too; ``False`` never serves it.
    """
    if include_classifier is None:
        include_classifier = classifier_is_trained(model)
    if include_classifier and getattr(model, "classifier", None) is None:
        raise ConfigError("the model has no classifier to export; train one first with {0}",
                          Step("train", (Setting("stage", "linear"),)))
    has_classifier = bool(include_classifier)
    features = model.embedding_model()
    classifier = _folded_classifier(model) if has_classifier else None
    archive = keras.export.ExportArchive()
    for layer in (features, model.projection_head, classifier):
        if layer is not None:
            archive.track(layer)
    image_spec = tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")

    def serve(images):
        embedding = features(resize_for_serving(images, image_size), training=False)
        result = {"embedding": embedding}
        if has_classifier:
            result["logits"] = classifier(embedding)
            result["probabilities"] = tf.nn.softmax(result["logits"], axis=-1)
        return result

    def project(images):
        embedding = features(resize_for_serving(images, image_size), training=False)
        projection = tf.cast(model.projection_head(embedding, training=False), tf.float32)
        return {"projection": projection, "embedding": embedding}

    archive.add_endpoint("serving_default", serve, input_signature=[image_spec])
    archive.add_endpoint("projection", project, input_signature=[image_spec])
    return _write_archive(archive, path)


def _write_archive(archive, path) -> Path:
    """Write ``archive`` as a marked export at ``path``, atomically, where that is allowed.

    ``path`` must be new, an empty folder, an earlier export by kerascon or a run's own
    ``export`` folder (:func:`kerascon.ownership.require_export_destination`).
    """
    require_export_destination(path, kind="savedmodel")
    with atomic_directory(path) as tmp:
        archive.write_out(str(tmp), verbose=False)
        write_export_marker(tmp)
    return Path(path)


def _serving_spec(name, tensor):
    shape = [None] + list(tensor.shape[1:])
    return tf.TensorSpec(shape, tf.as_dtype(keras.backend.standardize_dtype(tensor.dtype)),
                         name=name)


def embedding_input_signature(encoder):
    """The encoder's input structure as ``tf.TensorSpec`` with a free batch dimension.

    Dict inputs keep their keys (also the serving argument names); other inputs are named
    after their ``keras.Input``.

    Example:
        >>> import keras_hub
        >>> from kerascon.text import text_encoder
        >>> encoder = text_encoder(keras_hub.models.BertBackbone.from_preset("bert_tiny_en_uncased"))
        >>> embedding_input_signature(encoder)
        {'padding_mask': TensorSpec(shape=(None, None), dtype=tf.int32, ...), ...}
    """
    try:
        structure = encoder.input
    except (AttributeError, ValueError):
        structure = getattr(encoder, "inputs", None)
        if isinstance(structure, list) and len(structure) == 1:
            structure = structure[0]
    if structure is None or not keras.tree.flatten(structure):
        raise ConfigError(
            "the encoder has no known inputs; export a functional or Sequential model built "
            "on keras.Input, or wrap it: keras.Model(inputs, encoder(inputs))"
        )
    if isinstance(structure, dict):
        return {key: _serving_spec(key, tensor) for key, tensor in structure.items()}
    return keras.tree.map_structure(lambda t: _serving_spec(t.name, t), structure)


def _embedding_output(outputs):
    if isinstance(outputs, dict):
        if "embedding" not in outputs:
            raise ConfigError(
                f"the encoder returns {sorted(outputs)}; it must return a [batch, dim] "
                "tensor or a dict with an 'embedding' entry"
            )
        outputs = outputs["embedding"]
    if len(outputs.shape) != 2:
        raise ConfigError(
            f"the encoder must return embeddings of shape [batch, dim], got shape "
            f"{tuple(outputs.shape)}; pool or flatten its output"
        )
    return tf.cast(outputs, tf.float32)


def export_embedding_model(encoder, path, *, normalize=True) -> Path:
    """Write ``encoder`` as a SavedModel at ``path`` (atomically) serving embeddings.

    The ``serving_default`` signature takes the encoder's own inputs (names, dtypes and
    shapes from ``encoder.input``, batch dimension free; dict inputs keep their keys) and
    returns ``{"embedding": float32 [N, D]}``, L2-normalised when ``normalize`` (a zero
    embedding stays zero). Tokenisation is not part of the export: text encoders take
    token ids, as at training time. Export with the TensorFlow backend.

    Args:
        encoder: a functional or Sequential ``keras.Model`` returning [batch, dim] (or a
            dict with an ``"embedding"`` entry, such as a SupConModel's outputs).
        path: the SavedModel directory to write: new, empty, or an earlier export by kerascon
            (replaced as a whole); a folder of other files is refused.
        normalize: L2-normalise the served embeddings (for cosine / dot-product search).

    Returns:
        ``Path(path)``.

    Example:
        >>> import keras_hub
        >>> import tensorflow as tf
        >>> from kerascon.text import text_encoder
        >>> backbone = keras_hub.models.BertBackbone.from_preset("bert_tiny_en_uncased")
        >>> export_embedding_model(text_encoder(backbone), "export/embeddings")
        >>> served = tf.saved_model.load("export/embeddings").signatures["serving_default"]
        >>> ids, segments = tf.constant([[101, 7592, 102, 0]]), tf.zeros((1, 4), tf.int32)
        >>> mask = tf.constant([[1, 1, 1, 0]])
        >>> served(token_ids=ids, segment_ids=segments, padding_mask=mask)["embedding"]
    """
    signature = embedding_input_signature(encoder)
    archive = keras.export.ExportArchive()
    archive.track(encoder)

    def serve(inputs):
        embedding = _embedding_output(encoder(inputs, training=False))
        if normalize:
            embedding = tf.math.l2_normalize(embedding, axis=-1, epsilon=1e-12)
        return {"embedding": embedding}

    archive.add_endpoint("serving_default", serve, input_signature=[signature])
    return _write_archive(archive, path)


def _without_probe_norm(model):
    """A copy of a SupConModel with its probe normalization folded into the classifier."""
    config = model.get_config()
    config.update(probe_normalization=False, has_probe_norm=False)
    copy = type(model).from_config(config)
    norm_weights = {id(v) for v in model.probe_norm.weights}
    sources = [v for v in model.weights if id(v) not in norm_weights]
    if [tuple(v.shape) for v in sources] != [tuple(v.shape) for v in copy.weights]:
        raise StateError("cannot fold the probe normalization: the model's copy has other "
                         "weights; save it with model.save(path) instead")
    for target, source in zip(copy.weights, sources):
        target.assign(source)
    copy.classifier.set_weights(list(fold_probe_normalization(model)))
    return copy


def export_keras(model, path) -> Path:
    """Save ``model`` in the Keras format (``.keras``) atomically.

    A SupConModel with a probe normalization is saved with it folded into the classifier
    (same logits, no ``probe_norm`` layer) and without its optimizer state. ``path`` must
    be new, an earlier kerascon ``.keras`` export or a run's own (``RUN/export.keras``,
    ``RUN/encoder/encoder.keras``); the file carries the export marker.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ConfigError(f"a Keras model file must end in .keras, got {path}")
    require_export_destination(path, kind="keras")
    if getattr(model, "probe_norm", None) is not None:
        model = _without_probe_norm(model)
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
        mark_keras_export(tmp)
    return path
