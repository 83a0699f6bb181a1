"""Memory-efficient SupCon: the anchor x contrast similarity matrix, one row block at a time.

The dense loss materialises several [anchors, contrast] float32 matrices (logits, masks and
their gradients), so memory grows with N^2. Here the anchors are processed in blocks of
``block_size`` rows: every block runs the shared kernel (:func:`kerascon.losses.kernel.anchor_terms`)
on its logits against the whole contrast set, and is then discarded. Memory grows with
N * block_size.

The gradient is written by hand (``keras.ops.custom_gradient``) and recomputes each block in
the backward pass, so autodiff never stores the per-block matrices either. The forward loop
runs on ``stop_gradient`` copies of the inputs, so an eager ``tf.GradientTape`` (and Keras'
``run_eagerly=True``) does not record the blocks either: memory stays bounded in eager mode.

Positives are defined by integer keys: an anchor and a contrast column are positives when
their keys are equal, the column is not the anchor's own view and ``columns_valid`` (if
given) marks the column valid. Keys are the labels for SupCon and the global example index
for SimCLR.

This module also holds kerascon's one choice between the dense and the blockwise
computation (:data:`AUTO_BLOCK_ELEMENTS`, :func:`resolve_block_size`) and the one entry of
keyed SupCon (:func:`keyed_supcon_sum`), used by :func:`kerascon.losses.supcon_loss` and
:func:`kerascon.losses.queue.queue_supcon_sum`.
"""

from __future__ import annotations

from keras import ops

from kerascon.losses.kernel import (
    anchor_masks,
    anchor_terms,
    dense_supcon_sum,
    logit_input_grads,
    logits_of,
    upstream_of,
)

# Above this many anchor x contrast entries, "auto" goes blockwise: 2**24 float32 entries
# are 64 MiB per [anchors, contrast] matrix. A block holds a handful of [block, contrast]
# float32 matrices, so each block keeps them at about a quarter of that (~16 MiB each).
AUTO_BLOCK_ELEMENTS = 2**24


def resolve_block_size(block_size, num_anchors, num_contrast):
    """``None`` for the dense computation, or the anchor rows per block.

    ``block_size`` is ``"auto"``, ``None`` (dense) or a positive int (returned as is).
    ``"auto"`` is dense up to :data:`AUTO_BLOCK_ELEMENTS` anchor x contrast entries and
    when ``num_anchors`` or ``num_contrast`` (static sizes) is ``None`` (unknown at trace
    time); above it, equal blocks of at most ``AUTO_BLOCK_ELEMENTS / (4 * num_contrast)``
    rows.

    Example:
        >>> resolve_block_size("auto", 512, 1024)        # None: dense
        >>> resolve_block_size("auto", 65536, 65536)     # 64 rows per block
        64
    """
    if block_size is None:
        return None
    if block_size != "auto":
        if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
            raise ValueError(
                f"block_size must be 'auto', None (dense) or a positive int, got {block_size!r}"
            )
        return block_size
    if num_anchors is None or num_contrast is None:
        return None
    if num_anchors * num_contrast <= AUTO_BLOCK_ELEMENTS:
        return None
    max_rows = max(1, AUTO_BLOCK_ELEMENTS // (4 * num_contrast))
    blocks = -(-num_anchors // max_rows)
    return -(-num_anchors // blocks)  # equal blocks: as little padding as possible


def keyed_supcon_sum(anchors, anchor_keys, self_columns, contrast, contrast_keys, *,
                     temperature, variant, block_size, columns_valid=None):
    """``[loss sum over anchors with a positive, their number]``, dense or blockwise.

    The arguments are those of :func:`blockwise_supcon_sum`; ``block_size=None`` computes
    every anchor in one block (:func:`kerascon.losses.kernel.dense_supcon_sum`), an int in
    blocks of that many anchor rows. Both run the same kernel on the same masks, so they
    agree in value and gradient.
    """
    if block_size is None:
        positives, not_self = anchor_masks(anchor_keys, self_columns, contrast_keys,
                                           columns_valid=columns_valid)
        return dense_supcon_sum(anchors, contrast, positives, not_self,
                                temperature=temperature, variant=variant)
    return blockwise_supcon_sum(anchors, anchor_keys, self_columns, contrast, contrast_keys,
                                temperature=temperature, variant=variant,
                                block_size=block_size, columns_valid=columns_valid)


def blockwise_supcon_sum(anchors, anchor_keys, self_columns, contrast, contrast_keys, *,
                         temperature, variant, block_size, columns_valid=None):
    """``[sum of per-anchor losses over anchors with a positive, number of such anchors]``.

    Args:
        anchors: [A, D] float32, L2-normalised.
        anchor_keys: [A] int32 keys of the anchors.
        self_columns: [A] int32, each anchor's own column in ``contrast`` (-1: none).
        contrast: [N, D] float32, L2-normalised.
        contrast_keys: [N] int32 keys of the contrast columns.
        temperature: float > 0.
        variant: ``"out"`` or ``"in"``.
        block_size: anchor rows per block.
        columns_valid: optional [N] bool; a column marked False is neither a positive nor
            in the denominator of any anchor (its logits are masked, so even a column
            with a huge similarity changes nothing).

    Returns a float32 vector of 2; only its first entry is differentiable (with respect to
    ``anchors`` and ``contrast``).
    """
    inv_t = 1.0 / float(temperature)
    num_anchors = ops.shape(anchors)[0]
    num_blocks = (num_anchors + block_size - 1) // block_size
    padded = num_blocks * block_size
    pad = padded - num_anchors
    dim = ops.shape(anchors)[1]
    keys_padded = ops.pad(anchor_keys, [[0, pad]])
    self_padded = ops.pad(self_columns, [[0, pad]], constant_values=-1)
    rows_valid = ops.arange(padded, dtype="int32") < num_anchors

    def block(values, index):
        return ops.slice(values, (index * block_size,) + (0,) * (len(values.shape) - 1),
                         (block_size,) + tuple(values.shape[1:]))

    @ops.custom_gradient
    def core(anchors, contrast):
        # The forward sees constants: an eager tape records this function as one op, not
        # every block's intermediates (the gradient below recomputes them block by block).
        anchors_padded = ops.pad(ops.stop_gradient(anchors), [[0, pad], [0, 0]])
        contrast = ops.stop_gradient(contrast)

        def terms(i):
            rows = block(anchors_padded, i)
            positives, not_self = anchor_masks(block(keys_padded, i), block(self_padded, i),
                                               contrast_keys, block(rows_valid, i),
                                               columns_valid)
            return rows, anchor_terms(logits_of(rows, contrast, inv_t), positives, not_self,
                                      variant)

        def forward(i, totals):
            _, (loss_sum, count, _) = terms(i)
            return totals + ops.stack([loss_sum, count])

        totals = ops.fori_loop(0, num_blocks, forward, ops.zeros((2,), "float32"))

        def grad(*args, upstream=None):
            scale = upstream_of(args, upstream)[0] * inv_t

            def backward(i, grads):
                d_anchors, d_contrast = grads
                rows, (_, _, g) = terms(i)
                d_rows, d_columns = logit_input_grads(g, rows, contrast, scale)
                d_anchors = ops.slice_update(d_anchors, (i * block_size, 0), d_rows)
                return d_anchors, d_contrast + d_columns

            d_anchors, d_contrast = ops.fori_loop(
                0, num_blocks, backward,
                (ops.zeros((padded, dim), "float32"), ops.zeros_like(contrast)),
            )
            return d_anchors[:num_anchors], d_contrast

        return totals, grad

    return core(anchors, contrast)
