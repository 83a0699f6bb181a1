"""Supervised contrastive loss (Khosla et al., 2020) and SimCLR's NT-Xent.

The loss for anchor ``i`` (the paper's L_out, Eq. 2) is::

    L_i = -1/|P(i)| * sum_{p in P(i)} log( exp(z_i.z_p / t) / sum_{a in A(i)} exp(z_i.z_a / t) )

with ``A(i)`` every view in the (global) batch but ``i`` itself and ``P(i)`` the views
in ``A(i)`` that share ``i``'s label. Without labels ``P(i)`` is the other views of the
same image, which is SimCLR's NT-Xent. ``variant="in"`` moves the average over
positives inside the log (the paper's weaker L_in ablation).

Numerical conventions:

* Features are cast to float32 and L2-normalised whatever their dtype.
* The self-similarity is removed from numerator and denominator with a mask; the
  log-sum-exp is shifted by the row maximum over ``A(i)``, so no ``inf - inf`` can occur.
* **Anchors without a positive** (a class seen once in a batch with one view) carry no
  learning signal: they are left out of the mean. The loss is the mean over anchors that
  have at least one positive, and 0 (with a zero gradient) when no anchor has one.
* **One view and no labels** (nor mask) is an error: no anchor could ever have a
  positive, so training would silently do nothing.
* **A batch of one example** is allowed and well defined (a replica can get one or even
  zero examples from the last, partial batch of an epoch): with one view its only anchor
  has no positive, so the loss is 0 with a zero gradient; with V > 1 views the loss only
  pulls its views together (there are no negatives). It is never NaN.
* With ``base_temperature`` set, the loss is multiplied by
  ``temperature / base_temperature``: the SupContrast authors' PyTorch code does this
  with ``base_temperature=0.07``. The default (``None``) is the paper's formula.

Across replicas: called inside a ``tf.distribute`` replica context with several
replicas, the loss all-gathers features and labels, contrasts the local anchors
against the whole global batch and normalises by the global number of valid anchors
times ``1/num_replicas``. So the mean of the per-replica losses equals the
single-device loss on the global batch, and the sum over replicas of the gradients of
``replica_loss / num_replicas`` (what Keras' train step computes) equals the
single-device gradient. :class:`SupConLoss` divides its value by the number of replicas,
as Keras' own losses do under ``tf.distribute``, so ``model.compile(loss=SupConLoss())``
needs no further scaling.
"""

from __future__ import annotations

import math
import numbers

import keras
from keras import ops

from kerascon.backend import replica_context
from kerascon.choices import CONTRAST_MODES, LOSS_VARIANTS
from kerascon.errors import ConfigError, DataError
from kerascon.losses.blockwise import (
    AUTO_BLOCK_ELEMENTS,  # noqa: F401  (block_size="auto")
    keyed_supcon_sum,
    resolve_block_size,
)
from kerascon.losses.kernel import dense_supcon_sum, l2_normalize, not_self_mask

__all__ = ["SimCLRLoss", "SupConLoss", "simclr_loss", "supcon_loss"]


def _check_hyperparameters(temperature, base_temperature, variant, contrast_mode):
    for name, value in (("temperature", temperature), ("base_temperature", base_temperature)):
        if isinstance(value, numbers.Number) and not (value > 0 and math.isfinite(value)):
            raise ConfigError(
                f"{name} must be a positive finite number, got {value!r}; "
                "the paper's default temperature is 0.1"
            )
    if variant not in LOSS_VARIANTS:
        raise ConfigError(f"variant must be one of {LOSS_VARIANTS}, got {variant!r}")
    if contrast_mode not in CONTRAST_MODES:
        raise ConfigError(f"contrast_mode must be one of {CONTRAST_MODES}, got {contrast_mode!r}")


