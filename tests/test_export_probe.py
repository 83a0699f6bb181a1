"""Exports fold the linear probe's feature normalization into the classifier."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerascon.export import export_keras, export_saved_model, fold_probe_normalization
from kerascon.model import SupConModel

IMAGE = 8
NORMALIZATION_OPS = {"Rsqrt", "FusedBatchNorm", "FusedBatchNormV3"}


@pytest.fixture(scope="module")
def probed():
    """A model after a linear stage: the probe's moving statistics are far from 0 and 1."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    encoder = keras.Sequential([keras.Input((IMAGE, IMAGE, 3)),
                                keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
                                keras.layers.GlobalAveragePooling2D(),
                                keras.layers.Rescaling(50.0)], name="tiny_encoder")
    model = SupConModel(encoder, 3, projection_dim=8, projection_hidden_dim=16, stage="linear")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (32, IMAGE, IMAGE, 3)).astype("uint8")
    y = rng.integers(0, 3, 32).astype("int32")
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
    model.fit(x.astype("float32"), y, batch_size=8, epochs=3, verbose=0)
    assert np.all(np.asarray(model.probe_norm.moving_variance) > 2.0)
    return model, x


def op_types(function):
    graph = function.graph
    types = {op.type for op in graph.get_operations()}
    for inner in graph._functions.values():  # noqa: SLF001 - nested tf.functions
        types |= {node.op for node in inner.definition.node_def}
    return types


def test_folded_classifier_gives_the_model_logits(probed):
    model, x = probed
    kernel, bias = fold_probe_normalization(model)
    outputs = model(x.astype("float32"))
    np.testing.assert_allclose(np.asarray(outputs["embedding"]) @ kernel + bias,
                               outputs["logits"], rtol=1e-4, atol=1e-4)


def test_saved_model_serves_the_logits_without_a_normalization(probed, tmp_path):
    model, x = probed
    export_saved_model(model, tmp_path / "export", image_size=IMAGE)
    served = tf.saved_model.load(str(tmp_path / "export"))
    serve = served.signatures["serving_default"]
    out = serve(images=tf.constant(x))
    np.testing.assert_allclose(out["logits"], model(x.astype("float32"))["logits"],
                               rtol=1e-4, atol=1e-4)
    assert "Conv2D" in op_types(serve)  # the nested functions are searched too
    assert not NORMALIZATION_OPS & op_types(serve)
    assert not any("probe_norm" in v.name for v in served.variables)
    # The check can fail: the model's own inference graph does normalise separately.
    own = tf.function(lambda images: model(images, training=False)["logits"])
    assert NORMALIZATION_OPS & op_types(own.get_concrete_function(
        tf.TensorSpec([None, IMAGE, IMAGE, 3], tf.float32)))


def test_keras_export_has_the_normalization_folded(probed, tmp_path):
    model, x = probed
    path = export_keras(model, tmp_path / "model.keras")
    restored = keras.saving.load_model(path)
    assert restored.probe_norm is None and restored.stage == "linear"
    np.testing.assert_allclose(restored(x.astype("float32"))["logits"],
                               model(x.astype("float32"))["logits"], rtol=1e-4, atol=1e-4)
    assert model.probe_norm is not None  # the exported model is a copy


def test_models_without_a_probe_normalization_export_unchanged(tmp_path):
    keras.utils.set_random_seed(1)
    encoder = keras.Sequential([keras.Input((IMAGE, IMAGE, 3)), keras.layers.Flatten()])
    model = SupConModel(encoder, 3, projection_dim=8, projection_hidden_dim=16, stage="ce")
    kernel, bias = fold_probe_normalization(model)
    np.testing.assert_array_equal(kernel, model.classifier.kernel)
    np.testing.assert_array_equal(bias, model.classifier.bias)
    restored = keras.saving.load_model(export_keras(model, tmp_path / "ce.keras"))
    assert restored.stage == "ce" and restored.probe_normalization
