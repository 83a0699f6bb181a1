"""The per-anchor SupCon kernel shared by every SupCon loss of kerascon.

:func:`anchor_terms` takes the logits of a block of anchor rows against the whole contrast
set (``z_i . z_a / t``) with two boolean masks, and returns the sum of the per-anchor losses
over the anchors that have a positive, their number, and ``g = d(loss sum) / d(logits)``
(softmax over A(i) minus the positives' weights, zero on rows without a positive). The
dense loss is one block holding every anchor (:func:`dense_supcon_sum`); the blockwise loss
(:mod:`kerascon.losses.blockwise`) calls the same kernel block after block. The batch loss
(:mod:`kerascon.losses`, on one device or across replicas) and the loss against a queue of
keys (:mod:`kerascon.losses.queue`) both reach it through
:func:`kerascon.losses.blockwise.keyed_supcon_sum`.

The masks come from :func:`anchor_masks`: A(i) is every contrast column but the anchor's
own, less the columns that ``columns_valid`` marks invalid (unwritten queue entries) and
every column of a padding row (``rows_valid``); P(i) is the columns of A(i) whose key
equals the anchor's. :func:`l2_normalize` is the one float32 L2 normalisation of the
losses, the key network and :class:`kerascon.layers.L2Normalize`.

Both wrap it in a hand-written gradient: with ``g`` as above, ``d anchors = g @ contrast / t``
and ``d contrast = g^T @ anchors / t`` (:func:`logit_input_grads`). The forward body sees
``stop_gradient`` copies of its inputs, so an eager ``tf.GradientTape`` (or Keras'
``run_eagerly=True``) records one op for the whole loss instead of every intermediate.
"""

from __future__ import annotations

from keras import ops

# A large finite negative stands in for -inf in masked maxima and log-sum-exps: it keeps
# every intermediate finite, so neither values nor gradients can become NaN.
MASKED_LOGIT = -1e9


def l2_normalize(x, axis=-1, epsilon=1e-12):
    """``x`` in float32, scaled to unit L2 norm along ``axis``.

    The squared norm is floored at ``epsilon``, so a zero vector stays zero and neither the
    value nor the gradient is NaN. A float64 ``x`` is normalised before the cast (values
    beyond float32's range would become inf), then again in float32.

    Example:
        >>> import numpy as np
        >>> l2_normalize(np.array([[3.0, 4.0]]))   # [[0.6, 0.8]], float32
    """
    x = ops.convert_to_tensor(x)
    if x.dtype == "float64":
        x = _unit(x, axis, epsilon)
    return _unit(ops.cast(x, "float32"), axis, epsilon)


def _unit(x, axis, epsilon):
    squared_norm = ops.sum(ops.square(x), axis=axis, keepdims=True)
    return x * ops.rsqrt(ops.maximum(squared_norm, epsilon))


def not_self_mask(self_columns, num_contrast, rows_valid=None, columns_valid=None):
    """A(i) as a [rows, N] bool: False on each anchor's own column ``self_columns[i]`` (-1:
    none), on every column that ``columns_valid`` [N] marks invalid and on every column of a
    row that ``rows_valid`` [rows] marks as padding."""
    columns = ops.arange(num_contrast, dtype="int32")
    not_self = ops.not_equal(ops.expand_dims(self_columns, 1), ops.expand_dims(columns, 0))
    if columns_valid is not None:
        not_self = ops.logical_and(not_self, ops.expand_dims(columns_valid, 0))
    if rows_valid is not None:
        not_self = ops.logical_and(not_self, ops.expand_dims(rows_valid, 1))
    return not_self


def anchor_masks(anchor_keys, self_columns, contrast_keys, rows_valid=None, columns_valid=None):
    """``(positives, not_self)``: [rows, N] bool masks for anchors given by integer keys.

    ``not_self`` is :func:`not_self_mask`; ``positives`` are its columns whose key equals
    the anchor's key.
    """
    not_self = not_self_mask(self_columns, ops.shape(contrast_keys)[0], rows_valid,
                             columns_valid)
    positives = ops.logical_and(
        ops.equal(ops.expand_dims(anchor_keys, 1), ops.expand_dims(contrast_keys, 0)), not_self
    )
    return positives, not_self