def _check_shapes(features, labels, mask):
    if len(features.shape) != 3:
        raise DataError(
            f"features must have shape [batch, views, dim], got rank {len(features.shape)} "
            f"shape {tuple(features.shape)}; add a views axis with ops.expand_dims(x, 1) "
            "for one view"
        )
    batch, views = features.shape[0], features.shape[1]
    if views is not None and views < 1:
        raise DataError(f"features must have at least 1 view, got {views}")
    if labels is not None and mask is not None:
        raise ConfigError("pass either labels or mask to supcon_loss, not both")
    if labels is None and mask is None and views == 1:
        raise ConfigError(
            f"features of shape {tuple(features.shape)}: one view and no labels gives no "
            "positives; pass labels or several views ([batch, views, dim] with views >= 2)"
        )
    if labels is not None:
        if len(labels.shape) != 1:
            raise DataError(
                f"labels must have shape [batch], got shape {tuple(labels.shape)}"
            )
        if batch is not None and labels.shape[0] is not None and labels.shape[0] != batch:
            raise DataError(
                f"labels has {labels.shape[0]} entries but features has a batch of {batch}; "
                "pass one label per example (not per view)"
            )
    if mask is not None:
        if len(mask.shape) != 2:
            raise DataError(f"mask must have shape [batch, batch], got {tuple(mask.shape)}")
        if batch is not None and mask.shape[0] is not None and mask.shape[0] != batch:
            raise DataError(
                f"mask has {mask.shape[0]} rows but features has a batch of {batch}"
            )


def _views_first(features):
    """[batch, views, dim] -> [views * batch, dim], view-major (view 0 of every example first)."""
    views, dim = ops.shape(features)[1], ops.shape(features)[2]
    return ops.reshape(ops.transpose(features, (1, 0, 2)), (-1, dim)), views


def supcon_loss(
    features,
    labels=None,
    *,
    temperature=0.1,
    base_temperature=None,
    variant="out",
    contrast_mode="all",
    mask=None,
    block_size="auto",
):
    """Supervised contrastive loss (SupCon), or SimCLR's NT-Xent without labels.

    Args:
        features: [batch, views, dim] embeddings of any float dtype. They are cast to
            float32 and L2-normalised here.
        labels: optional [batch] integer class labels. ``None`` (and no ``mask``) gives
            the self-supervised loss: the only positives are the other views of the same
            example, so it needs at least two views (one view raises ``ValueError``).
        temperature: softmax temperature, > 0. The paper uses 0.1.
        base_temperature: if set, the loss is scaled by ``temperature / base_temperature``
            (the authors' code uses 0.07). ``None`` keeps the paper's formula.
        variant: ``"out"`` (the paper's L_out, Eq. 2, default) or ``"in"`` (L_in, Eq. 3).
        contrast_mode: ``"all"`` uses every view as an anchor; ``"one"`` only the first
            view, contrasted against all views.
        mask: optional [batch, global_batch] 0/1 matrix of custom positives between
            examples; ``mask[i, j] = 1`` makes every view of example ``j`` a positive of
            example ``i``'s views. On one device ``global_batch == batch``.
        block_size: ``"auto"`` (default) computes densely for small batches and in blocks
            of anchor rows above ``AUTO_BLOCK_ELEMENTS`` similarity entries (memory grows
            with N * block instead of N^2, same value and gradient); ``None`` forces the
            dense computation; an int forces blocks of that many anchor rows. A custom
            ``mask`` always uses the dense computation.

    Returns:
        A float32 scalar: the mean loss over anchors that have at least one positive
        (0 if none has, e.g. a single example with one view: never NaN). Inside a
        multi-replica ``tf.distribute`` context it is this replica's share, scaled so that
        the mean over replicas is the global loss.

    Raises:
        ValueError: features not of rank 3, one view without labels or mask, labels or
            mask whose batch does not match, or a bad hyperparameter.

    Example:
        >>> import numpy as np
        >>> features = np.random.normal(size=(8, 2, 16)).astype("float32")
        >>> labels = np.array([0, 1, 0, 1, 2, 2, 3, 3])
        >>> loss = supcon_loss(features, labels, temperature=0.1)
        >>> simclr = supcon_loss(features)          # NT-Xent, no labels
    """
    _check_hyperparameters(temperature, base_temperature, variant, contrast_mode)
    features = ops.convert_to_tensor(features)
    if labels is not None:
        labels = ops.convert_to_tensor(labels)
    if mask is not None:
        mask = ops.convert_to_tensor(mask)
    _check_shapes(features, labels, mask)

    features = l2_normalize(features)
    replicas = replica_context()
    global_features = replicas.all_gather(features)
    local_batch = ops.shape(features)[0]
    global_batch = ops.shape(global_features)[0]
    local_index, local_keys, global_keys = replica_keys(replicas, labels, local_batch,
                                                        global_batch)

    contrast, views = _views_first(global_features)  # [views * global_batch, dim]
    if contrast_mode == "all":
        anchors, _ = _views_first(features)
        anchor_views = views
    else:
        anchors = features[:, 0]
        anchor_views = 1
    # Column of each anchor's own view in the contrast set: view * global_batch + index.
    anchor_view = ops.repeat(ops.arange(anchor_views, dtype="int32"), local_batch)
    self_columns = anchor_view * global_batch + ops.tile(local_index, (anchor_views,))

    batch_static, views_static = features.shape[0], features.shape[1]
    contrast_static = (None if batch_static is None or views_static is None
                       else batch_static * views_static * replicas.num_replicas)
    block = _resolve_block_size(block_size, anchors.shape[0], contrast_static, mask)
    if mask is None:
        totals = keyed_supcon_sum(
            anchors, ops.tile(local_keys, (anchor_views,)), self_columns, contrast,
            ops.tile(global_keys, (views,)), temperature=temperature, variant=variant,
            block_size=block,
        )
    else:  # rows of this replica's examples, every view of every example
        not_self = not_self_mask(self_columns, ops.shape(contrast)[0])
        positives = ops.logical_and(ops.tile(ops.not_equal(mask, 0), (anchor_views, views)),
                                    not_self)
        totals = dense_supcon_sum(anchors, contrast, positives, not_self,
                                  temperature=temperature, variant=variant)
    return replica_share(totals[0], totals[1], replicas, temperature, base_temperature)


