"""SupCon of query projections against momentum keys and a queue of labelled keys.

The MoCo-style form of supervised contrastive learning (the authors' small-batch ImageNet
model): anchors are the query encoder's projections, the contrast set is the current
batch's keys (every view, from the momentum key encoder, without gradient) followed by the
queue of earlier keys. A contrast entry is a positive of an anchor when their keys
(labels, or example ids without labels) are equal. The anchor itself is not in the
contrast set; the key of its own view (the same image through the key encoder) is a
positive by default, as in MoCo, where the query's positive is a key of the same image.
``exclude_own_key=True`` drops that column from the positives and the denominator instead.

Queue entries not written yet (``queue_valid`` false) are invalid columns of the shared
kernel (``columns_valid``): neither positives nor in the denominator, dense or blockwise
(:func:`kerascon.losses.blockwise.keyed_supcon_sum`, with its one ``"auto"`` policy).
"""

from __future__ import annotations

from keras import ops

from kerascon.losses.blockwise import keyed_supcon_sum, resolve_block_size

__all__ = ["queue_supcon_sum"]


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
        block_size: ``"auto"`` (dense up to
            :data:`kerascon.losses.blockwise.AUTO_BLOCK_ELEMENTS` anchor x contrast entries,
            else blocks), ``None`` (dense) or an int (anchor rows per block), as in
            :func:`kerascon.losses.supcon_loss`.

    Keys and queue get no gradient. Returns two float32 scalars.

    Example:
        >>> import numpy as np
        >>> q = np.eye(4, dtype="float32")[:2]; k = np.eye(4, dtype="float32")[:2]
        >>> total, count = queue_supcon_sum(q, np.array([0, 1]), np.array([0, 1]), k,
        ...     np.array([0, 1]), np.zeros((3, 4), "float32"), np.zeros(3, "int32"),
        ...     np.zeros(3, bool), temperature=0.1)
    """
    anchors = ops.cast(anchors, "float32")
    own_columns = ops.cast(own_columns, "int32")
    contrast = ops.stop_gradient(ops.concatenate(
        [ops.cast(keys, "float32"), ops.cast(queue, "float32")], axis=0))
    contrast_keys = ops.concatenate(
        [ops.cast(key_labels, "int32"), ops.cast(queue_labels, "int32")], axis=0)
    columns_valid = ops.concatenate(
        [ops.ones((ops.shape(keys)[0],), "bool"), ops.cast(queue_valid, "bool")], axis=0)
    excluded = own_columns if exclude_own_key else ops.full_like(own_columns, -1)
    block = resolve_block_size(block_size, anchors.shape[0], contrast.shape[0])
    totals = keyed_supcon_sum(anchors, ops.cast(anchor_keys, "int32"), excluded, contrast,
                              contrast_keys, temperature=temperature, variant=variant,
                              block_size=block, columns_valid=columns_valid)
    return totals[0], totals[1]