def anchor_terms(logits, positives, not_self, variant):
    """Loss sum, valid-anchor count and d(loss sum)/d(logits) for a block of anchor rows.

    Args:
        logits: [rows, N] float32, ``anchor . contrast / temperature``.
        positives: [rows, N] bool, P(i) (never the anchor's own column).
        not_self: [rows, N] bool, A(i).
        variant: ``"out"`` (L_out) or ``"in"`` (L_in).

    Returns:
        ``(loss_sum, count, grad_logits)``: float32 scalars and a [rows, N] float32 matrix.
    """
    # log p(a | i) over A(i); masked columns sit at MASKED_LOGIT, so their exp is 0 and the
    # self-similarity never enters (no inf * 0 in the gradient).
    log_prob = ops.log_softmax(ops.where(not_self, logits, MASKED_LOGIT), axis=1)
    softmax = ops.exp(log_prob)
    positive_f = ops.cast(positives, "float32")
    num_positives = ops.sum(positive_f, axis=1)
    valid = ops.cast(num_positives > 0, "float32")
    inv_count = valid / ops.maximum(num_positives, 1.0)
    if variant == "out":
        per_anchor = -ops.sum(positive_f * log_prob, axis=1) * inv_count
        positive_weights = positive_f * ops.expand_dims(inv_count, 1)
    else:
        # -log(mean over P(i) of p(p | i)), with its own stable log-sum-exp over P(i).
        positive_log_prob = ops.where(positives, log_prob, MASKED_LOGIT)
        log_positive_sum = ops.logsumexp(positive_log_prob, axis=1, keepdims=True)
        per_anchor = valid * (ops.log(ops.maximum(num_positives, 1.0))
                              - ops.squeeze(log_positive_sum, 1))
        positive_weights = ops.exp(positive_log_prob - log_positive_sum) * ops.expand_dims(
            valid, 1)
    grad_logits = softmax * ops.expand_dims(valid, 1) - positive_weights
    return ops.sum(per_anchor), ops.sum(valid), grad_logits


def logits_of(anchors, contrast, inv_t):
    """[rows, N] logits ``anchors . contrast / t`` (the scale applied to the smaller side)."""
    return ops.matmul(anchors * inv_t, ops.transpose(contrast))


def logit_input_grads(grad_logits, anchors, contrast, scale):
    """``(d anchors, d contrast)`` of ``logits_of`` given ``grad_logits``, times ``scale``."""
    d_anchors = ops.matmul(grad_logits, contrast * scale)
    d_contrast = ops.matmul(ops.transpose(grad_logits), anchors * scale)
    return d_anchors, d_contrast


def upstream_of(args, upstream):
    """The incoming gradient of a ``keras.ops.custom_gradient`` function on any backend."""
    if upstream is None:
        (upstream,) = args
    return upstream


def dense_supcon_sum(anchors, contrast, positives, not_self, *, temperature, variant):
    """``[loss sum over anchors with a positive, their number]``, all anchors in one block.

    Args:
        anchors: [A, D] float32, L2-normalised.
        contrast: [N, D] float32, L2-normalised.
        positives, not_self: [A, N] bool masks (see :func:`anchor_terms`).
        temperature: float > 0.
        variant: ``"out"`` or ``"in"``.

    Returns a float32 vector of 2; only its first entry is differentiable. The gradient
    reuses the forward's ``d loss / d logits``: two matmuls, no second pass.
    """
    inv_t = 1.0 / float(temperature)

    @ops.custom_gradient
    def core(anchors, contrast):
        rows, columns = ops.stop_gradient(anchors), ops.stop_gradient(contrast)
        loss_sum, count, grad_logits = anchor_terms(
            logits_of(rows, columns, inv_t), positives, not_self, variant)

        def grad(*args, upstream=None):
            scale = upstream_of(args, upstream)[0] * inv_t
            return logit_input_grads(grad_logits, rows, columns, scale)

        return ops.stack([loss_sum, count]), grad

    return core(anchors, contrast)