def replica_keys(replicas, labels, local_batch, global_batch):
    """``(local_index, local_keys, global_keys)`` of this replica's examples.

    ``local_index`` [local_batch] int32 are their rows in the global batch (replica ``r``
    holds rows ``r * local_batch`` onwards). The keys decide positives between examples:
    ``labels`` (SupCon; gathered from every replica) or, with ``labels=None``, the example
    ids (SimCLR: ``local_index`` and ``arange(global_batch)``). Shared by
    :func:`supcon_loss` and the momentum key network (:mod:`kerascon.model.key_network`).
    """
    offset = ops.cast(replicas.replica_id, "int32") * local_batch
    local_index = ops.arange(local_batch, dtype="int32") + offset
    if labels is None:
        return local_index, local_index, ops.arange(global_batch, dtype="int32")
    local_keys = ops.cast(ops.reshape(labels, (-1,)), "int32")
    return local_index, local_keys, replicas.all_gather(local_keys)


def replica_share(loss_sum, valid, replicas, temperature, base_temperature):
    """This replica's share of the loss from its ``loss_sum`` over ``valid`` anchors.

    Normalised by the number of valid anchors in the *global* batch (times the number of
    replicas), so the mean over replicas is the global loss and replicas agree; scaled by
    ``temperature / base_temperature`` when ``base_temperature`` is set. Shared by
    :func:`supcon_loss` and the momentum key network (:mod:`kerascon.model.key_network`).
    """
    global_valid = ops.sum(replicas.all_gather(ops.reshape(ops.stop_gradient(valid), (1,))))
    loss = loss_sum * replicas.num_replicas / ops.maximum(global_valid, 1.0)
    if base_temperature is not None:
        loss = loss * (ops.cast(temperature, "float32") / ops.cast(base_temperature, "float32"))
    return loss


def _resolve_block_size(block_size, num_anchors, num_contrast, mask):
    """``None`` for the dense computation, or the anchor rows per block: the one policy of
    :func:`kerascon.losses.blockwise.resolve_block_size`, and always dense with a custom
    ``mask`` (asking for blocks with one is an error)."""
    block = resolve_block_size(block_size, num_anchors, num_contrast)
    if mask is None or block is None:
        return block
    if block_size != "auto":
        raise ConfigError(
            "a custom mask needs the dense computation; pass block_size=None with mask"
        )
    return None


def simclr_loss(features, *, temperature=0.1, base_temperature=None, variant="out"):
    """SimCLR's NT-Xent: :func:`supcon_loss` without labels.

    Example:
        >>> import numpy as np
        >>> loss = simclr_loss(np.random.normal(size=(8, 2, 16)).astype("float32"))
    """
    return supcon_loss(
        features, None, temperature=temperature, base_temperature=base_temperature, variant=variant
    )


def _as_views(y_pred):
    """Accept [batch, dim] (one view) or [batch, views, dim] embeddings."""
    rank = len(y_pred.shape)
    if rank == 2:
        return ops.expand_dims(y_pred, 1)
    if rank != 3:
        raise DataError(
            "the model output (y_pred) must be embeddings of shape [batch, dim] (one view) or "
            f"[batch, views, dim], got rank {rank} shape {tuple(y_pred.shape)}; "
            "flatten or pool the encoder output to [batch, dim]"
        )
    return y_pred


