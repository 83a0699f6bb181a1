"""CIFAR-10 on the CPU: the shipped resnet20.supcon_cifar10 recipe against cross-entropy.

Reruns, through the kerascon command line, what the entry's card and BENCHMARKS.md report:

1. SupCon: the entry's recipe (``zoo/weights/resnet20.supcon_cifar10/contrastive.yaml``,
   then ``linear.yaml``) into ``WORK/supcon_s<seed>``;
2. cross-entropy at equal budget (same architecture, batch, epochs and schedule,
   ``benchmarks/recipes/resnet20.ce_cifar10.yaml``) into ``WORK/ce_s<seed>``;
3. for both: top-1 (SupCon: the linear classifier on the frozen encoder; CE: its own
   classifier), kNN top-1 (k=200, temperature 0.1), ECE (15 bins) and accuracy under the
   14 CIFAR-10-C corruptions (1,000 test images, severities 1-5, their mean);
4. kNN top-1 against training time: every epoch's checkpoint is copied while a run trains
   (``WORK/<run>.snapshots/epoch_NNN.keras``) and every ``--knn-every``-th is evaluated.

Every stage resumes: rerunning the command after a stop continues each run from its last
checkpoint and skips what is done (results are cached in ``WORK/results.json``).

    PYTHONPATH=. python benchmarks/cifar10_cpu.py --work ~/runs/cifar10_cpu
    PYTHONPATH=. python benchmarks/cifar10_cpu.py --work /tmp/c --quick   # a smoke run

``--data`` is ../shared/data/cifar10/cifar10_jpeg.npz (decoded once into WORK/cifar10.npz),
a .npz of arrays (x_train, y_train, x_test, y_test), an image folder, or TFDS ``cifar10``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from benchmarks.common import REPO_ROOT, machine_info, markdown_table  # noqa: E402

ENTRY = "resnet20.supcon_cifar10"
RECIPE = os.path.join(REPO_ROOT, "zoo", "weights", ENTRY)
CE_RECIPE = os.path.join(REPO_ROOT, "benchmarks", "recipes", "resnet20.ce_cifar10.yaml")
JPEG_NPZ = os.path.join(REPO_ROOT, "..", "shared", "data", "cifar10", "cifar10_jpeg.npz")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=JPEG_NPZ,
                   help="cifar10_jpeg.npz, a .npz of arrays, an image folder or 'cifar10' (TFDS)")
    p.add_argument("--work", required=True, help="folder for the runs (outside the repository)")
    p.add_argument("--seeds", default="0", help="comma-separated seeds, e.g. 0,1")
    p.add_argument("--epochs", type=int, default=None, help="default: the recipes' (20)")
    p.add_argument("--arms", default="supcon,ce")
    p.add_argument("--knn-every", type=int, default=2, help="kNN of every n-th epoch's checkpoint")
    p.add_argument("--corruption-examples", type=int, default=1000)
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: 2,000 train / 500 test images, 1 epoch, 100 corrupted")
    return p.parse_args(argv)


def kerascon(*args) -> str:
    """Run ``kerascon ARGS`` as a subprocess; its stdout (the error line if it fails)."""
    command = [sys.executable, "-m", "kerascon.cli.main", *[str(a) for a in args]]
    print("$ kerascon " + " ".join(str(a) for a in args), flush=True)
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise SystemExit(f"kerascon {args[0]} failed: {tail[0]}")
    return result.stdout


def last_json(text: str) -> dict:
    return json.loads(next(line for line in reversed(text.splitlines()) if line.startswith("{")))


def prepare_data(args) -> str:
    """A data source kerascon reads: the JPEG npz is decoded once into WORK/cifar10.npz."""
    if not args.data.endswith("cifar10_jpeg.npz") and not args.quick:
        return args.data
    import numpy as np

    from benchmarks.cifar10_data import load_cifar10

    path = os.path.join(args.work, "cifar10_quick.npz" if args.quick else "cifar10.npz")
    if not os.path.isfile(path):
        limits = dict(train_examples=2000, test_examples=500) if args.quick else {}
        x_train, y_train, x_test, y_test, names = load_cifar10(args.data, **limits)
        np.savez(path + ".tmp.npz", x_train=x_train, y_train=y_train, x_test=x_test,
                 y_test=y_test, class_names=np.array(names))
        os.replace(path + ".tmp.npz", path)
    return path


class Snapshots(threading.Thread):
    """Copies each new epoch checkpoint of ``run``'s ``stage`` to ``RUN.snapshots/``."""

    def __init__(self, run: str, stage: str):
        super().__init__(daemon=True)
        self.source = os.path.join(run, "stages", stage, "checkpoint.keras")
        self.state = os.path.join(run, "stages", stage, "checkpoint.json")
        self.folder, self.stopping = run + ".snapshots", threading.Event()
        os.makedirs(self.folder, exist_ok=True)

    def run(self):
        seen = None
        while not self.stopping.wait(10):
            try:
                with open(self.state) as f:
                    state = json.load(f)
            except (OSError, ValueError):
                continue
            if state.get("step") or state.get("sha256") == seen:
                continue  # a mid-epoch (signal) checkpoint, or one already copied
            target = os.path.join(self.folder, f"epoch_{state['epoch']:03d}.keras")
            shutil.copyfile(self.source, target + ".tmp")
            os.replace(target + ".tmp", target)
            with open(os.path.join(self.folder, "times.txt"), "a") as f:
                f.write(f"{state['epoch']} {time.time():.0f}\n")
            seen = state.get("sha256")

    def stop(self):
        self.stopping.set()
        self.join()


