"""Training throughput of SupConModel's contrastive step (encoder + head + SupCon loss).

Builds ``SupConModel(build_encoder(arch, ...))`` (a ResNet or a CIFAR ResNet) in the
``contrastive`` stage, compiles it with momentum SGD (``kerascon.optimizers.build_optimizer``,
lr 0.1, momentum 0.9, weight decay 1e-4 by default) and trains it on synthetic data: ONE random batch
``(views float32 [B, V, H, W, 3] uniform in [0, 255], labels int32 [B])`` held in memory
and served by ``tf.data.Dataset.from_tensors(...).repeat().prefetch(AUTOTUNE)``, so the
input pipeline costs next to nothing (no decoding or augmentation is measured; on a GPU
the per-step host-to-device copy of the batch is included, as in real training).

Timing:

1. A warmup ``model.fit(ds, steps_per_epoch=--warmup-steps, epochs=1)``: traces the
   train function (and XLA-compiles it with jit). Its wall time is reported separately.
2. A timed ``model.fit(ds, steps_per_epoch=--steps, epochs=1, verbose=0)`` reusing the
   same train function. A callback records ``time.perf_counter()`` at the start of the
   first step and at the end of every step, after Keras has converted the step's logs to
   Python floats (which waits for the step's loss, a device sync on a GPU). The step
   times are the differences between consecutive step ends (the first step from its
   start). Throughput uses their sum; ``fit wall s`` (the whole timed ``fit`` call,
   including iterator and callback set-up) is reported too.

Reported: images/s (``B * V * steps / seconds``, every view counts as an image),
examples/s (``B * steps / seconds``), median and mean step time, the process's peak RSS
during the timed fit (VmHWM, reset before it) and, with a GPU, TF's peak GPU allocation.

Example::

    PYTHONPATH=. python benchmarks/train_benchmark.py --arch resnet18 --stem cifar \\
        --image-size 32 --batch-size 256 --views 2 --steps 10 --warmup-steps 2 \\
        --json train.json
"""

from __future__ import annotations

import argparse
import os
import sys
import time

if __package__ in (None, ""):  # run as a script: make `benchmarks` and `kerascon` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks import common  # noqa: E402

# The ResNets and the CIFAR ResNets (He et al. 2016, section 4.2; CIFAR stem only).
ARCHS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnet200",
         "resnet20", "resnet32", "resnet44", "resnet56", "resnet110")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", choices=ARCHS, default="resnet18")
    p.add_argument("--stem", choices=("cifar", "imagenet"), default="cifar")
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=256, help="examples per step B")
    p.add_argument("--views", type=int, default=2, help="views per example V")
    p.add_argument("--steps", type=int, default=10, help="timed training steps (>= 1)")
    p.add_argument("--warmup-steps", type=int, default=2,
                   help="steps of the untimed warmup fit, which traces/compiles (>= 1)")
    p.add_argument("--width-multiplier", type=float, default=1.0)
    p.add_argument("--projection-dim", type=int, default=128)
    p.add_argument("--projection-hidden-dim", type=int, default=2048)
    p.add_argument("--num-classes", type=int, default=10,
                   help="synthetic labels are uniform in [0, num_classes)")
    p.add_argument("--jit", action=argparse.BooleanOptionalAction, default=None,
                   help="compile(jit_compile=True/False); default: Keras' 'auto' "
                        "(XLA off on CPU-only machines, on with a GPU)")
    p.add_argument("--mixed-precision", choices=("none", "mixed_bfloat16", "mixed_float16"),
                   default="none", help="Keras dtype policy for the model")
    p.add_argument("--optimizer", choices=("sgd", "lars", "rmsprop"), default="sgd")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--threads", type=int, default=0,
                   help="TensorFlow intra-op threads (0 = TensorFlow's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="PATH", help="write machine info and results as JSON")
    args = p.parse_args(argv)
    if args.steps < 1 or args.warmup_steps < 1:
        p.error("--steps and --warmup-steps must be at least 1")
    if min(args.batch_size, args.views, args.image_size) < 1 or args.width_multiplier <= 0:
        p.error("--batch-size, --views, --image-size and --width-multiplier must be positive")
    return args


def synthetic_dataset(args):
    import tensorflow as tf

    shape = (args.batch_size, args.views, args.image_size, args.image_size, 3)
    views = tf.random.uniform(shape, 0.0, 255.0, dtype=tf.float32, seed=args.seed)
    labels = tf.random.uniform((args.batch_size,), 0, max(1, args.num_classes),
                               dtype=tf.int32, seed=args.seed + 1)
    return tf.data.Dataset.from_tensors((views, labels)).repeat().prefetch(tf.data.AUTOTUNE)


def build_model(args):
    import keras

    from kerascon.encoders import build_encoder
    from kerascon.model import SupConModel
    from kerascon.optimizers import build_optimizer

    if args.mixed_precision != "none":
        keras.mixed_precision.set_global_policy(args.mixed_precision)
    keras.utils.set_random_seed(args.seed)
    encoder = build_encoder(args.arch, stem=args.stem, width_multiplier=args.width_multiplier,
                            input_shape=(args.image_size, args.image_size, 3))
    model = SupConModel(encoder, projection_dim=args.projection_dim,
                        projection_hidden_dim=args.projection_hidden_dim)
    optimizer = build_optimizer(args.optimizer, args.lr, momentum=args.momentum,
                                weight_decay=args.weight_decay)
    compile_kwargs = {} if args.jit is None else {"jit_compile": args.jit}
    model.compile(optimizer=optimizer, **compile_kwargs)
    return model


