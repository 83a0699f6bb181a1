"""SupCon loss forward + backward: time and peak memory vs batch size.

For each batch size B, a fresh Python subprocess (so that earlier sizes do not pollute
its memory figures) builds random features [B, V, D] and labels [B], then times a
``tf.function`` (``jit_compile`` from ``--jit``) that computes
``kerascon.losses.supcon_loss(features, labels)`` and its gradient with respect to the
features (``tf.GradientTape``). The function returns the loss and ``sum(|grad|)``, and
both are fetched to the host after every call, so each timed call includes the whole
forward and backward pass (and the device sync on a GPU).

Measured per batch size:

* ``first call ms``: the first call, which traces the function (and XLA-compiles it with
  ``--jit``). It is one of the ``--warmup`` calls.
* ``median ms`` / ``min ms``: wall time (``time.perf_counter``) of each of ``--repeats``
  calls made after the ``--warmup`` calls.
* ``peak RSS MiB``: peak resident set size during the timed repeats minus the RSS just
  before the first call (after importing TensorFlow and kerascon and building the
  inputs). The kernel's peak mark (VmHWM in /proc/self/status) is reset by writing ``5``
  to /proc/self/clear_refs after the warmup, so the trace/compile peak is not in it.
  ``first-call peak MiB`` is the same difference over the first (tracing/compiling) call.
  Memory the allocator keeps after the warmup counts towards both (the JSON's
  ``rss_before_repeats_increase_mib`` is that retained part). Without clear_refs the
  script falls back to ``ru_maxrss`` (the process-lifetime peak) and says so.
* ``logits MiB``: the theoretical size of one [V*B, V*B] float32 similarity matrix,
  ``(V*B)^2 * 4`` bytes, for context (the loss holds a few matrices of that size).
* With a GPU visible to TensorFlow, also TF's peak GPU allocation over the repeats.

Example::

    PYTHONPATH=. python benchmarks/loss_benchmark.py --batch-sizes 256 1024 4096 \\
        --views 2 --dim 128 --repeats 20 --warmup 3 --no-jit --json loss.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

if __package__ in (None, ""):  # run as a script: make `benchmarks` and `kerascon` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import common  # noqa: E402

RESULT_MARKER = "@@LOSS_BENCHMARK_RESULT@@ "


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024, 4096],
                   help="batch sizes B (examples; the loss sees V*B views)")
    p.add_argument("--views", type=int, default=2, help="views per example V")
    p.add_argument("--dim", type=int, default=128, help="feature dimension D")
    p.add_argument("--num-classes", type=int, default=10,
                   help="labels are uniform in [0, num_classes); 0 = no labels (SimCLR)")
    p.add_argument("--temperature", type=float, default=0.1)
    p.add_argument("--repeats", type=int, default=20, help="timed calls per batch size")
    p.add_argument("--warmup", type=int, default=3,
                   help="untimed calls before timing, the first traces/compiles (>= 1)")
    p.add_argument("--jit", action=argparse.BooleanOptionalAction, default=False,
                   help="tf.function(jit_compile=True) (XLA); default --no-jit")
    p.add_argument("--threads", type=int, default=0,
                   help="TensorFlow intra-op threads (0 = TensorFlow's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--block-size", default="none",
                   help="supcon_loss block_size: 'none' (dense), 'auto', or rows per block")
    p.add_argument("--timeout", type=float, default=3600,
                   help="seconds allowed per batch-size subprocess")
    p.add_argument("--json", metavar="PATH", help="write machine info and results as JSON")
    p.add_argument("--_worker-batch-size", dest="worker_batch_size", type=int,
                   help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.warmup < 1:
        p.error("--warmup must be at least 1 (the first call traces the function)")
    if args.repeats < 1:
        p.error("--repeats must be at least 1")
    if args.views < 1 or args.dim < 1 or min(args.batch_sizes) < 1:
        p.error("--views, --dim and --batch-sizes must be positive")
    return args


def logits_mib(batch, views):
    return (views * batch) ** 2 * 4 / common.MIB


# ---------------------------------------------------------------------- worker
def run_worker(args, batch):
    """Measure one batch size in this process; returns a result dict."""
    common.configure_threads(args.threads)
    import tensorflow as tf

    from kerascon.losses import supcon_loss

    tf.random.set_seed(args.seed)
    features = tf.random.normal((batch, args.views, args.dim), dtype=tf.float32)
    labels = None
    if args.num_classes > 0:
        labels = tf.random.uniform((batch,), 0, args.num_classes, dtype=tf.int32)
    temperature = args.temperature
    block_size = {"none": None, "auto": "auto"}.get(args.block_size.lower(), None)
    if block_size is None and args.block_size.lower() not in ("none",):
        block_size = int(args.block_size)

    @tf.function(jit_compile=args.jit)
    def loss_and_grad(x, y):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = supcon_loss(x, y, temperature=temperature, block_size=block_size)
        grad = tape.gradient(loss, x)
        return loss, tf.reduce_sum(tf.abs(grad))

    def call():
        loss, grad_abs_sum = loss_and_grad(features, labels)
        return float(loss.numpy()), float(grad_abs_sum.numpy())

    baseline = common.current_rss_bytes()
    resettable = common.reset_peak_rss()
    start = time.perf_counter()
    loss_value, grad_sum = call()
    first_call_s = time.perf_counter() - start
    first_peak = common.peak_rss_bytes()
    for _ in range(args.warmup - 1):
        call()

    before_repeats = common.current_rss_bytes()
    if resettable:
        resettable = common.reset_peak_rss()
    has_gpu_stats = common.gpu_reset_peak()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    peak = common.peak_rss_bytes()

    def increase(p):
        return None if p is None or baseline is None else common.mib(max(0, p - baseline))

    return {
        "batch_size": batch,
        "views": args.views,
        "dim": args.dim,
        "num_classes": args.num_classes,
        "jit": args.jit,
        "block_size": args.block_size,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "loss": loss_value,
        "grad_abs_sum": grad_sum,
        "first_call_ms": first_call_s * 1e3,
        "median_ms": common.median(times) * 1e3,
        "min_ms": min(times) * 1e3,
        "mean_ms": sum(times) / len(times) * 1e3,
        "times_ms": [t * 1e3 for t in times],
        "baseline_rss_mib": common.mib(baseline),
        "rss_before_repeats_increase_mib": increase(before_repeats),
        "peak_rss_increase_mib": increase(peak),
        "first_call_peak_rss_increase_mib": increase(first_peak),
        "peak_rss_method": ("VmHWM reset via /proc/self/clear_refs" if resettable
                            else "ru_maxrss/VmHWM process-lifetime peak (reset unavailable)"),
        "gpu_peak_mib": common.mib(common.gpu_peak_bytes()) if has_gpu_stats else None,
        "logits_matrix_mib": logits_mib(batch, args.views),
    }


# ---------------------------------------------------------------------- parent
def _worker_command(args, batch):
    cmd = [sys.executable, os.path.abspath(__file__),
           "--_worker-batch-size", str(batch),
           "--views", str(args.views), "--dim", str(args.dim),
           "--num-classes", str(args.num_classes), "--temperature", repr(args.temperature),
           "--repeats", str(args.repeats), "--warmup", str(args.warmup),
           "--threads", str(args.threads), "--seed", str(args.seed),
           "--block-size", str(args.block_size),
           "--jit" if args.jit else "--no-jit"]
    return cmd


def run_subprocess(args, batch):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [common.REPO_ROOT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        proc = subprocess.run(_worker_command(args, batch), capture_output=True, text=True,
                              env=env, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"batch_size": batch, "error": f"timed out after {args.timeout:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER):])
    tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
    reason = f"exit code {proc.returncode}"
    if proc.returncode < 0 or proc.returncode == 137:
        reason += " (killed: out of memory?)"
    return {"batch_size": batch, "error": f"{reason}: {tail}"}


def main(argv=None):
    args = parse_args(argv)
    if args.worker_batch_size is not None:
        result = run_worker(args, args.worker_batch_size)
        print(RESULT_MARKER + json.dumps(result), flush=True)
        return 0

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    info = common.machine_info()
    print("## SupCon loss forward + backward\n")
    common.print_machine(info)
    labels = f"{args.num_classes} classes" if args.num_classes > 0 else "no labels (SimCLR)"
    print(f"- Settings: block_size={args.block_size}, jit_compile={args.jit}, "
          f"temperature={args.temperature}, labels: "
          f"{labels}, warmup {args.warmup}, repeats {args.repeats}, one subprocess per batch "
          "size\n", flush=True)

    results = []
    for batch in args.batch_sizes:
        result = run_subprocess(args, batch)
        results.append(result)
        if "error" in result:
            print(f"batch {batch}: FAILED: {result['error']}", file=sys.stderr, flush=True)
        else:
            print(f"batch {batch}: median {result['median_ms']:.2f} ms, "
                  f"peak RSS +{result['peak_rss_increase_mib']} MiB", file=sys.stderr, flush=True)

    has_gpu = any(r.get("gpu_peak_mib") is not None for r in results)
    headers = ["batch", "views", "dim", "median ms", "min ms", "first call ms",
               "peak RSS MiB", "first-call peak MiB", "logits matrix MiB"]
    if has_gpu:
        headers.append("GPU peak MiB")
    rows = []
    for r in results:
        if "error" in r:
            row = [r["batch_size"], args.views, args.dim, "failed", None, None, None, None,
                   logits_mib(r["batch_size"], args.views)]
            row += [None] if has_gpu else []
        else:
            row = [r["batch_size"], r["views"], r["dim"], r["median_ms"], r["min_ms"],
                   r["first_call_ms"], r["peak_rss_increase_mib"],
                   r["first_call_peak_rss_increase_mib"], r["logits_matrix_mib"]]
            row += [r["gpu_peak_mib"]] if has_gpu else []
        rows.append(row)
    print()
    print(common.markdown_table(headers, rows))
    methods = {r["peak_rss_method"] for r in results if "peak_rss_method" in r}
    print(f"\nPeak RSS: increase over the RSS after imports and input construction "
          f"({'; '.join(sorted(methods)) or 'n/a'}); the table's column covers the timed "
          "repeats, first-call peak the tracing/compiling call.")

    if args.json:
        common.write_json(args.json, {
            "benchmark": "loss",
            "machine": info,
            "settings": {k: v for k, v in vars(args).items()
                         if k not in ("json", "worker_batch_size")},
            "results": results,
        })
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
