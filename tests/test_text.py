"""kerascon.text: keras-hub backbones pooled to embeddings, and CE + SupCon fine-tuning.

Backbones are built from a tiny config with random weights: nothing is downloaded.
"""

import ast
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import kerascon
from kerascon.text import (
    GUNEL_JOINT_WEIGHT,
    GUNEL_TEMPERATURE,
    joint_classifier,
    joint_loss_config,
    text_encoder,
)

keras_hub = pytest.importorskip("keras_hub")

VOCAB, TOKENS, HIDDEN = 40, 10, 8


def tiny_bert():
    return keras_hub.models.BertBackbone(
        vocabulary_size=VOCAB, num_layers=1, num_heads=2, hidden_dim=HIDDEN,
        intermediate_dim=16, max_sequence_length=TOKENS,
    )


def token_batch(n=32, seed=0, segments=True):
    """Class 0 uses the lower half of the vocabulary, class 1 the upper half; padded."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=n).astype("int32")
    low = 1 + labels[:, None] * (VOCAB // 2)
    ids = rng.integers(0, VOCAB // 2 - 1, size=(n, TOKENS)) + low
    mask = np.arange(TOKENS)[None] < rng.integers(3, TOKENS + 1, size=n)[:, None]
    inputs = {"token_ids": (ids * mask).astype("int32"), "padding_mask": mask.astype("int32")}
    if segments:
        inputs["segment_ids"] = np.zeros_like(inputs["token_ids"])
    return inputs, labels


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_pooling_reads_the_backbone_token_features(pooling):
    keras.utils.set_random_seed(0)
    backbone = tiny_bert()
    encoder = text_encoder(backbone, pooling=pooling)
    assert set(encoder.input) == {"token_ids", "segment_ids", "padding_mask"}
    inputs, _ = token_batch(n=6)
    embedding = np.asarray(encoder(inputs))
    assert embedding.shape == (6, HIDDEN) and embedding.dtype == np.float32
    sequence = np.asarray(backbone(inputs)["sequence_output"])
    if pooling == "cls":
        expected = sequence[:, 0]
    else:
        mask = inputs["padding_mask"][..., None].astype("float32")
        expected = (sequence * mask).sum(1) / mask.sum(1)
    np.testing.assert_allclose(embedding, expected, rtol=1e-5, atol=1e-6)
    # Tokens behind the padding mask change nothing.
    noisy = dict(inputs, token_ids=np.where(inputs["padding_mask"] > 0, inputs["token_ids"], 7))
    np.testing.assert_allclose(np.asarray(encoder(noisy)), embedding, rtol=1e-5, atol=1e-6)


def test_joint_ce_plus_supcon_fine_tuning_learns_on_token_ids():
    keras.utils.set_random_seed(1)
    model = joint_classifier(text_encoder(tiny_bert()), num_classes=2)
    config = joint_loss_config()
    assert config["loss"]["embedding"].temperature == GUNEL_TEMPERATURE
    assert config["loss_weights"] == {"logits": pytest.approx(1 - GUNEL_JOINT_WEIGHT),
                                      "embedding": GUNEL_JOINT_WEIGHT}
    # Eager steps: tracing a transformer's train step costs more CPU than a few eager steps
    # (the graph path of SupConLoss is covered by test_loss_any_model.py).
    model.compile(optimizer=keras.optimizers.Adam(3e-3), run_eagerly=True, **config)
    inputs, labels = token_batch(n=16)
    logs = [model.train_on_batch(inputs, {"logits": labels, "embedding": labels},
                                 return_dict=True) for _ in range(4)]
    for step in logs:
        assert all(np.isfinite(step[name]) for name in ("loss", "logits_loss", "embedding_loss"))
        # The total is (1 - λ) CE + λ SupCon of the logged parts.
        expected = ((1 - GUNEL_JOINT_WEIGHT) * step["logits_loss"]
                    + GUNEL_JOINT_WEIGHT * step["embedding_loss"])
        np.testing.assert_allclose(step["loss"], expected, rtol=1e-4)
    assert logs[-1]["loss"] < logs[0]["loss"]
    assert logs[-1]["embedding_loss"] < logs[0]["embedding_loss"]


def test_two_input_backbone():
    keras.utils.set_random_seed(2)
    backbone = keras_hub.models.DistilBertBackbone(
        vocabulary_size=VOCAB, num_layers=1, num_heads=2, hidden_dim=HIDDEN,
        intermediate_dim=16, max_sequence_length=TOKENS,
    )
    encoder = text_encoder(backbone, pooling="mean")
    assert set(encoder.input) == {"token_ids", "padding_mask"}
    inputs, labels = token_batch(n=6, seed=3, segments=False)
    embedding = encoder(inputs)
    assert tuple(embedding.shape) == (6, HIDDEN)
    loss = kerascon.SupConLoss(temperature=GUNEL_TEMPERATURE)(labels, embedding)
    assert np.isfinite(float(loss)) and float(loss) > 0


def test_encoder_round_trips_through_keras_saving(tmp_path):
    keras.utils.set_random_seed(4)
    encoder = text_encoder(tiny_bert(), pooling="mean", name="bert_mean")
    path = tmp_path / "encoder.keras"
    encoder.save(path)
    inputs, _ = token_batch(n=4, seed=5)
    for restored in (keras.saving.load_model(path), kerascon.load_model(path)):
        assert isinstance(restored.get_layer("bert_backbone"), keras_hub.models.BertBackbone)
        assert restored.get_layer("mean_pooling").mode == "mean"
        np.testing.assert_allclose(np.asarray(restored(inputs)), np.asarray(encoder(inputs)),
                                   rtol=1e-6, atol=1e-6)


def test_bad_arguments_name_the_fix():
    backbone = tiny_bert()
    with pytest.raises(ValueError, match="pooling must be one of"):
        text_encoder(backbone, pooling="max")
    with pytest.raises(TypeError, match="input is a dict"):
        text_encoder(keras.layers.Dense(3))
    with pytest.raises(ValueError, match=r"joint_weight must be in \[0, 1\]"):
        joint_loss_config(joint_weight=1.5)


def test_keras_hub_is_optional(monkeypatch):
    """kerascon never imports keras-hub at import time, and says how to install it."""
    for path in Path(kerascon.__file__).parent.rglob("*.py"):
        for node in ast.parse(path.read_text()).body:  # module-level statements only
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert not any(n.split(".")[0] == "keras_hub" for n in names), path
    monkeypatch.setitem(sys.modules, "keras_hub", None)  # as if not installed
    with pytest.raises(ImportError, match=r"keras-hub is not installed; pip install "
                                          r"'kerascon\[text\]'"):
        text_encoder("bert_tiny_en_uncased")
