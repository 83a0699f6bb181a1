"""export_embedding_model: a SavedModel serving L2-normalised embeddings for any inputs.

The export is reloaded with plain ``tf.saved_model.load`` (no kerascon, no Keras classes)
and compared with the Keras model on the same input.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerascon.export import embedding_input_signature, export_embedding_model
from kerascon.ownership import OwnershipError, write_export_marker

VOCAB, TOKENS, DIM = 30, 7, 6


def dict_input_encoder(mask_dtype):
    """A plain functional text encoder: embedding + masked mean pooling + dense."""
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    padding_mask = keras.Input((None,), dtype=mask_dtype, name="padding_mask")
    tokens = keras.layers.Embedding(VOCAB, 8)(token_ids)
    pooled = keras.layers.GlobalAveragePooling1D()(tokens, mask=padding_mask)
    embedding = keras.layers.Dense(DIM)(pooled)
    return keras.Model({"token_ids": token_ids, "padding_mask": padding_mask}, embedding)


def token_inputs(n=5, mask_dtype="int32", seed=0):
    rng = np.random.default_rng(seed)
    mask = np.arange(TOKENS)[None] < rng.integers(1, TOKENS + 1, size=n)[:, None]
    ids = rng.integers(1, VOCAB, size=(n, TOKENS)) * mask
    return {"token_ids": ids.astype("int32"), "padding_mask": mask.astype(mask_dtype)}


def served(path):
    return tf.saved_model.load(str(path)).signatures["serving_default"]


def check_served_matches(model, serve, inputs):
    expected = np.asarray(model(inputs))
    expected = expected / np.linalg.norm(expected, axis=-1, keepdims=True)
    result = serve(**{k: tf.constant(v) for k, v in inputs.items()})
    assert set(result) == {"embedding"}
    embedding = result["embedding"].numpy()
    assert embedding.dtype == np.float32
    np.testing.assert_allclose(embedding, expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(embedding, axis=-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("mask_dtype", ["bool", "int32"])
def test_dict_input_encoder_serves_normalised_embeddings(tmp_path, mask_dtype):
    keras.utils.set_random_seed(0)
    model = dict_input_encoder(mask_dtype)
    path = export_embedding_model(model, tmp_path / "export")
    serve = served(path)
    _, specs = serve.structured_input_signature
    assert {k: (s.dtype.name, s.shape.as_list()) for k, s in specs.items()} == {
        "token_ids": ("int32", [None, None]),
        "padding_mask": (mask_dtype, [None, None]),
    }
    for n in (1, 5):  # any batch size, any sequence length
        check_served_matches(model, serve, token_inputs(n, mask_dtype, seed=n))


def test_single_input_and_unnormalised_export_and_atomic_replace(tmp_path):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4,), name="features"), keras.layers.Dense(3)])
    path = tmp_path / "export"
    path.mkdir()
    (path / "stale.txt").write_text("old export")
    # A folder that is not an earlier export is never replaced.
    with pytest.raises(OwnershipError, match="is not an export kerascon wrote"):
        export_embedding_model(model, path, normalize=False)
    assert (path / "stale.txt").read_text() == "old export"
    write_export_marker(path)  # now it is one: replaced as a whole
    export_embedding_model(model, path, normalize=False)
    assert not (path / "stale.txt").exists()  # replaced as a whole
    assert [p.name for p in tmp_path.iterdir()] == ["export"]  # no temporary leftovers
    x = np.random.default_rng(2).normal(size=(3, 4)).astype("float32")
    result = served(path)(features=tf.constant(x))["embedding"].numpy()
    np.testing.assert_allclose(result, np.asarray(model(x)), atol=1e-5)


def test_bad_encoders_are_refused(tmp_path):
    spatial = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(2, 3)])
    with pytest.raises(ValueError, match=r"embeddings of shape \[batch, dim\]"):
        export_embedding_model(spatial, tmp_path / "a")
    assert not (tmp_path / "a").exists()

    class Subclassed(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="wrap it: keras.Model"):
        embedding_input_signature(Subclassed())


def test_tiny_keras_hub_text_encoder_exports(tmp_path):
    keras_hub = pytest.importorskip("keras_hub")
    from kerascon.text import text_encoder

    keras.utils.set_random_seed(3)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=VOCAB, num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16,
        max_sequence_length=TOKENS,
    )
    encoder = text_encoder(backbone, pooling="mean")
    path = export_embedding_model(encoder, tmp_path / "bert")
    serve = served(path)
    assert set(serve.structured_input_signature[1]) == {"token_ids", "segment_ids",
                                                       "padding_mask"}
    inputs = token_inputs(4, seed=4)
    inputs["segment_ids"] = np.zeros_like(inputs["token_ids"])
    check_served_matches(encoder, serve, inputs)
