"""Text encoders for SupCon fine-tuning: a keras-hub backbone pooled to one embedding.

Gunel et al., "Supervised Contrastive Learning for Pre-trained Language Model
Fine-tuning", ICLR 2021 (arXiv:2011.01403), fine-tune a pre-trained transformer with
cross-entropy plus a supervised contrastive term on the L2-normalised [CLS] embedding:
one view per example, the other examples of the same class in the batch as positives::

    L = (1 - λ) · L_CE + λ · L_SCL

:func:`text_encoder` turns a keras-hub backbone into a functional model that maps the
backbone's own input dict (``token_ids``, ``padding_mask``, and ``segment_ids`` for BERT)
to a float [B, D] embedding; :func:`joint_classifier` adds the classification head and
:func:`joint_loss_config` the weighted pair of losses, so the whole recipe is a plain
``model.compile`` / ``model.fit`` on the TensorFlow or JAX backend (and under a
distribution strategy).

keras-hub is an optional extra (``pip install 'kerascon[text]'``); it is imported only
when a preset name has to be resolved, never when kerascon is imported.
"""

from __future__ import annotations

import keras
from keras import ops

from kerascon.errors import ConfigError, ConfigTypeError, DependencyError
from kerascon.losses.supcon import SupConLoss

__all__ = [
    "GUNEL_JOINT_WEIGHT",
    "GUNEL_TEMPERATURE",
    "SequencePooling",
    "joint_classifier",
    "joint_loss_config",
    "text_encoder",
]

# Source: Gunel, Du, Conneau, Stoyanov, "Supervised Contrastive Learning for Pre-trained
# Language Model Fine-tuning", ICLR 2021, https://arxiv.org/abs/2011.01403 (the best
# configuration reported there; the loss is (1 - λ) · CE + λ · SCL).
#: SCL temperature τ (Gunel et al., ICLR 2021).
GUNEL_TEMPERATURE = 0.3
#: Weight λ of the SCL term in ``(1 - λ) · CE + λ · SCL`` (Gunel et al., ICLR 2021).
GUNEL_JOINT_WEIGHT = 0.9

_POOLINGS = ("cls", "mean")
_MISSING = "keras-hub is not installed; pip install 'kerascon[text]'"


def _keras_hub():
    try:
        import keras_hub
    except ImportError as error:
        raise DependencyError(_MISSING) from error
    return keras_hub


