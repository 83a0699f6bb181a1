"""Input structures of a SupConModel's encoder: images, dicts of token ids, anything.

An encoder declares its inputs (a functional ``keras.Model`` has ``encoder.input``: one
tensor, or a dict / list of them). A batch for one view has those ranks; a multi-view
batch has one more axis, ``views``, at position 1 in every tensor. Encoders that declare
nothing (subclassed models, plain layers) are taken to be image encoders: ``[B, H, W, C]``.
"""

from __future__ import annotations

import keras
from keras import ops

from kerascon.errors import DataError

__all__ = ["EncoderInputs", "describe_encoder_inputs"]


class EncoderInputs:
    """What the encoder takes: its input structure and the rank of each tensor.

    Example:
        >>> import keras
        >>> import numpy as np
        >>> inputs = {"token_ids": keras.Input((None,), dtype="int32", name="token_ids"),
        ...           "padding_mask": keras.Input((None,), dtype="int32", name="padding_mask")}
        >>> tokens = keras.layers.Embedding(1000, 32)(inputs["token_ids"])
        >>> pooled = keras.layers.GlobalAveragePooling1D()(tokens, mask=inputs["padding_mask"])
        >>> text_encoder = keras.Model(inputs, pooled)
        >>> spec = describe_encoder_inputs(text_encoder)      # dict of token ids + mask
        >>> spec.is_image, spec.keys
        (False, ('padding_mask', 'token_ids'))
        >>> ids_b_v_t = mask_b_v_t = np.ones((4, 2, 16), "int32")   # [batch, views, tokens]
        >>> spec.is_multiview({"token_ids": ids_b_v_t, "padding_mask": mask_b_v_t})
        True
    """

    def __init__(self, structure):
        self.structure = structure  # KerasTensors as the encoder declares them, or None
        if structure is None:
            self.ranks = [4]
            self.keys = None
            self.is_image = True
        else:
            leaves = keras.tree.flatten(structure)
            self.ranks = [len(t.shape) for t in leaves]
            self.keys = tuple(sorted(structure)) if isinstance(structure, dict) else None
            self.is_image = (len(leaves) == 1 and self.ranks[0] == 4
                             and leaves[0].shape[-1] in (1, 3, 4))

    # ------------------------------------------------------------------ checks
    def check(self, x):
        """Raise a one-line error when ``x`` does not have the encoder's structure."""
        if self.keys is not None:
            if not isinstance(x, dict):
                raise DataError(f"the encoder takes a dict with keys {list(self.keys)}, "
                                f"got {type(x).__name__}; feed batches as dicts")
            missing = sorted(set(self.keys) - set(x))
            extra = sorted(set(x) - set(self.keys))
            if missing or extra:
                raise DataError(f"input keys {sorted(x)} do not match the encoder's "
                                f"{list(self.keys)} (missing {missing}, unexpected {extra})")
        leaves = keras.tree.flatten(x)
        if len(leaves) != len(self.ranks):
            raise DataError(f"the encoder takes {len(self.ranks)} input tensor(s), got "
                            f"{len(leaves)}; match the structure of encoder.input")

    def _rank_offset(self, x):
        leaves = keras.tree.flatten(x)
        return len(leaves[0].shape) - self.ranks[0]

    def is_multiview(self, x):
        """True when ``x`` has a views axis (one more dimension than the encoder takes)."""
        self.check(x)
        offset = self._rank_offset(x)
        if offset not in (0, 1):
            expected = "[batch, H, W, C] or [batch, views, H, W, C]" if self.is_image else (
                f"rank {self.ranks[0]} (one view) or {self.ranks[0] + 1} (with a views axis)")
            shape = tuple(keras.tree.flatten(x)[0].shape)
            raise DataError(f"input of shape {shape} does not fit the encoder: expected "
                            f"{expected}")
        return offset == 1

    # ------------------------------------------------------------------ reshaping
    @staticmethod
    def num_views(x):
        return keras.tree.flatten(x)[0].shape[1]

    @staticmethod
    def merge_views(x):
        """[B, V, ...] -> [B * V, ...] for every tensor (view v of example b at b * V + v)."""
        return keras.tree.map_structure(
            lambda t: ops.reshape(t, (-1,) + tuple(t.shape[2:])), x)

    @staticmethod
    def add_views_axis(x):
        """[B, ...] -> [B, 1, ...] for every tensor."""
        return keras.tree.map_structure(lambda t: ops.expand_dims(t, 1), x)

    def symbolic_inputs(self, image_shape=(None, None, 3)):
        """Fresh ``keras.Input``s with the encoder's structure (for export models)."""
        if self.structure is None or self.is_image:
            return keras.Input(image_shape, name="images")
        return keras.tree.map_structure(
            lambda t: keras.Input(batch_shape=(None,) + tuple(t.shape[1:]), dtype=t.dtype,
                                  name=getattr(t, "name", None)),
            self.structure)


def describe_encoder_inputs(encoder):
    """:class:`EncoderInputs` of a functional encoder's declared inputs (images otherwise)."""
    structure = None
    if isinstance(encoder, keras.Model):
        try:
            structure = encoder.input
        except (AttributeError, ValueError):
            structure = None
    return EncoderInputs(structure)
