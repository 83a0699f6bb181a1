"""SupCon of query projections against momentum keys and a queue of labelled keys.

The MoCo-style form of supervised contrastive learning (the authors' small-batch ImageNet
model): anchors are the query encoder's projections, the contrast set is the current
batch's keys (every view, from the momentum key encoder, without gradient) followed by the
queue of earlier keys. A contrast entry is a positive of an anchor when their keys
(labels, or example ids without labels) are equal. The anchor itself is not in the
contrast set; the key of its own view (the same image through the key encoder) is a
positive by default, as in MoCo, where the query's positive is a key of the same image.
``exclude_own_key=True`` drops that column from the positives and the denominator instead.

Queue entries not written yet (``queue_valid`` false) are left out of the positives and
of the denominator.
"""

from __future__ import annotations

from keras import ops

from kerascon.loss_blocks import blockwise_supcon_sum

__all__ = ["QUEUE_AUTO_BLOCK_ELEMENTS", "queue_supcon_sum"]

# Above this many anchor x contrast entries, the queue loss goes blockwise, in blocks of
# at most this many entries (16 MiB per float32 [block, contrast] matrix).
QUEUE_AUTO_BLOCK_ELEMENTS = 2**22
# Keys that match no anchor key (anchor keys are labels or example ids, both >= 0).
_NO_MATCH = -(2**31) + 1
# Added to the logit numerator of an unwritten queue entry in the blockwise path: with the
# anchors' extra coordinate of 1 its logit is <= -1e4 / temperature and exp() underflows
# to exactly 0, so the entry is out of the denominator.
_INVALID_OFFSET = -1e4


def _dense_sum(anchors, anchor_keys, own_columns, contrast, contrast_keys, contrast_valid,
               inv_t, variant):
    logits = ops.matmul(anchors, ops.transpose(contrast)) * inv_t
    columns = ops.arange(ops.shape(contrast)[0], dtype="int32")
    in_denominator = ops.logical_and(
        ops.expand_dims(contrast_valid, 0),
        ops.not_equal(ops.expand_dims(own_columns, 1), ops.expand_dims(columns, 0)),
    )
    positives = ops.logical_and(
        ops.equal(ops.expand_dims(anchor_keys, 1), ops.expand_dims(contrast_keys, 0)),
        in_denominator,
    )
    positive_f = ops.cast(positives, "float32")
    count = ops.sum(positive_f, axis=1)
    valid = count > 0
    safe_count = ops.where(valid, count, 1.0)
    row_max = ops.stop_gradient(ops.max(ops.where(in_denominator, logits, -1e9), axis=1,
                                        keepdims=True))
    shifted = ops.where(in_denominator, logits - row_max, 0.0)
    exp_all = ops.where(in_denominator, ops.exp(shifted), 0.0)
    log_denominator = ops.log(ops.maximum(ops.sum(exp_all, axis=1), 1e-30))
    if variant == "out":
        per_anchor = log_denominator - ops.sum(positive_f * shifted, axis=1) / safe_count
    else:
        exp_positive = ops.where(positives, exp_all, 0.0)
        log_positive = ops.log(ops.maximum(ops.sum(exp_positive, axis=1), 1e-30))
        per_anchor = log_denominator + ops.log(safe_count) - log_positive
    valid_f = ops.cast(valid, "float32")
    return ops.sum(ops.where(valid, per_anchor, 0.0)), ops.sum(valid_f)


def queue_supcon_sum(anchors, anchor_keys, own_columns, keys, key_labels, queue, queue_labels,
                     queue_valid, *, temperature, variant="out", exclude_own_key=False,
                     block_size="auto"):
    """``(sum of per-anchor losses, number of anchors with a positive)`` against keys + queue.

    Args:
        anchors: [A, D] float32 L2-normalised query projections (differentiable).
        anchor_keys: [A] int32 keys of the anchors (labels, or example ids).
        own_columns: [A] int32, each anchor's own view's row in ``keys``.
        keys: [N, D] float32 L2-normalised key projections of the (global) batch.
        key_labels: [N] int32 keys of ``keys``.
        queue: [K, D] float32 earlier keys; queue_labels: [K] int32 their keys.
        queue_valid: [K] bool, entries written so far.
        temperature: float > 0; variant: ``"out"`` (L_out) or ``"in"`` (L_in).
        exclude_own_key: ``False`` (default) counts the key of the anchor's own view as a
            positive; ``True`` leaves it out of positives and denominator.
        block_size: ``"auto"`` (dense below :data:`QUEUE_AUTO_BLOCK_ELEMENTS` entries,
            else blocks), ``None`` (dense) or an int (anchor rows per block, through
            :func:`kerascon.loss_blocks.blockwise_supcon_sum`).

    Keys and queue get no gradient. Returns two float32 scalars.

    Example:
        >>> import numpy as np
        >>> q = np.eye(4, dtype="float32")[:2]; k = np.eye(4, dtype="float32")[:2]
        >>> total, count = queue_supcon_sum(q, np.array([0, 1]), np.array([0, 1]), k,
        ...     np.array([0, 1]), np.zeros((3, 4), "float32"), np.zeros(3, "int32"),
        ...     np.zeros(3, bool), temperature=0.1)
    """
    inv_t = 1.0 / float(temperature)
    anchors = ops.cast(anchors, "float32")
    anchor_keys = ops.cast(anchor_keys, "int32")
    own_columns = ops.cast(own_columns, "int32")
    contrast = ops.stop_gradient(ops.concatenate(
        [ops.cast(keys, "float32"), ops.cast(queue, "float32")], axis=0))
    contrast_keys = ops.concatenate(
        [ops.cast(key_labels, "int32"), ops.cast(queue_labels, "int32")], axis=0)
    num_keys = ops.shape(keys)[0]
    contrast_valid = ops.concatenate(
        [ops.ones((num_keys,), "bool"), ops.cast(queue_valid, "bool")], axis=0)
    excluded = own_columns if exclude_own_key else ops.full_like(own_columns, -1)

    if block_size == "auto":
        entries = None
        if anchors.shape[0] is not None and contrast.shape[0] is not None:
            entries = anchors.shape[0] * contrast.shape[0]
        block_size = None
        if entries is not None and entries > QUEUE_AUTO_BLOCK_ELEMENTS:
            blocks = -(-entries // QUEUE_AUTO_BLOCK_ELEMENTS)
            block_size = -(-anchors.shape[0] // blocks)  # equal blocks, little padding
    if block_size is None:
        return _dense_sum(anchors, anchor_keys, excluded, contrast, contrast_keys,
                          contrast_valid, inv_t, variant)

    # The blockwise kernel masks only the anchor's own column. An unwritten queue entry
    # gets a key that matches nothing (not a positive) and, through one extra coordinate
    # (1 on the anchors, _INVALID_OFFSET on the entry), a logit so negative that its
    # exp() is exactly 0 (not in the denominator). Valid entries get 0 there: unchanged.
    contrast_keys = ops.where(contrast_valid, contrast_keys, _NO_MATCH)
    extra = ops.where(contrast_valid, 0.0, _INVALID_OFFSET)
    contrast = ops.concatenate([contrast, ops.expand_dims(extra, 1)], axis=1)
    anchors = ops.concatenate([anchors, ops.ones_like(anchors[:, :1])], axis=1)
    totals = blockwise_supcon_sum(anchors, anchor_keys, excluded, contrast, contrast_keys,
                                  temperature=temperature, variant=variant,
                                  block_size=int(block_size))
    return totals[0], totals[1]
