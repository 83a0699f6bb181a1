"""SupCon on Keras' JAX backend: loss time / memory and training images/s (GPU or CPU).

Two phases, each writing its results to ``--out``/throughput.json as soon as it ends:

* ``loss``: ``kerascon.losses.supcon_loss`` forward + backward (gradient w.r.t. the
  features) inside one ``jax.jit``: the blockwise default at 8,192 and 65,536 images x 2
  views, then the dense computation at 8,192 x 2 (the authors' formulation). Peak device
  memory is JAX's ``peak_bytes_in_use``, which only grows: the configurations run from
  the smallest expected peak to the largest, so each reading is that configuration's peak.
* ``train``: ``SupConModel`` contrastive training with ``model.fit`` on uint8 images held
  in host memory (NumPy), views made on the device by ``ViewAugmentation`` (random
  resized crop, flip, colour jitter, grayscale): CIFAR ResNet-50 at 32x32 on the real
  CIFAR-10 training images and ImageNet ResNet-50 at 224x224 on random uint8 images (no
  ImageNet here; host-to-device transfer and augmentation cost the same). Images/s count
  views and exclude the first epoch (compilation). The augmentation alone is timed too.

    KERAS_BACKEND=jax python benchmarks/jax_throughput.py --out results/ \\
        --mixed-precision bfloat16
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

TRAIN_CONFIGS = {
    # name: (depth, stem, image size, batch, images held in host memory, epochs)
    "cifar_resnet50_32": (50, "cifar", 32, 1024, None, 3),
    "imagenet_resnet50_224": (50, "imagenet", 224, 256, 4096, 4),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--phases", default="loss,train")
    p.add_argument("--configs", default=",".join(TRAIN_CONFIGS))
    p.add_argument("--loss-sizes", default="8192,65536",
                   help="batch sizes of the blockwise loss; dense runs at the first")
    p.add_argument("--mixed-precision", choices=["none", "bfloat16", "float16"],
                   default="bfloat16")
    p.add_argument("--data", default=None, help="cifar10_jpeg.npz (default: ../shared/...)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply batch sizes, host images and widths (CPU smoke tests)")
    p.add_argument("--deadline", type=float, default=None,
                   help="seconds: skip a training configuration that would start later "
                        "than this minus --phase-estimate")
    p.add_argument("--phase-estimate", type=float, default=100.0)
    return p.parse_args(argv)


def machine():
    import jax
    import keras

    device = jax.devices()[0]
    try:
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version",
                              "--format=csv,noheader"], capture_output=True, text=True,
                             timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        smi = None
    return {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "device": f"{device.platform}:{device.device_kind}", "devices": jax.device_count(),
            "nvidia_smi": smi, "jax": jax.__version__, "keras": keras.__version__,
            "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "command": " ".join(sys.argv)}


def peak_bytes():
    import jax

    stats = jax.devices()[0].memory_stats() or {}
    return stats.get("peak_bytes_in_use")


def timed(fn, *args, repeats=5, warmup=1):
    import jax

    for _ in range(warmup):
        jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return times


# ---------------------------------------------------------------------------- loss
def loss_phase(args):
    import jax

    from kerascon.losses import supcon_loss

    sizes = [int(s) for s in args.loss_sizes.split(",")]
    configs = [(n, "auto") for n in sizes] + [(sizes[0], None)]
    rows = []
    for n, block in configs:
        key = jax.random.PRNGKey(n)
        features = jax.random.normal(key, (n, 2, 128), "float32")
        labels = jax.random.randint(jax.random.PRNGKey(1), (n,), 0, 1000)

        def loss(f, y, block=block):
            return supcon_loss(f, y, temperature=0.1, block_size=block)

        step = jax.jit(jax.value_and_grad(loss))
        start = time.perf_counter()
        jax.block_until_ready(step(features, labels))
        compile_s = time.perf_counter() - start
        times = timed(step, features, labels, repeats=5, warmup=0)
        row = {"batch": n, "views": 2, "dim": 128, "mode": "blockwise" if block else "dense",
               "first_call_s": round(compile_s, 2), "median_ms": round(1e3 * np.median(times), 2),
               "min_ms": round(1e3 * min(times), 2),
               "peak_device_mib_so_far": None if peak_bytes() is None
               else round(peak_bytes() / 2**20, 1),
               "dense_logits_mib": round((2 * n) ** 2 * 4 / 2**20, 1)}
        print(f"[loss] {row}", flush=True)
        rows.append(row)
        del features, labels
    return rows


# ---------------------------------------------------------------------------- train
def augmentation_only(images, views, repeats=5):
    import jax

    from kerascon.layers.views import ViewAugmentation

    layer = ViewAugmentation(views, seed=0)
    layer.build(images.shape)
    state = [v.value for v in layer.non_trainable_variables]

    @jax.jit
    def run(x, state):
        out, state = layer.stateless_call([], state, x)
        return out, state

    x = jax.device_put(images)
    jax.block_until_ready(run(x, state))
    times = timed(lambda: run(x, state)[0], repeats=repeats, warmup=0)
    return round(len(images) * views / float(np.median(times)), 1)


def train_config(name, args, cifar):
    import keras

    from kerascon.encoders import build_resnet
    from kerascon.layers.views import ViewAugmentation
    from kerascon.model import SupConModel
    from kerascon.optimizers import CoupledDecaySGD

    depth, stem, size, batch, host_images, epochs = TRAIN_CONFIGS[name]
    batch = max(2, int(batch * args.scale))
    width = 1.0 if args.scale >= 1 else 0.125
    if size == 32:
        images = cifar
    else:
        count = max(batch * 2, int(host_images * args.scale))
        images = np.random.default_rng(0).integers(0, 256, (count, size, size, 3), np.uint8)
    steps = len(images) // batch
    images = images[: steps * batch]
    labels = np.random.default_rng(1).integers(0, 1000 if size == 224 else 10, len(images))
    keras.utils.set_random_seed(0)
    encoder = build_resnet(depth, stem=stem, width_multiplier=width,
                           input_shape=(size, size, 3))
    model = SupConModel(encoder, projection_dim=128, projection_hidden_dim=2048,
                        augmentation=ViewAugmentation(2, seed=0))
    model.compile(optimizer=CoupledDecaySGD(0.05, momentum=0.9, weight_decay=1e-4))
    epoch_times = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_times.append(time.perf_counter() - self.start)

    history = model.fit(images, labels, batch_size=batch, epochs=epochs, verbose=0,
                        shuffle=True, callbacks=[Clock()])
    steady = epoch_times[1:]
    per_epoch = steps * batch * 2
    row = {"config": name, "depth": depth, "stem": stem, "image_size": size, "batch": batch,
           "views": 2, "width_multiplier": width, "host_images": len(images),
           "steps_per_epoch": steps, "epochs": epochs,
           "first_epoch_s": round(epoch_times[0], 2),
           "steady_epoch_s": [round(t, 3) for t in steady],
           "images_per_s": round(per_epoch * len(steady) / sum(steady), 1),
           "loss": [round(float(v), 4) for v in history.history["loss"]],
           "augmentation_only_images_per_s": augmentation_only(images[:batch], 2),
           "peak_device_mib_so_far": None if peak_bytes() is None
           else round(peak_bytes() / 2**20, 1)}
    print(f"[train] {row}", flush=True)
    return row


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    os.makedirs(args.out, exist_ok=True)
    import keras

    if keras.backend.backend() != "jax":
        raise SystemExit("run with KERAS_BACKEND=jax")
    results = {"machine": machine(), "mixed_precision": args.mixed_precision}
    print(results["machine"], flush=True)
    path = os.path.join(args.out, "throughput.json")

    def save():
        with open(path, "w") as f:
            json.dump(results, f, indent=1)

    phases = args.phases.split(",")
    if "loss" in phases:
        results["loss"] = loss_phase(args)
        save()
    if "train" in phases:
        if args.mixed_precision != "none":
            keras.mixed_precision.set_global_policy(f"mixed_{args.mixed_precision}")
        from benchmarks.cifar10_data import DEFAULT_PATH, load_cifar10

        cifar = load_cifar10(args.data or DEFAULT_PATH,
                             train_examples=None if args.scale >= 1 else 2048,
                             test_examples=1)[0]
        results["train"] = []
        for name in args.configs.split(","):
            elapsed = time.perf_counter() - started
            if args.deadline and elapsed + args.phase_estimate > args.deadline:
                results["train"].append({"config": name, "skipped": f"out of time at {elapsed:.0f} s"})
                print(f"[train] {name} skipped: out of time", flush=True)
            else:
                results["train"].append(train_config(name, args, cifar))
            save()
    results["total_s"] = round(time.perf_counter() - started, 1)
    save()


if __name__ == "__main__":
    main()
