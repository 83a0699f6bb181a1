"""Momentum encoder + queue (SupConModel(momentum_encoder=, queue_size=)): memory and kNN.

``memory``: peak RSS of one contrastive train step at batch 256 x 2 views with a tiny
encoder, without a key network, with keys only (queue 0) and with a 65,536 x 128 queue
(blockwise similarity, the default above 2**24 entries, and forced dense). Each setting
runs in its own subprocess: RSS is read after building the model, then the peak over the
first step (tracing included) and 3 more; the extra memory of a setting is its peak minus
the peak without a key network.

``knn``: small-batch SupCon on a CIFAR-10 (JPEG) subset, ResNet-18 (width 0.125, cifar
stem), with and without the momentum encoder + queue, several seeds; weighted kNN top-1
(k=200, t=0.1) of the encoder features on test images.

    PYTHONPATH=. python benchmarks/momentum_queue.py memory
    PYTHONPATH=. python benchmarks/momentum_queue.py knn --train-examples 2000 \\
        --test-examples 1000 --batch-size 32 --epochs 3 --seeds 0,1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

MEMORY_SETTINGS = {
    "no key network": {"momentum_encoder": None, "queue_size": 0},
    "momentum, queue 0": {"momentum_encoder": 0.999, "queue_size": 0},
    "momentum, queue 65536 (blockwise)": {"momentum_encoder": 0.999, "queue_size": 65536},
    "momentum, queue 65536 (dense)": {"momentum_encoder": 0.999, "queue_size": 65536,
                                      "dense": True},
}


def _memory_child(setting, batch, views, dim):
    import keras
    import numpy as np

    from benchmarks import common
    from kerascon.losses import blockwise as loss_blocks
    from kerascon.model import SupConModel

    options = dict(MEMORY_SETTINGS[setting])
    if options.pop("dense", False):
        loss_blocks.AUTO_BLOCK_ELEMENTS = 2**62  # "auto" stays dense
    encoder = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(8, 3, strides=2),
                                keras.layers.ReLU(), keras.layers.GlobalAveragePooling2D()])
    model = SupConModel(encoder, projection_dim=dim, projection_hidden_dim=256, **options)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(batch, views, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 100, size=batch).astype("int32")
    before = common.current_rss_bytes()
    exact = common.reset_peak_rss()
    model.train_on_batch(x, y)  # trace and run
    start = time.perf_counter()
    for _ in range(3):
        loss = model.train_on_batch(x, y)
    seconds = (time.perf_counter() - start) / 3
    return {"setting": setting, "rss_before_mib": common.mib(before),
            "step_peak_mib": common.mib(common.peak_rss_bytes()),
            "step_extra_mib": common.mib(common.peak_rss_bytes() - before),
            "peak_is_since_reset": exact, "step_seconds": round(seconds, 3),
            "loss": float(loss)}


def run_memory(args):
    from benchmarks import common

    common.print_machine(common.machine_info())
    rows = []
    for setting in MEMORY_SETTINGS:
        out = subprocess.run([sys.executable, __file__, "memory-child", setting,
                              "--batch-size", str(args.batch_size)],
                             capture_output=True, text=True, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        print(json.dumps(result))
        rows.append(result)
    base = rows[0]["step_peak_mib"]
    print(common.markdown_table(
        ["setting", "RSS after build (MiB)", "peak over 4 steps (MiB)",
         "peak - RSS after build (MiB)", "peak vs no key network (MiB)", "s/step"],
        [[r["setting"], r["rss_before_mib"], r["step_peak_mib"], r["step_extra_mib"],
          round(r["step_peak_mib"] - base, 1), r["step_seconds"]] for r in rows]))


def run_knn(args):
    import keras
    import numpy as np

    from benchmarks import common
    from benchmarks.cifar10_data import load_cifar10
    from kerascon.data import from_arrays, multiview_dataset
    from kerascon.evaluation.knn import knn_accuracy
    from kerascon.model import SupConModel

    common.print_machine(common.machine_info())
    x_train, y_train, x_test, y_test, _ = load_cifar10(
        train_examples=args.train_examples, test_examples=args.test_examples, workers=1)
    source = from_arrays(x_train, y_train)
    results = []
    for seed in args.seeds:
        for name, options in (("batch keys only (plain SupCon)", {}),
                              (f"momentum {args.momentum}, queue {args.queue_size}, key BN "
                               f"{args.key_batch_norm}",
                               {"momentum_encoder": args.momentum,
                                "queue_size": args.queue_size,
                                "key_batch_norm": args.key_batch_norm})):
            if args.queue_only and not options:
                continue
            keras.utils.set_random_seed(seed)
            model = SupConModel.from_architecture(
                "resnet18", stem="cifar", width_multiplier=0.125, projection_dim=128,
                projection_hidden_dim=512, temperature=0.1, **options)
            model.compile(optimizer=keras.optimizers.SGD(args.lr, momentum=0.9))
            ds = multiview_dataset(source, views=2, batch_size=args.batch_size,
                                   augment="simclr", seed=seed, crop_scale=(0.2, 1.0))
            start = time.perf_counter()
            history = model.fit(ds, epochs=args.epochs, verbose=0)
            train_s = time.perf_counter() - start
            train_emb = np.asarray(model.predict(x_train, batch_size=256, verbose=0)["embedding"])
            test_emb = np.asarray(model.predict(x_test, batch_size=256, verbose=0)["embedding"])
            knn = knn_accuracy(train_emb, y_train, test_emb, y_test, k=200, temperature=0.1)
            row = {"seed": seed, "setting": name, "knn_top1": round(knn["knn_top1"], 4),
                   "final_loss": round(float(history.history["loss"][-1]), 4),
                   "train_seconds": round(train_s, 1)}
            print(json.dumps(row), flush=True)
            results.append(row)
    table = []
    for name in dict.fromkeys(r["setting"] for r in results):
        top1 = [r["knn_top1"] for r in results if r["setting"] == name]
        table.append([name, ", ".join(f"{v:.4f}" for v in top1), f"{np.mean(top1):.4f}",
                      ", ".join(str(r["train_seconds"]) for r in results
                                if r["setting"] == name)])
    print(common.markdown_table(["setting", "kNN top-1 per seed", "mean", "train s per seed"],
                                table))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=["memory", "knn", "memory-child"])
    p.add_argument("setting", nargs="?")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--train-examples", type=int, default=2000)
    p.add_argument("--test-examples", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.99)
    p.add_argument("--queue-size", type=int, default=4096)
    p.add_argument("--queue-only", action="store_true", help="skip the plain SupCon runs")
    p.add_argument("--key-batch-norm", choices=["batch", "moving"], default="batch",
                   help="the key network's batch-norm statistics (kerascon.model.key_network)")
    args = p.parse_args(argv)
    args.seeds = [int(s) for s in args.seeds.split(",")]
    if args.mode == "memory-child":
        print(json.dumps(_memory_child(args.setting, args.batch_size or 256, 2, 128)))
    elif args.mode == "memory":
        args.batch_size = args.batch_size or 256
        run_memory(args)
    else:
        args.batch_size = args.batch_size or 32
        run_knn(args)


if __name__ == "__main__":
    main()