def train(run: str, config: str, data: str, seed: int, epochs, stage: str):
    """Train ``config``'s ``stage`` into ``run``, continue it, or skip it when it finished."""
    metrics = os.path.join(run, "metrics.json")
    if os.path.isfile(metrics) and stage in json.load(open(metrics)):
        return
    extra = ["--epochs", epochs] if epochs else []
    if os.path.isfile(os.path.join(run, "stages", stage, "checkpoint.json")):
        command = ["train", "--run", run, "--resume"]
    elif stage == "linear":
        command = ["train", "--stage", "linear", "--run", run, "--config", config, *extra]
    else:
        command = ["train", "--config", config, "--data", data, "--output", run, "--seed", seed,
                   *extra]
    snapshots = Snapshots(run, stage) if stage != "linear" else None
    if snapshots:
        snapshots.start()
    try:
        kerascon(*command, "--quiet")
    finally:
        if snapshots:
            snapshots.stop()


def snapshot_view(run: str, stage: str, snapshot: str) -> str:
    """A run folder whose model is one epoch's checkpoint (for `kerascon eval --knn`)."""
    view = snapshot[:-len(".keras")] + ".run"
    os.makedirs(os.path.join(view, "stages", stage), exist_ok=True)
    shutil.copyfile(os.path.join(run, "kerascon-run.json"), os.path.join(view, "kerascon-run.json"))
    for name in ("config.yaml", "classes.json"):
        source = os.path.join(run, "stages", stage, name)
        if os.path.isfile(source):
            shutil.copyfile(source, os.path.join(view, "stages", stage, name))
    shutil.copyfile(snapshot, os.path.join(view, "model.keras"))
    return view


def knn_curve(run: str, stage: str, every: int) -> list:
    """kNN top-1 of every ``every``-th epoch snapshot, with the training time to reach it."""
    folder = run + ".snapshots"
    times = {}
    if os.path.isfile(os.path.join(folder, "times.txt")):
        for line in open(os.path.join(folder, "times.txt")):
            epoch, stamp = line.split()[:2]
            times[int(epoch)] = float(stamp)
    rows = []
    snapshots = sorted(f for f in os.listdir(folder) if f.endswith(".keras")) \
        if os.path.isdir(folder) else []
    for name in snapshots:
        epoch = int(name[len("epoch_"):-len(".keras")])
        if epoch % every and name != snapshots[-1]:
            continue
        result = last_json(kerascon("eval", "--run", snapshot_view(run, stage, os.path.join(folder, name)),
                                    "--knn", "--json"))
        start = min(times.values()) if times else None
        rows.append({"epoch": epoch, "knn_top1": 100 * result["knn_top1"],
                     "minutes": (times[epoch] - start) / 60 if start and epoch in times else None})
    return rows


def evaluate(run: str, frozen: bool, corruption_examples: int) -> dict:
    result = last_json(kerascon(
        "eval", "--run", run, *(["--frozen"] if frozen else []), "--knn", "--calibration",
        "--corruptions", "--corruption-examples", corruption_examples, "--json"))
    corrupted = result.get("corruptions", {})
    return {"top1": 100 * result["top1"], "knn_top1": 100 * result["knn_top1"],
            "ece": 100 * result["ece"],
            "corruption_accuracy": _mean_corruption_accuracy(corrupted)}


def _mean_corruption_accuracy(section) -> float | None:
    """The mean accuracy over every corruption and severity 1-5 (``accuracy[type][severity]``)."""
    values = [float(value) for by_severity in section.get("accuracy", {}).values()
              for severity, value in by_severity.items() if severity != "0"]
    return 100 * sum(values) / len(values) if values else None


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.work, exist_ok=True)
    data = prepare_data(args)
    epochs = 1 if args.quick else args.epochs
    corruption_examples = 100 if args.quick else args.corruption_examples
    cache_path = os.path.join(args.work, "results.json")
    cache = json.load(open(cache_path)) if os.path.isfile(cache_path) else {}
    for seed in [int(s) for s in args.seeds.split(",")]:
        for arm in args.arms.split(","):
            key, run = f"{arm}_s{seed}", os.path.join(args.work, f"{arm}_s{seed}")
            if key in cache:
                continue
            started = time.time()
            if arm == "supcon":
                train(run, os.path.join(RECIPE, "contrastive.yaml"), data, seed, epochs,
                      "contrastive")
                train(run, os.path.join(RECIPE, "linear.yaml"), data, seed, 1 if args.quick else None,
                      "linear")
            else:
                train(run, CE_RECIPE, data, seed, epochs, "ce")
            row = evaluate(run, arm == "supcon", corruption_examples)
            first_stage = "contrastive" if arm == "supcon" else "ce"
            row["knn_curve"] = knn_curve(run, first_stage, 1 if args.quick else args.knn_every)
            row["wall_minutes_this_call"] = (time.time() - started) / 60
            cache[key] = row
            with open(cache_path + ".tmp", "w") as f:
                json.dump(cache, f, indent=1)
            os.replace(cache_path + ".tmp", cache_path)
    print(report(cache))
    print("\n", json.dumps(machine_info()))


def report(cache: dict) -> str:
    rows = [[key, r["top1"], r["knn_top1"], r["ece"], r["corruption_accuracy"]]
            for key, r in sorted(cache.items())]
    text = markdown_table(["run", "top-1 (%)", "kNN top-1 (%)", "ECE (%)",
                           "corrupted mean acc. (%)"], rows)
    for key, r in sorted(cache.items()):
        curve = [[p["epoch"], p["minutes"], p["knn_top1"]] for p in r["knn_curve"]]
        text += f"\n\nkNN top-1 against training time, {key}:\n"
        text += markdown_table(["epoch", "minutes", "kNN top-1 (%)"], curve)
    return text


if __name__ == "__main__":
    main()
