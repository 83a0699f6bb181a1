"""Where one contrastive training step spends its time: TensorFlow's profiler against PyTorch's.

The step is the one of ``benchmarks/train_step_vs_pytorch.py`` (CIFAR ResNet-18 + MLP head,
SupCon loss, SGD; ``--batch`` examples x 2 views, 32 px, fp32, ``--threads`` threads), built
by that script's own functions. After warm-up steps, ``--steps`` steps of each side are
recorded: kerascon's with ``tf.profiler.experimental`` (the trace's TensorFlow op statistics,
read with the profiler's own ``framework_op_stats`` tool), the PyTorch code's with
``torch.profiler`` (``key_averages()``, self CPU time). Both are summed into the same op
families (convolution forward, convolution backward by filter and by input, batch norm,
matmul, element-wise, optimizer update, the rest) and printed side by side, per step, with
the ten most expensive ops of each side.

To see what a CPU without AVX-512 does, run it again with the instruction sets capped, e.g.
``--max-isa AVX2``: it sets ``ONEDNN_MAX_CPU_ISA`` (oneDNN in TensorFlow and PyTorch),
``MKL_ENABLE_INSTRUCTIONS`` (PyTorch's MKL), ``ATEN_CPU_CAPABILITY`` (PyTorch's vectorised
kernels) and ``XLA_FLAGS=--xla_cpu_max_isa`` before either framework loads. That emulates
the instruction set only, not another chip's caches, clock or memory.

    PYTHONPATH=. python benchmarks/train_step_profile.py --steps 3
    PYTHONPATH=. python benchmarks/train_step_profile.py --steps 3 --max-isa AVX2
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks.train_step_vs_pytorch import (  # noqa: E402  (NumPy only: no framework loads)
    add_step_arguments,
    configure_tensorflow,
    kerascon_side,
    synthetic_batch,
    torch_side,
)

#: Op-name fragments (lower case) -> family; the first family whose fragment matches wins.
FAMILIES = (
    ("conv backward", ("backprop", "convolution_backward")),
    ("conv forward", ("conv2d", "convolution", "conv")),
    ("batch norm", ("batchnorm", "batch_norm", "native_batch_norm")),
    ("matmul", ("matmul", "addmm", "::mm", "aten::mm", "gemm", "linear")),
    ("optimizer update", ("resourceapply", "assignadd", "assignsub", "assignvariable", "_foreach",
                          "sgd", "add_", "mul_", "optimizer")),
    ("element-wise / reductions", ("relu", "add", "mul", "sub", "sum", "mean", "exp", "log",
                                   "max", "div", "square", "tile", "select", "where", "neg",
                                   "sqrt", "rsqrt", "cast", "fill", "copy", "cat", "concat")),
)
ISA_VARIABLES = {"AVX2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
                          "ATEN_CPU_CAPABILITY": "avx2", "XLA_FLAGS": "--xla_cpu_max_isa=AVX2"},
                 "AVX512": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE", "MKL_ENABLE_INSTRUCTIONS": "AVX512",
                            "ATEN_CPU_CAPABILITY": "avx512",
                            "XLA_FLAGS": "--xla_cpu_max_isa=AVX512"}}


def family(op_name):
    name = op_name.lower()
    for label, fragments in FAMILIES:
        if any(fragment in name for fragment in fragments):
            return label
    return "other"


def summarise(op_seconds, steps):
    """``{family: seconds per step}`` and the top ops, from ``{op: total seconds}``."""
    families = collections.Counter()
    for op, seconds in op_seconds.items():
        families[family(op)] += seconds / steps
    top = sorted(op_seconds.items(), key=lambda item: -item[1])[:10]
    return dict(families), [(op, seconds / steps) for op, seconds in top]


def tensorflow_op_seconds(step, steps):
    """Self time per TensorFlow op type over ``steps`` calls of ``step``, from a profiler trace."""
    import tensorflow as tf
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as plugin

    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        for _ in range(steps):
            step()
        tf.profiler.experimental.stop()
        spaces = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
        data, ok = plugin.xspace_to_tools_data(spaces, "framework_op_stats", {})
    if not ok or not data:
        raise SystemExit("the TensorFlow profiler wrote no op statistics")
    seconds = collections.Counter()
    for table in json.loads(data):  # Google DataTable JSON: cols (ids) and rows of cells
        ids = [col["id"] for col in table["cols"]]
        for row in table["rows"]:
            cell = dict(zip(ids, (c.get("v") if c else None for c in row["c"])))
            if cell.get("host_or_device") != "Host" or cell.get("type") == "IDLE":
                continue
            seconds[cell["type"]] += float(cell["total_self_time"]) / 1e6
    return dict(seconds)


def torch_op_seconds(step, steps):
    """Self CPU time per PyTorch op over ``steps`` calls of ``step`` (torch.profiler)."""
    import torch

    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        for _ in range(steps):
            step()
    return {event.key: event.self_cpu_time_total / 1e6 for event in profile.key_averages()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_step_arguments(p)
    p.add_argument("--steps", type=int, default=3, help="profiled steps per side")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--max-isa", choices=sorted(ISA_VARIABLES), default=None,
                   help="cap oneDNN, MKL, ATen and XLA at this instruction set")
    p.add_argument("--jit-compile", action="store_true", help="kerascon's step with XLA")
    p.add_argument("--json", default=None, help="also write the numbers to this file")
    args = p.parse_args(argv)
    if args.max_isa:
        os.environ.update(ISA_VARIABLES[args.max_isa])

    from benchmarks.common import machine_info, print_machine

    configure_tensorflow(args.threads)
    views, labels = synthetic_batch(args.batch, args.image_size)
    sides = {"PyTorch (SupContrast)": (torch_side(views, labels, args.threads, 0.05), torch_op_seconds),
             "kerascon (TensorFlow)": (kerascon_side(views, labels, 0.05, args.jit_compile or "auto"),
                                       tensorflow_op_seconds)}
    results = {}
    for name, (step, profiler) in sides.items():
        for _ in range(args.warmup):
            step()
        results[name] = summarise(profiler(step, args.steps), args.steps)
    info = machine_info()
    print_machine(info)
    print(f"- Capped instruction set: {args.max_isa or 'none (the host native)'}; "
          f"{args.batch} x 2 views x {args.image_size} px, {args.threads} threads, "
          f"{args.steps} profiled steps per side; op self time per step (thread seconds)\n")
    labels_ = [label for label, _ in FAMILIES] + ["other"]
    names = list(results)
    print("| op family | " + " | ".join(f"{n} s" for n in names) + " |")
    print("|---|" + "---:|" * len(names))
    for label in labels_ + ["total"]:
        values = [sum(results[n][0].values()) if label == "total" else results[n][0].get(label, 0.0)
                  for n in names]
        print(f"| {label} | " + " | ".join(f"{v:.3f}" for v in values) + " |")
    for n in names:
        print(f"\nTop ops, {n} (s per step): "
              + "; ".join(f"{op} {seconds:.3f}" for op, seconds in results[n][1]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "max_isa": args.max_isa, "args": vars(args),
                       "families": {n: results[n][0] for n in names},
                       "top_ops": {n: results[n][1] for n in names}}, f, indent=1)


if __name__ == "__main__":
    main()