def _as_labels(y_true):
    """Integer labels of shape [batch] or [batch, 1] -> int32 [batch] (None stays None)."""
    if y_true is None:
        return None
    shape = tuple(y_true.shape)
    if len(shape) > 2 or (len(shape) == 2 and shape[1] not in (1, None)) or len(shape) == 0:
        raise DataError(
            f"y_true must be integer class labels of shape [batch] or [batch, 1], got shape "
            f"{shape}; pass class indices, not one-hot vectors (np.argmax(y, axis=-1))"
        )
    return ops.reshape(ops.cast(y_true, "int32"), (-1,))


@keras.saving.register_keras_serializable(package="kerascon")
class SupConLoss(keras.losses.Loss):
    """Supervised contrastive loss as a Keras ``Loss``: ``y_true`` are integer labels.

    ``y_pred`` is [batch, dim] (one view per example) or [batch, views, dim]; ``y_true``
    is [batch] or [batch, 1] integer class labels. It works in ``model.compile`` of any
    Keras model that outputs embeddings, on the TensorFlow and JAX backends, and under a
    ``tf.distribute`` strategy: negatives are gathered from all replicas and the value is
    divided by the number of replicas like Keras' own losses, so the summed replica
    gradients equal the single-device gradient on the global batch.

    With one view the only positives are other examples of the same class, so labels are
    required (``ValueError`` otherwise); an example whose class appears once in the batch
    has no positive and is left out of the mean (a batch where no example has one gives 0).
    ``sample_weight`` is not supported (the loss is not a sum over independent examples).

    Args:
        temperature, base_temperature, variant, contrast_mode: see :func:`supcon_loss`.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8)])
        >>> model.compile(optimizer="sgd", loss=SupConLoss(temperature=0.1))
        >>> # model.fit(x, integer_labels, batch_size=256)
    """

    def __init__(
        self,
        temperature=0.1,
        base_temperature=None,
        variant="out",
        contrast_mode="all",
        name="supcon_loss",
        reduction="sum_over_batch_size",
        dtype=None,
    ):
        _check_hyperparameters(temperature, base_temperature, variant, contrast_mode)
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.temperature = temperature
        self.base_temperature = base_temperature
        self.variant = variant
        self.contrast_mode = contrast_mode

    def __call__(self, y_true, y_pred, sample_weight=None):
        # The loss is already one scalar for the batch: Keras' reduction (and its float
        # cast of y_true, which would round labels above 2**24) has nothing to add.
        if sample_weight is not None:
            raise ConfigError(
                f"{type(self).__name__} does not support sample_weight; drop sample_weight "
                "(or class_weight) from fit, or repeat examples to weight them"
            )
        with keras.name_scope(self.name):
            y_pred = ops.convert_to_tensor(y_pred)
            y_true = None if y_true is None else ops.convert_to_tensor(y_true)
            return self.call(y_true, y_pred)

    def call(self, y_true, y_pred):
        loss = supcon_loss(
            _as_views(y_pred),
            _as_labels(y_true),
            temperature=self.temperature,
            base_temperature=self.base_temperature,
            variant=self.variant,
            contrast_mode=self.contrast_mode,
        )
        # Keras divides a loss by the number of replicas inside its reduction, but leaves a
        # scalar untouched; do it here so the optimizer's sum over replicas is not a
        # multiple of the single-device gradient.
        replicas = replica_context().num_replicas
        return loss / replicas if replicas > 1 else loss

    def get_config(self):
        config = super().get_config()
        config.update(
            temperature=self.temperature,
            base_temperature=self.base_temperature,
            variant=self.variant,
            contrast_mode=self.contrast_mode,
        )
        return config


@keras.saving.register_keras_serializable(package="kerascon")
class SimCLRLoss(SupConLoss):
    """SimCLR's NT-Xent as a Keras ``Loss``; ``y_true`` is ignored.

    ``y_pred`` must hold at least two views: [batch, views, dim].

    Example:
        >>> loss = SimCLRLoss(temperature=0.5)
    """

    def __init__(self, temperature=0.1, base_temperature=None, variant="out",
                 contrast_mode="all", name="simclr_loss", reduction="sum_over_batch_size",
                 dtype=None):
        super().__init__(temperature, base_temperature, variant, contrast_mode,
                         name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return super().call(None, y_pred)
