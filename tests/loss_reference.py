"""A direct, loop-by-loop transcription of the paper's loss (Khosla et al., Eq. 2 and 3).

Deliberately naive: float64 numpy, one anchor at a time, sets P(i) and A(i) built as
Python lists, so it shares no code or trick with kerascon.losses.
"""

import math

import numpy as np


def reference_supcon(features, labels=None, *, temperature=0.1, variant="out",
                     contrast_mode="all", mask=None, base_temperature=None):
    f = np.asarray(features, dtype=np.float64)
    f = f / np.linalg.norm(f, axis=-1, keepdims=True)
    batch, views, _ = f.shape

    def is_positive(i, j):
        if mask is not None:
            return bool(mask[i][j])
        if labels is not None:
            return labels[i] == labels[j]
        return i == j

    samples = [(b, v) for v in range(views) for b in range(batch)]
    anchors = samples if contrast_mode == "all" else [(b, 0) for b in range(batch)]
    losses = []
    for (ib, iv) in anchors:
        z_i = f[ib, iv]
        others = [(jb, jv) for (jb, jv) in samples if (jb, jv) != (ib, iv)]
        positives = [(jb, jv) for (jb, jv) in others if is_positive(ib, jb)]
        if not positives:
            continue
        denominator = sum(math.exp(z_i @ f[jb, jv] / temperature) for (jb, jv) in others)
        ratios = [math.exp(z_i @ f[pb, pv] / temperature) / denominator for (pb, pv) in positives]
        if variant == "out":
            loss_i = -sum(math.log(r) for r in ratios) / len(positives)
        else:
            loss_i = -math.log(sum(ratios) / len(positives))
        losses.append(loss_i)
    loss = sum(losses) / len(losses) if losses else 0.0
    if base_temperature is not None:
        loss *= temperature / base_temperature
    return loss