def make_step_timer():
    import keras

    class StepTimer(keras.callbacks.Callback):
        """Wall-clock time at the first step's start and at every step's end."""

        def __init__(self):
            super().__init__()
            self.start = None
            self.ends = []
            self.losses = []

        def on_train_batch_begin(self, batch, logs=None):
            if self.start is None:
                self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            # Keras has already turned logs into Python floats (a sync); be explicit anyway.
            self.losses.append(float((logs or {}).get("loss", float("nan"))))
            self.ends.append(time.perf_counter())

        def step_times(self):
            marks = [self.start] + self.ends
            return [b - a for a, b in zip(marks, marks[1:])]

    return StepTimer()


def main(argv=None):
    args = parse_args(argv)
    common.configure_threads(args.threads)
    import tensorflow as tf

    info = common.machine_info()
    tf.random.set_seed(args.seed)
    dataset = synthetic_dataset(args)

    t0 = time.perf_counter()
    model = build_model(args)
    build_s = time.perf_counter() - t0
    params = int(sum(v.numpy().size for v in model.trainable_variables))
    print(f"model built in {build_s:.1f} s: {params:,} trainable parameters, "
          f"feature dim {model.feature_dim}, jit_compile={model.jit_compile}",
          file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    model.fit(dataset, steps_per_epoch=args.warmup_steps, epochs=1, verbose=0,
              shuffle=False)
    warmup_s = time.perf_counter() - t0
    print(f"warmup fit ({args.warmup_steps} steps, incl. tracing/compiling) {warmup_s:.1f} s",
          file=sys.stderr, flush=True)

    timer = make_step_timer()
    resettable = common.reset_peak_rss()
    has_gpu_stats = common.gpu_reset_peak()
    t0 = time.perf_counter()
    model.fit(dataset, steps_per_epoch=args.steps, epochs=1, verbose=0,
              shuffle=False, callbacks=[timer])
    fit_wall_s = time.perf_counter() - t0
    peak_rss = common.peak_rss_bytes()

    step_times = timer.step_times()
    total_s = sum(step_times)
    images = args.batch_size * args.views * args.steps
    examples = args.batch_size * args.steps
    result = {
        "arch": args.arch,
        "stem": args.stem,
        "image_size": args.image_size,
        "batch_size": args.batch_size,
        "views": args.views,
        "width_multiplier": args.width_multiplier,
        "mixed_precision": args.mixed_precision,
        "jit_compile_requested": "auto" if args.jit is None else args.jit,
        "jit_compile": bool(model.jit_compile),
        "optimizer": args.optimizer,
        "trainable_params": params,
        "feature_dim": model.feature_dim,
        "steps": args.steps,
        "warmup_steps": args.warmup_steps,
        "build_s": build_s,
        "warmup_fit_s": warmup_s,
        "timed_s": total_s,
        "fit_wall_s": fit_wall_s,
        "images_per_s": images / total_s,
        "examples_per_s": examples / total_s,
        "images_per_s_fit_wall": images / fit_wall_s,
        "step_ms_median": common.median(step_times) * 1e3,
        "step_ms_mean": total_s / len(step_times) * 1e3,
        "step_ms_min": min(step_times) * 1e3,
        "step_times_ms": [t * 1e3 for t in step_times],
        "final_loss": timer.losses[-1] if timer.losses else None,
        "peak_rss_mib": common.mib(peak_rss),
        "peak_rss_method": ("VmHWM during the timed fit (reset via /proc/self/clear_refs)"
                            if resettable else "process-lifetime peak (reset unavailable)"),
        "gpu_peak_mib": common.mib(common.gpu_peak_bytes()) if has_gpu_stats else None,
    }

    print("## SupConModel contrastive training step\n")
    common.print_machine(info)
    print(f"- Settings: {args.arch} ({args.stem} stem, width x{args.width_multiplier:g}, "
          f"{params:,} trainable params), {args.image_size}x{args.image_size} images, "
          f"projection {args.projection_hidden_dim}->{args.projection_dim}, "
          f"{args.optimizer} lr {args.lr} momentum {args.momentum} wd {args.weight_decay}, "
          f"jit_compile={result['jit_compile']} (requested {result['jit_compile_requested']}), "
          f"dtype policy {args.mixed_precision}, {args.warmup_steps} warmup + {args.steps} "
          f"timed steps, synthetic in-memory data\n")
    headers = ["arch", "image", "batch", "views", "width", "precision", "jit", "images/s",
               "examples/s", "median step ms", "mean step ms", "warmup fit s", "peak RSS MiB"]
    row = [args.arch, args.image_size, args.batch_size, args.views, f"{args.width_multiplier:g}",
           args.mixed_precision, result["jit_compile"], result["images_per_s"],
           result["examples_per_s"], result["step_ms_median"], result["step_ms_mean"],
           warmup_s, result["peak_rss_mib"]]
    if result["gpu_peak_mib"] is not None:
        headers.append("GPU peak MiB")
        row.append(result["gpu_peak_mib"])
    print(common.markdown_table(headers, [row]))
    print(f"\nimages/s counts every view (batch x views x steps / summed step time); "
          f"whole timed fit call: {fit_wall_s:.2f} s "
          f"({result['images_per_s_fit_wall']:.1f} images/s incl. fit overhead).")

    if args.json:
        common.write_json(args.json, {
            "benchmark": "train",
            "machine": info,
            "settings": {k: v for k, v in vars(args).items() if k != "json"},
            "result": result,
        })
    return 0


if __name__ == "__main__":
    sys.exit(main())
