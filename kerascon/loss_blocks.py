"""Memory-efficient SupCon: the anchor x contrast similarity matrix, one row block at a time.

The dense loss materialises several [anchors, contrast] float32 matrices (logits, masks and
their gradients), so memory grows with N^2. Here the anchors are processed in blocks of
``block_size`` rows: every block computes its logits against the whole contrast set, its
loss terms and its row-wise log-sum-exp, and is then discarded. Memory grows with
N * block_size.

The gradient is written by hand (``keras.ops.custom_gradient``) and recomputes each block in
the backward pass, so autodiff never stores the per-block matrices either. With
``g[i, j] = d loss_i / d logit[i, j]`` (softmax over A(i) minus the positives' weights), the
gradients are ``d anchors = g @ contrast / t`` and ``d contrast = g^T @ anchors / t``.

Positives are defined by integer keys: an anchor and a contrast column are positives when
their keys are equal and the column is not the anchor's own view. Keys are the labels for
SupCon and the global example index for SimCLR.
"""

from __future__ import annotations

from keras import ops

_MASKED_LOGIT = -1e9


def _block_terms(anchors, keys, self_columns, rows_valid, contrast, contrast_keys, inv_t, variant):
    """Loss sum, valid count and d(loss sum)/d(logits) for one block of anchor rows."""
    logits = ops.matmul(anchors, ops.transpose(contrast)) * inv_t
    columns = ops.arange(ops.shape(contrast)[0], dtype="int32")
    not_self = ops.logical_and(
        ops.not_equal(ops.expand_dims(self_columns, 1), ops.expand_dims(columns, 0)),
        ops.expand_dims(rows_valid, 1),
    )
    positives = ops.logical_and(
        ops.equal(ops.expand_dims(keys, 1), ops.expand_dims(contrast_keys, 0)), not_self
    )
    positive_f = ops.cast(positives, "float32")
    num_positives = ops.sum(positive_f, axis=1)
    valid = num_positives > 0
    safe_count = ops.where(valid, num_positives, 1.0)

    row_max = ops.stop_gradient(
        ops.max(ops.where(not_self, logits, _MASKED_LOGIT), axis=1, keepdims=True)
    )
    shifted = logits - row_max
    exp_all = ops.exp(ops.where(not_self, shifted, _MASKED_LOGIT))
    denominator = ops.sum(exp_all, axis=1)
    safe_denominator = ops.where(denominator > 0, denominator, 1.0)
    softmax = exp_all / ops.expand_dims(safe_denominator, 1)
    if variant == "out":
        per_anchor = ops.log(safe_denominator) - ops.sum(positive_f * shifted, axis=1) / safe_count
        positive_weights = positive_f / ops.expand_dims(safe_count, 1)
    else:
        positive_max = ops.max(ops.where(positives, shifted, _MASKED_LOGIT), axis=1, keepdims=True)
        positive_max = ops.where(positive_max > _MASKED_LOGIT / 2, positive_max, 0.0)
        exp_positive = ops.exp(ops.where(positives, shifted - positive_max, _MASKED_LOGIT))
        positive_sum = ops.sum(exp_positive, axis=1)
        safe_positive_sum = ops.where(positive_sum > 0, positive_sum, 1.0)
        per_anchor = (ops.log(safe_denominator) + ops.log(safe_count)
                      - ops.squeeze(positive_max, 1) - ops.log(safe_positive_sum))
        positive_weights = exp_positive / ops.expand_dims(safe_positive_sum, 1)
    valid_f = ops.cast(valid, "float32")
    loss_sum = ops.sum(per_anchor * valid_f)
    grad_logits = (softmax - positive_weights) * ops.expand_dims(valid_f, 1)
    return loss_sum, ops.sum(valid_f), grad_logits


def blockwise_supcon_sum(anchors, anchor_keys, self_columns, contrast, contrast_keys, *,
                         temperature, variant, block_size):
    """``[sum of per-anchor losses over anchors with a positive, number of such anchors]``.

    Args:
        anchors: [A, D] float32, L2-normalised.
        anchor_keys: [A] int32 keys of the anchors.
        self_columns: [A] int32, each anchor's own column in ``contrast``.
        contrast: [N, D] float32, L2-normalised.
        contrast_keys: [N] int32 keys of the contrast columns.
        temperature: float > 0.
        variant: ``"out"`` or ``"in"``.
        block_size: anchor rows per block.

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
    keys_in, contrast_keys_in = keys_padded, contrast_keys

    def block(values, index):
        return ops.slice(values, (index * block_size,) + (0,) * (len(values.shape) - 1),
                         (block_size,) + tuple(values.shape[1:]))

    @ops.custom_gradient
    def core(anchors, contrast):
        anchors_padded = ops.pad(anchors, [[0, pad], [0, 0]])

        def terms(i):
            return _block_terms(block(anchors_padded, i), block(keys_in, i),
                                block(self_padded, i), block(rows_valid, i), contrast,
                                contrast_keys_in, inv_t, variant)

        def forward(i, totals):
            loss_sum, count, _ = terms(i)
            return totals + ops.stack([loss_sum, count])

        totals = ops.fori_loop(0, num_blocks, forward, ops.zeros((2,), "float32"))

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            scale = upstream[0] * inv_t

            def backward(i, grads):
                d_anchors, d_contrast = grads
                _, _, g = terms(i)
                rows = block(anchors_padded, i)
                d_anchors = ops.slice_update(d_anchors, (i * block_size, 0),
                                             ops.matmul(g, contrast) * scale)
                d_contrast = d_contrast + ops.matmul(ops.transpose(g), rows) * scale
                return d_anchors, d_contrast

            d_anchors, d_contrast = ops.fori_loop(
                0, num_blocks, backward,
                (ops.zeros((padded, dim), "float32"), ops.zeros_like(contrast)),
            )
            return d_anchors[:num_anchors], d_contrast

        return totals, grad

    return core(anchors, contrast)
