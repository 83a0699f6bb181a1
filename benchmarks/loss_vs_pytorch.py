"""kerascon's SupCon loss against a PyTorch transcription of the authors' loss, one process.

The PyTorch side follows the SupContrast authors' ``SupConLoss`` (losses.py of
HobbitLong/SupContrast, written out again here): a dense [N, N] similarity matrix, a
max-shift, the positive mask repeated over views and a scatter for the self-mask. Both
compute forward + backward (gradient w.r.t. the features) on the same inputs, with the
same thread count, and the values are checked to agree. The calls alternate (one PyTorch
call, one call of each kerascon variant, repeat), so a change of load on a shared machine
hits every side alike. kerascon runs on the backend given by KERAS_BACKEND: TensorFlow
(``tf.function``, with and without XLA) or JAX (``jax.jit``).

    PYTHONPATH=. python benchmarks/loss_vs_pytorch.py --batch 1024 --views 2 --dim 128
    KERAS_BACKEND=jax PYTHONPATH=. python benchmarks/loss_vs_pytorch.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from benchmarks.common import runtime_line, runtime_record  # noqa: E402


def authors_loss_torch(features, labels, temperature):
    """The SupContrast authors' loss (contrast_mode='all'), base_temperature = temperature."""
    import torch

    batch, views = features.shape[:2]
    labels = labels.view(-1, 1)
    mask = torch.eq(labels, labels.T).float()
    contrast = torch.cat(torch.unbind(features, dim=1), dim=0)
    logits = torch.matmul(contrast, contrast.T) / temperature
    logits_max, _ = torch.max(logits, dim=1, keepdim=True)
    logits = logits - logits_max.detach()
    mask = mask.repeat(views, views)
    n = batch * views
    logits_mask = torch.scatter(torch.ones_like(mask), 1, torch.arange(n).view(-1, 1), 0)
    mask = mask * logits_mask
    exp_logits = torch.exp(logits) * logits_mask
    log_prob = logits - torch.log(exp_logits.sum(1, keepdim=True))
    mean_log_prob_pos = (mask * log_prob).sum(1) / mask.sum(1)
    return (-mean_log_prob_pos).view(views, batch).mean()


def time_alternately(steps, repeats, warmup):
    """Per step, its wall times over ``repeats`` rounds of one call to every step.

    A short pause before each timed call lets the previous side's worker threads (which
    spin for a while after their work) go idle, so they do not slow the next side down.
    """
    for _ in range(warmup):
        for step in steps:
            step()
    times = [[] for _ in steps]
    for _ in range(repeats):
        for step, record in zip(steps, times):
            time.sleep(0.05)
            start = time.perf_counter()
            step()
            record.append(time.perf_counter() - start)
    return times


def torch_side(features, labels, temperature, threads):
    import torch

    torch.set_num_threads(threads)
    f = torch.tensor(features, requires_grad=True)
    y = torch.tensor(labels)

    def step():
        f.grad = None
        normalized = torch.nn.functional.normalize(f, dim=2)
        loss = authors_loss_torch(normalized, y, temperature)
        loss.backward()
        return loss

    return float(step().detach()), step


def kerascon_side(features, labels, temperature, jit):
    import keras

    from kerascon.losses import supcon_loss

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        grad = jax.jit(jax.value_and_grad(
            lambda f: supcon_loss(f, labels, temperature=temperature, block_size=None)))

        def step():
            value, g = grad(features)
            jax.block_until_ready(g)
            return value
    else:
        import tensorflow as tf

        x = tf.constant(features)
        y = tf.constant(labels)

        @tf.function(jit_compile=jit)
        def grad(f):
            with tf.GradientTape() as tape:
                tape.watch(f)
                value = supcon_loss(f, y, temperature=temperature, block_size=None)
            return value, tape.gradient(value, f)

        def step():
            value, g = grad(x)
            g.numpy()
            return value
    return float(step()), step


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--views", type=int, default=2)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--temperature", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    import keras

    rng = np.random.default_rng(0)
    features = rng.normal(size=(args.batch, args.views, args.dim)).astype("float32")
    labels = rng.integers(0, args.classes, size=args.batch).astype("int64")
    torch_value, torch_step = torch_side(features, labels, args.temperature, args.threads)
    sides = [("PyTorch, authors' loss (transcribed)", torch_value, torch_step)]
    jit_options = [False] if keras.backend.backend() == "jax" else [False, True]
    for jit in jit_options:
        value, step = kerascon_side(features, labels.astype("int32"), args.temperature, jit)
        name = f"kerascon ({keras.backend.backend()}" + (", XLA)" if jit else ")")
        if keras.backend.backend() == "jax":
            name = "kerascon (jax, jit)"
        sides.append((name, value, step))
    before = runtime_record()  # the frameworks are loaded: their thread pools are read
    times = time_alternately([step for _, _, step in sides], args.repeats, args.warmup)
    after = runtime_record()
    rows = [(name, value, t) for (name, value, _), t in zip(sides, times)]
    torch_times = times[0]
    print(f"batch {args.batch} x {args.views} views x {args.dim}, {args.threads} threads "
          f"(PyTorch's intra-op pool), load average {after['load_average']} (after)")
    print(runtime_line(before))
    print("| implementation | loss | median ms | min ms | vs PyTorch |")
    print("|---|---:|---:|---:|---:|")
    reference = statistics.median(torch_times)
    for name, value, times in rows:
        median = statistics.median(times)
        print(f"| {name} | {value:.5f} | {1e3 * median:.1f} | {1e3 * min(times):.1f} | "
              f"{median / reference:.2f}x |")
    for name, value, _ in rows[1:]:
        if not np.isclose(value, torch_value, rtol=1e-4):
            raise SystemExit(f"{name} gives {value}, PyTorch {torch_value}: the losses differ")
    if args.json:
        with open(args.json, "w") as f:
            machine = {**before, "load_average_before": before["load_average"],
                       "load_average_after": after["load_average"]}
            json.dump([{"name": n, "loss": v, "times_s": t, "machine": machine}
                       for n, v, t in rows], f, indent=1)


if __name__ == "__main__":
    main()
