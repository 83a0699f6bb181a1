"""SupConModel beyond images: dict inputs, one view per example, dropout views, text joint."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerascon.export import export_embedding_model
from kerascon.layers.views import RepeatViews
from kerascon.model import SupConModel

VOCAB, TOKENS, WIDTH = 40, 8, 16


def token_encoder(dropout=0.2):
    """A tiny dict-input text encoder: embedding, dropout, masked mean over tokens."""
    ids = keras.Input((TOKENS,), dtype="int32", name="token_ids")
    mask = keras.Input((TOKENS,), dtype="int32", name="padding_mask")
    x = keras.layers.Embedding(VOCAB, WIDTH)(ids)
    x = keras.layers.Dropout(dropout)(x)
    x = keras.layers.Dense(WIDTH, activation="relu")(x)
    weights = keras.ops.expand_dims(keras.ops.cast(mask, "float32"), -1)
    pooled = keras.ops.sum(x * weights, axis=1) / keras.ops.maximum(
        keras.ops.sum(weights, axis=1), 1.0)
    return keras.Model({"token_ids": ids, "padding_mask": mask}, pooled, name="tokens")


def token_batch(n=16, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n).astype("int32")
    ids = rng.integers(1, VOCAB // 2, (n, TOKENS)) + labels[:, None] * (VOCAB // 2 - 1)
    mask = (np.arange(TOKENS)[None] < rng.integers(2, TOKENS + 1, n)[:, None]).astype("int32")
    return {"token_ids": (ids * mask).astype("int32"), "padding_mask": mask}, labels


def text_model(**kwargs):
    kwargs.setdefault("projection_dim", 8)
    kwargs.setdefault("projection_hidden_dim", 16)
    return SupConModel(token_encoder(), 2, **kwargs)


def test_dict_inputs_one_view_with_labels_trains_supcon():
    keras.utils.set_random_seed(0)
    model = text_model()
    assert model.preprocessing is None  # nothing image-specific for a text encoder
    x, y = token_batch()
    before = [np.array(w) for w in model.encoder.weights]
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert all(math.isfinite(v) and v > 0 for v in history.history["loss"])
    assert any(not np.allclose(a, b) for a, b in zip(before, model.encoder.weights))
    out = model.predict(x, verbose=0)
    assert out["embedding"].shape == (16, WIDTH) and out["projection"].shape == (16, 8)
    multi = model({k: np.stack([v, v], axis=1) for k, v in x.items()})
    assert tuple(multi["projection"].shape) == (16, 2, 8)


def test_dropout_views_make_simcse_pairs():
    keras.utils.set_random_seed(1)
    model = text_model(use_labels=False, augmentation=RepeatViews(2))
    x, _ = token_batch()
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    history = model.fit(x, batch_size=8, epochs=2, verbose=0)
    assert all(math.isfinite(v) for v in history.history["loss"])
    # The two copies differ through dropout in training: SimCLR loss of the pair is
    # above its value for identical views.
    views = RepeatViews(2)(x)
    merged = {k: keras.ops.reshape(v, (-1, TOKENS)) for k, v in views.items()}
    train_proj = keras.ops.reshape(model.projection_head(model.encoder(merged, training=True)),
                                   (16, 2, -1))
    eval_proj = keras.ops.reshape(model.projection_head(model.encoder(merged, training=False)),
                                  (16, 2, -1))
    assert not np.allclose(np.asarray(train_proj[:, 0]), np.asarray(train_proj[:, 1]))
    np.testing.assert_allclose(np.asarray(eval_proj[:, 0]), np.asarray(eval_proj[:, 1]),
                               atol=1e-6)


def test_mismatched_inputs_and_missing_labels_are_clear_errors():
    model = text_model()
    model.compile(optimizer="sgd")
    x, y = token_batch(n=8)
    with pytest.raises(ValueError, match=r"missing \['padding_mask'\]"):
        model.fit({"token_ids": x["token_ids"]}, y, verbose=0)
    with pytest.raises(ValueError, match="needs \\(inputs, labels\\) batches"):
        model.fit(x, verbose=0)
    with pytest.raises(ValueError, match="does not fit the encoder"):
        model({k: v[:, None, None] for k, v in x.items()})


def test_single_example_batch_gives_a_finite_loss():
    model = text_model()
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    x, y = token_batch(n=1)
    loss = model.evaluate(x, y, batch_size=1, verbose=0)
    assert math.isfinite(loss) and loss == 0.0  # one example, one view: no positive


def test_joint_stage_weights_ce_and_supcon_and_exports_embeddings(tmp_path):
    keras.utils.set_random_seed(2)
    model = text_model(stage="joint", temperature=0.3, joint_weight=0.9, ce_weight=0.1)
    x, y = token_batch(n=16)
    model.compile(optimizer=keras.optimizers.SGD(0.2))
    logs = model.fit(x, y, batch_size=16, epochs=3, verbose=0).history
    for ce, con, total in zip(logs["ce_loss"], logs["supcon_loss"], logs["loss"]):
        np.testing.assert_allclose(total, 0.1 * ce + 0.9 * con, rtol=1e-5)
    path = tmp_path / "joint.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.ce_weight == 0.1 and restored.stage == "joint"
    np.testing.assert_allclose(restored.predict(x, verbose=0)["logits"],
                               model.predict(x, verbose=0)["logits"], atol=1e-5)
    export = tmp_path / "embeddings"
    export_embedding_model(model.embedding_model(), str(export))
    served = tf.saved_model.load(str(export)).signatures["serving_default"]
    vectors = served(**{k: tf.constant(v) for k, v in x.items()})["embedding"].numpy()
    expected = model.predict(x, verbose=0)["embedding"]
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)


def test_keras_hub_backbone_in_the_joint_stage():
    keras_hub = pytest.importorskip("keras_hub")
    from kerascon.text import GUNEL_JOINT_WEIGHT, GUNEL_TEMPERATURE, text_encoder

    keras.utils.set_random_seed(3)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=VOCAB, num_layers=1, num_heads=2, hidden_dim=WIDTH,
        intermediate_dim=16, max_sequence_length=TOKENS)
    model = SupConModel(text_encoder(backbone), 2, stage="joint", projection_dim=8,
                        projection_hidden_dim=16, temperature=GUNEL_TEMPERATURE,
                        joint_weight=GUNEL_JOINT_WEIGHT, ce_weight=1 - GUNEL_JOINT_WEIGHT)
    x, y = token_batch(n=8)
    x["segment_ids"] = np.zeros_like(x["token_ids"])
    before = [np.array(w) for w in backbone.weights]
    model.compile(optimizer=keras.optimizers.SGD(0.1), run_eagerly=True)
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert all(math.isfinite(v) for v in history.history["loss"])
    assert any(not np.allclose(a, b) for a, b in zip(before, backbone.weights))