@keras.saving.register_keras_serializable(package="kerascon")
class SequencePooling(keras.layers.Layer):
    """[B, T, D] token features -> [B, D]: the first ([CLS]) token or a masked mean.

    Args:
        mode: ``"cls"`` takes token 0; ``"mean"`` averages the tokens where
            ``padding_mask`` is true (a row without any token gives zeros, not NaN).

    Example:
        >>> import numpy as np
        >>> sequence = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
        >>> mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)   # [B, T]
        >>> pooled = SequencePooling("mean")(sequence, padding_mask=mask)   # [2, 8]
    """

    def __init__(self, mode="cls", **kwargs):
        super().__init__(**kwargs)
        if mode not in _POOLINGS:
            raise ConfigError(f"pooling must be one of {_POOLINGS}, got {mode!r}")
        self.mode = mode
        self.supports_masking = False

    def call(self, sequence, padding_mask=None):
        if self.mode == "cls":
            return sequence[:, 0, :]
        if padding_mask is None:
            raise ConfigError("mean pooling needs padding_mask; pass it or use pooling='cls'")
        weights = ops.expand_dims(ops.cast(padding_mask, sequence.dtype), -1)
        total = ops.sum(sequence * weights, axis=1)
        count = ops.maximum(ops.sum(weights, axis=1), ops.cast(1.0, sequence.dtype))
        return total / count

    def compute_output_shape(self, sequence_shape, padding_mask_shape=None):
        return (sequence_shape[0], sequence_shape[-1])

    def compute_mask(self, sequence, padding_mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def _fresh_inputs(model):
    """New ``keras.Input`` with ``model``'s input structure, names, shapes and dtypes."""
    def fresh(name, tensor):
        return keras.Input(shape=tuple(tensor.shape[1:]), dtype=tensor.dtype, name=name)

    structure = model.input
    if isinstance(structure, dict):
        return {key: fresh(key, tensor) for key, tensor in structure.items()}
    return keras.tree.map_structure(lambda tensor: fresh(tensor.name, tensor), structure)


def text_encoder(backbone, pooling="cls", name="text_encoder"):
    """A functional model: the backbone's input dict -> pooled float [B, D] embedding.

    Args:
        backbone: a keras-hub ``Backbone`` (any functional model whose input is a dict
            with ``token_ids`` and ``padding_mask`` and whose output is [B, T, D] token
            features or a dict holding them under ``sequence_output``), or a keras-hub
            preset name, loaded with ``keras_hub.models.Backbone.from_preset``.
        pooling: ``"cls"`` (default: the first token, the [CLS] representation Gunel et al.
            contrast) or ``"mean"`` (average over the tokens where ``padding_mask`` is set).
        name: the model's name.

    Returns:
        A ``keras.Model`` with the backbone as a nested layer. It saves and loads with
        ``keras.saving`` (import ``kerascon.text`` first, or use ``kerascon.load_model``).
        Only the token features are used: a BERT backbone's own pooler (``pooled_dense``)
        gets no gradient, and Keras warns about it during ``fit``.

    Example:
        >>> import keras, keras_hub
        >>> from kerascon.losses import SupConLoss
        >>> from kerascon.text import GUNEL_TEMPERATURE, text_encoder
        >>> backbone = keras_hub.models.BertBackbone.from_preset("bert_tiny_en_uncased")
        >>> encoder = text_encoder(backbone, pooling="cls")
        >>> encoder.compile(optimizer=keras.optimizers.AdamW(1e-5),
        ...                 loss=SupConLoss(temperature=GUNEL_TEMPERATURE))
        >>> # encoder.fit({"token_ids": ids, "segment_ids": segments,
        >>> #              "padding_mask": mask}, labels, batch_size=16)
    """
    if pooling not in _POOLINGS:
        raise ConfigError(f"pooling must be one of {_POOLINGS}, got {pooling!r}")
    if isinstance(backbone, str):
        backbone = _keras_hub().models.Backbone.from_preset(backbone)
    if not isinstance(getattr(backbone, "input", None), dict):
        raise ConfigTypeError(
            "text_encoder needs a built backbone whose input is a dict (keras-hub backbones "
            f"take token_ids and padding_mask), got {type(backbone).__name__}"
        )
    inputs = _fresh_inputs(backbone)
    if pooling == "mean" and "padding_mask" not in inputs:
        raise ConfigError(
            f"mean pooling needs a 'padding_mask' input, the backbone has {sorted(inputs)}; "
            "use pooling='cls'"
        )
    outputs = backbone(inputs)
    if isinstance(outputs, dict):
        if "sequence_output" not in outputs:
            raise ConfigError(
                f"the backbone returns {sorted(outputs)}, not 'sequence_output'; pass a "
                "backbone that returns token features [batch, tokens, dim]"
            )
        outputs = outputs["sequence_output"]
    if len(outputs.shape) != 3:
        raise ConfigError(
            f"the backbone must return token features [batch, tokens, dim], got shape "
            f"{tuple(outputs.shape)}"
        )
    pooled = SequencePooling(pooling, name=f"{pooling}_pooling")(
        outputs, padding_mask=inputs.get("padding_mask")
    )
    return keras.Model(inputs, pooled, name=name)


def joint_classifier(encoder, num_classes, name="joint_classifier"):
    """``encoder`` plus a linear classifier: outputs ``{"logits", "embedding"}``.

    The classifier reads the same embedding that the contrastive loss sees, as in Gunel et
    al. Train it with :func:`joint_loss_config` and the labels for both outputs.

    Example:
        >>> import keras_hub
        >>> import numpy as np
        >>> backbone = keras_hub.models.BertBackbone.from_preset("bert_tiny_en_uncased")
        >>> model = joint_classifier(text_encoder(backbone), num_classes=2)
        >>> model.compile(optimizer=keras.optimizers.AdamW(1e-5), **joint_loss_config())
        >>> inputs = {"token_ids": np.ones((32, 16), "int32"), "segment_ids": np.zeros((32, 16), "int32"),
        ...           "padding_mask": np.ones((32, 16), "int32")}
        >>> labels = np.arange(32) % 2
        >>> model.fit(inputs, {"logits": labels, "embedding": labels}, batch_size=16)
    """
    inputs = _fresh_inputs(encoder)
    embedding = encoder(inputs)
    logits = keras.layers.Dense(num_classes, name="classifier")(embedding)
    outputs = {
        "logits": keras.layers.Identity(name="logits")(logits),
        "embedding": keras.layers.Identity(name="embedding")(embedding),
    }
    return keras.Model(inputs, outputs, name=name)


def joint_loss_config(temperature=GUNEL_TEMPERATURE, joint_weight=GUNEL_JOINT_WEIGHT):
    """``loss`` and ``loss_weights`` for ``compile``: ``(1 - λ) · CE + λ · SupCon``.

    Args:
        temperature: SupCon temperature τ (Gunel et al.'s best: 0.3).
        joint_weight: λ in [0, 1], the weight of the contrastive term (their best: 0.9).

    Example:
        >>> import keras_hub
        >>> backbone = keras_hub.models.BertBackbone.from_preset("bert_tiny_en_uncased")
        >>> model = joint_classifier(text_encoder(backbone), num_classes=2)
        >>> model.compile(optimizer="adam", **joint_loss_config(joint_weight=0.5))
    """
    if not 0.0 <= joint_weight <= 1.0:
        raise ConfigError(f"joint_weight must be in [0, 1], got {joint_weight!r}")
    return {
        "loss": {
            "logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            "embedding": SupConLoss(temperature=temperature),
        },
        "loss_weights": {"logits": 1.0 - joint_weight, "embedding": joint_weight},
    }
