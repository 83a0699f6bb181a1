"""One kernel for every SupCon loss: the queue loss, the dense and the blockwise loss agree.

At a realistic size (batch 256 x 2 views, dim 128, queue 1,024 of which 300 unwritten),
masked queue columns (``columns_valid`` false) are filled with the worst garbage there is:
copies of the anchors with the anchors' labels (similarity 1, would-be positives).
"""

import numpy as np
import pytest
import tensorflow as tf

from kerascon.losses import supcon_loss
from kerascon.losses.blockwise import blockwise_supcon_sum, resolve_block_size
from kerascon.losses.kernel import dense_supcon_sum
from kerascon.losses.queue import queue_supcon_sum

BATCH, VIEWS, DIM, QUEUE, UNWRITTEN, CLASSES = 256, 2, 128, 1024, 300, 32
BLOCK = 96  # does not divide 512 anchors: the last block is padded


def _unit(x):
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype("float32")


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(26)
    labels = rng.integers(0, CLASSES, size=BATCH).astype("int32")
    features = rng.normal(size=(BATCH, VIEWS, DIM)).astype("float32")
    # View-major anchors (view 0 of every example first), as supcon_loss orders them.
    anchors = _unit(np.concatenate([features[:, v] for v in range(VIEWS)]))
    anchor_keys = np.tile(labels, VIEWS)
    keys = _unit(anchors + 0.3 * rng.normal(size=anchors.shape))
    valid = np.arange(QUEUE) < QUEUE - UNWRITTEN
    queue = _unit(rng.normal(size=(QUEUE, DIM)))
    queue_labels = rng.integers(0, CLASSES, size=QUEUE).astype("int32")
    garbage = rng.integers(0, len(anchors), size=UNWRITTEN)
    queue[~valid], queue_labels[~valid] = anchors[garbage], anchor_keys[garbage]
    return dict(features=features, labels=labels, anchors=anchors, anchor_keys=anchor_keys,
                own=np.arange(len(anchors), dtype="int32"), keys=keys, queue=queue,
                queue_labels=queue_labels, valid=valid)


def _queue_value_and_grad(c, keys, queue, queue_labels, valid, **kwargs):
    anchors = tf.constant(c["anchors"])
    with tf.GradientTape() as tape:
        tape.watch(anchors)
        total, count = queue_supcon_sum(anchors, c["anchor_keys"], c["own"], keys,
                                        c["anchor_keys"], queue, queue_labels, valid,
                                        temperature=0.1, **kwargs)
        loss = total / count
    return float(loss), tape.gradient(loss, anchors).numpy()


def _kernel_value_and_grad(c, function):
    """The kernel called directly on keys + the whole queue, masks built here in numpy."""
    anchors = tf.constant(c["anchors"])
    contrast = np.concatenate([c["keys"], c["queue"]])
    contrast_keys = np.concatenate([c["anchor_keys"], c["queue_labels"]])
    columns_valid = np.concatenate([np.ones(len(c["keys"]), bool), c["valid"]])
    with tf.GradientTape() as tape:
        tape.watch(anchors)
        totals = function(anchors, contrast, contrast_keys, columns_valid)
        loss = totals[0] / totals[1]
    return float(loss), tape.gradient(loss, anchors).numpy()


def _dense_with_numpy_masks(anchors, contrast, contrast_keys, columns_valid, anchor_keys):
    not_self = np.broadcast_to(columns_valid, (len(anchor_keys), len(contrast_keys)))
    positives = (anchor_keys[:, None] == contrast_keys[None, :]) & not_self
    return dense_supcon_sum(anchors, contrast, positives, not_self, temperature=0.1,
                            variant="out")


def test_queue_dense_and_blockwise_losses_agree_with_masked_columns(case):
    c = case
    assert resolve_block_size("auto", 512, 512 + QUEUE) is None  # "auto" is dense here
    args = (c["keys"], c["queue"], c["queue_labels"], c["valid"])
    queue_dense = _queue_value_and_grad(c, *args, block_size=None)
    queue_blocks = _queue_value_and_grad(c, *args, block_size=BLOCK)
    kernel_dense = _kernel_value_and_grad(c, lambda a, x, k, v: _dense_with_numpy_masks(
        a, x, k, v, c["anchor_keys"]))
    kernel_blocks = _kernel_value_and_grad(c, lambda a, x, k, v: blockwise_supcon_sum(
        a, c["anchor_keys"], np.full(len(c["anchors"]), -1, "int32"), x, k, temperature=0.1,
        variant="out", block_size=BLOCK, columns_valid=v))
    value, grad = queue_dense
    assert np.isfinite(value) and value > 0.1 and np.abs(grad).max() > 1e-4
    for other_value, other_grad in (queue_blocks, kernel_dense, kernel_blocks):
        np.testing.assert_allclose(other_value, value, rtol=1e-5)
        np.testing.assert_allclose(other_grad, grad, rtol=1e-5, atol=1e-5 * np.abs(grad).max())

    # With the keys equal to the queries, the own key excluded and every queue entry masked,
    # the queue loss is the batch loss: supcon_loss, dense and blockwise.
    everything_masked = np.zeros(QUEUE, bool)
    batch_args = (c["anchors"], c["queue"], c["queue_labels"], everything_masked)
    for block_size in (None, BLOCK):
        queue_value, _ = _queue_value_and_grad(c, *batch_args, exclude_own_key=True,
                                               block_size=block_size)
        batch_value = float(supcon_loss(c["features"], c["labels"], temperature=0.1,
                                        block_size=block_size))
        np.testing.assert_allclose(queue_value, batch_value, rtol=1e-5)


@pytest.mark.parametrize("block_size", [None, BLOCK])
def test_a_masked_column_changes_nothing_against_dropping_it(case, block_size):
    c = case
    valid = c["valid"]
    masked = _queue_value_and_grad(c, c["keys"], c["queue"], c["queue_labels"], valid,
                                   block_size=block_size)
    dropped = _queue_value_and_grad(c, c["keys"], c["queue"][valid], c["queue_labels"][valid],
                                    np.ones(valid.sum(), bool), block_size=block_size)
    np.testing.assert_allclose(masked[0], dropped[0], rtol=1e-6)
    np.testing.assert_allclose(masked[1], dropped[1], rtol=1e-5,
                               atol=1e-6 * np.abs(dropped[1]).max())
    # The garbage is not inert: the same columns marked valid change the loss.
    written = _queue_value_and_grad(c, c["keys"], c["queue"], c["queue_labels"],
                                    np.ones(QUEUE, bool), block_size=block_size)
    assert abs(written[0] - masked[0]) > 1e-2
