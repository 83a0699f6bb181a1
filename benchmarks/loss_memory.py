"""Peak memory of the SupCon loss forward + backward in each execution mode, one fresh
process per mode.

Modes (``--modes``):

* ``tf-function``: ``tf.GradientTape`` inside a ``tf.function``.
* ``tf-eager``: ``tf.GradientTape`` outside any ``tf.function``.
* ``tf-fit-eager``: ``model.fit(run_eagerly=True)`` of a plain ``keras.Model`` (one Dense
  layer on [batch, views, dim] inputs) compiled with ``SupConLoss``, one step.
* ``jax-jit``: ``jax.jit(jax.value_and_grad(loss))``.
* ``jax-eager``: ``jax.value_and_grad(loss)`` without ``jit``.

Each mode runs in its own subprocess (with ``KERAS_BACKEND`` set for it), which builds random
features [B, V, D] and labels, records its resident set size (VmRSS), runs forward + backward
once and fetches the loss and the gradient to the host, then reports its peak resident set
size (``VmHWM``, the whole process lifetime including the imports) and the peak's
increase over the RSS before the call. ``dense [N, N] MiB`` is the size of one float32
similarity matrix of the N = V * B views, for scale: the dense loss holds several.

    PYTHONPATH=. python benchmarks/loss_memory.py --batch 32768 --views 2 --dim 128
    PYTHONPATH=. python benchmarks/loss_memory.py --batch 4096 --block-size 64 --modes tf-eager
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODES = ("tf-function", "tf-eager", "tf-fit-eager", "jax-jit", "jax-eager")
RESULT_MARKER = "@@LOSS_MEMORY_RESULT@@ "
MIB = 2**20


def _rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _peak_rss_bytes():
    # VmHWM is this process image's own high-water mark. ru_maxrss is not: Linux carries it
    # over from the parent through fork and exec, so under a large pytest process it reported
    # the parent's size instead of the loss's.
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _run_tf(mode, features, labels, block_size):
    import keras
    import tensorflow as tf

    from kerascon.losses import SupConLoss, supcon_loss

    if mode == "tf-fit-eager":  # SupConLoss uses block_size="auto"
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input(features.shape[1:]),
                                  keras.layers.Dense(features.shape[-1])])
        model.compile(optimizer="sgd", loss=SupConLoss(), run_eagerly=True)
        start = time.perf_counter()
        history = model.fit(features, labels, batch_size=features.shape[0], epochs=1,
                            verbose=0, shuffle=False)
        return float(history.history["loss"][0]), time.perf_counter() - start

    x, y = tf.constant(features), tf.constant(labels)

    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = supcon_loss(x, y, block_size=block_size)
        return value, tape.gradient(value, x)

    if mode == "tf-function":
        step = tf.function(step)
    start = time.perf_counter()
    value, grad = step(x)
    grad.numpy()
    return float(value), time.perf_counter() - start


def _run_jax(mode, features, labels, block_size):
    import jax

    from kerascon.losses import supcon_loss

    step = jax.value_and_grad(lambda f: supcon_loss(f, labels, block_size=block_size))
    if mode == "jax-jit":
        step = jax.jit(step)
    start = time.perf_counter()
    value, grad = step(features)
    jax.block_until_ready(grad)
    return float(value), time.perf_counter() - start


def worker(args):
    import numpy as np

    rng = np.random.default_rng(0)
    features = rng.normal(size=(args.batch, args.views, args.dim)).astype("float32")
    labels = rng.integers(0, args.classes, size=args.batch).astype("int32")
    block_size = "auto" if args.block_size is None else args.block_size
    run = _run_jax if args.worker.startswith("jax") else _run_tf
    import keras  # noqa: F401  (imports the backend before the baseline RSS)

    before = _rss_bytes()
    value, seconds = run(args.worker, features, labels, block_size)
    peak = _peak_rss_bytes()
    result = {"mode": args.worker, "batch": args.batch, "views": args.views, "dim": args.dim,
              "block_size": block_size, "loss": value, "seconds": seconds,
              "rss_before_mib": before / MIB, "peak_rss_mib": peak / MIB,
              "peak_increase_mib": (peak - before) / MIB,
              "dense_matrix_mib": (args.batch * args.views) ** 2 * 4 / MIB}
    print(RESULT_MARKER + json.dumps(result), flush=True)


def measure(mode, batch, views=2, dim=128, block_size=None, classes=10, timeout=None):
    """Runs one mode in a fresh subprocess and returns its result dict."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", mode, "--batch", str(batch),
           "--views", str(views), "--dim", str(dim), "--classes", str(classes)]
    if block_size is not None:
        cmd += ["--block-size", str(block_size)]
    env = dict(os.environ, KERAS_BACKEND="jax" if mode.startswith("jax") else "tensorflow",
               PYTHONPATH=os.pathsep.join(filter(None, [REPO_ROOT, os.environ.get("PYTHONPATH")])))
    proc = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=timeout)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER):])
    raise RuntimeError(f"{mode} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")


def _load_average():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=32768)
    p.add_argument("--views", type=int, default=2)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--block-size", type=int, default=None,
                   help="anchor rows per block; default: supcon_loss's 'auto'")
    p.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    p.add_argument("--json", default=None)
    p.add_argument("--worker", choices=MODES, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args)
    print(f"batch {args.batch} x {args.views} views x {args.dim}, block size "
          f"{args.block_size or 'auto'}, load average {_load_average()}")
    from benchmarks.common import runtime_line, runtime_record

    machine = runtime_record()  # the workers are fresh processes with the same environment
    print(runtime_line(machine))
    print("| mode | loss | seconds | peak RSS MiB | peak increase MiB | dense [N, N] MiB |")
    print("|---|---:|---:|---:|---:|---:|")
    results = []
    for mode in args.modes:
        r = measure(mode, args.batch, args.views, args.dim, args.block_size, args.classes)
        results.append({**r, "machine": machine})
        print(f"| {mode} | {r['loss']:.5f} | {r['seconds']:.1f} | {r['peak_rss_mib']:.0f} | "
              f"{r['peak_increase_mib']:.0f} | {r['dense_matrix_mib']:.0f} |", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
