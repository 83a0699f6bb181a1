"""The fine-tuning recipe measured: transfer to new classes from a few labels per class.

An encoder is pretrained on CIFAR-10's classes 0-4 (airplane ... deer) twice, with SupCon
(``kerascon train --stage contrastive``) and with cross-entropy (``--stage ce``). Each is
then moved to classes 5-9 (dog ... truck) from ``k`` labelled training images per class
(``--ks``, several seeds = several draws of the k images), by three arms that all start a
new run with ``kerascon train --pretrained PRETRAINED_RUN``:

- ``ce``: ``--stage ce``, the encoder fine-tuned with cross-entropy;
- ``joint``: ``--stage joint``, cross-entropy + λ·SupCon, with λ (``--joint-weight``) and
  τ (``--temperature``) chosen from a small grid on a validation share carved from the k
  images of every class (never from the test images), then trained again on all k images;
- ``linear``: ``--stage linear``, a linear classifier on the frozen encoder.

Every arm also runs with ``--noise`` (20%) of its k-shot labels flipped to another class
(the validation share of the grid is flipped alike: it is all the labels a user has).
Each run is evaluated on the test images of classes 5-9 (5,000 for CIFAR-10) with
``kerascon eval --calibration --json`` (top-1 and ECE). The table gives mean ± standard
deviation over seeds, and the paired differences joint − ce and ce − linear (paired by seed:
the same k images) with 95% t-intervals.

kerascon is called in-process through its click command (``main(..., standalone_mode=False)``),
so TensorFlow loads once. Everything goes under ``--work`` (outside the repository): the
class-subset ``.npz`` files, the runs, one result JSON per arm (``--resume-friendly`` skips
arms whose JSON exists), ``results.md`` and ``results.json``.

    PYTHONPATH=. python benchmarks/finetune_transfer.py --data /work/data/cifar10_q75.npz \\
        --work /tmp/finetune_transfer --quick
    PYTHONPATH=. python benchmarks/finetune_transfer.py --data cifar10_q75.npz \\
        --work ~/finetune_transfer --ks 10,25,100,500 --seeds 0,1,2,3,4 --epochs 30 \\
        --pretrain-epochs 100 --resume-friendly

``--data`` is a ``.npz`` with ``x_train``, ``y_train``, ``x_test``, ``y_test`` (uint8
[N, 32, 32, 3]) and ``class_names``, a file laid out like ../shared/data/cifar10's
``cifar10_jpeg.npz``, or a prepared TFDS dataset name such as ``cifar10`` (``--data-dir``).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import itertools
import json
import logging
import os
import shutil
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from benchmarks.common import (  # noqa: E402
    REPO_ROOT,
    command_line,
    markdown_table,
    mean_std,
    paired_t_interval,
)

SOURCE_CLASSES = (0, 1, 2, 3, 4)
TARGET_CLASSES = (5, 6, 7, 8, 9)
PRETRAINS = {"supcon": "contrastive", "ce": "ce"}  # pretraining name -> kerascon stage
#: The recipes the two encoders are pretrained with (``kerascon train --config``): the shipped
#: CIFAR-10 entry's SupCon stage and its cross-entropy counterpart, for a 2-core CPU.
PRETRAIN_RECIPES = {"supcon": os.path.join("zoo", "weights", "resnet20.supcon_cifar10",
                                           "contrastive.yaml"),
                    "ce": os.path.join("benchmarks", "recipes", "resnet20.ce_cifar10.yaml")}
ARMS = ("ce", "joint", "linear")
NOISES = ("clean", "noisy")
JOINT_WEIGHTS = (0.1, 0.5, 1.0)
TEMPERATURES = (0.1, 0.3)
QUICK = {"ks": "10", "seeds": "0", "epochs": 1, "pretrain_epochs": 1, "pretrain_examples": 200,
         "test_examples": 200, "width_multiplier": 0.25, "batch_size": 32,
         "pretrain_batch_size": 32, "joint_weights": "0.1,1.0", "temperatures": "0.1"}
DEFAULTS = {"ks": "10,25,100,500", "seeds": "0,1,2,3,4", "epochs": 30, "pretrain_epochs": 100,
            "pretrain_examples": None, "test_examples": None, "width_multiplier": 1.0,
            "batch_size": 128, "pretrain_batch_size": 256,
            "joint_weights": ",".join(f"{w:g}" for w in JOINT_WEIGHTS),
            "temperatures": ",".join(f"{t:g}" for t in TEMPERATURES)}


class KShotError(ValueError):
    """A k-shot draw that the data cannot give (k larger than a class's images)."""


# ---------------------------------------------------------------------- data (pure NumPy)
def class_subset(images, labels, classes):
    """The examples of ``classes``, relabelled 0..len(classes)-1 in the order given."""
    labels = np.asarray(labels).reshape(-1)
    mapping = {int(c): i for i, c in enumerate(classes)}
    keep = np.flatnonzero(np.isin(labels, list(mapping)))
    return images[keep], np.array([mapping[int(v)] for v in labels[keep]], dtype="int64")


def kshot_indices(labels, k, seed, class_names=None):
    """Indices of exactly ``k`` examples of every class in ``labels`` (0..C-1), sorted.

    The draw is a seeded permutation of each class's examples, of which the first ``k`` are
    taken, so for one seed the images of a smaller ``k`` are among those of a larger one.

    Raises:
        KShotError: ``k`` < 1, or larger than some class's number of examples.

    Example:
        >>> kshot_indices([0, 0, 0, 1, 1, 1], 2, seed=0).shape
        (4,)
    """
    labels = np.asarray(labels).reshape(-1)
    classes = np.unique(labels)
    if k < 1:
        raise KShotError(f"k={k} labelled images per class is not possible; give --ks of 1 or more")
    counts = {int(c): int(np.sum(labels == c)) for c in classes}
    smallest = min(counts.values())
    if k > smallest:
        c = min(counts, key=counts.get)
        name = repr(str(class_names[c])) if class_names is not None else str(c)
        raise KShotError(f"k={k} is more than the {smallest} training images of class {name}; "
                         f"give --ks of at most {smallest}")
    picked = []
    for c in classes:
        members = np.flatnonzero(labels == c)
        order = np.random.default_rng([seed, int(c)]).permutation(len(members))
        picked.append(members[order[:k]])
    return np.sort(np.concatenate(picked))


def balanced_prefix(labels, count, seed=0):
    """Indices of about ``count`` examples, the same number from every class (seeded)."""
    labels = np.asarray(labels).reshape(-1)
    classes = np.unique(labels)
    per_class = max(1, count // len(classes))
    return kshot_indices(labels, min(per_class, min(np.sum(labels == c) for c in classes)),
                         seed=seed)


def flip_labels(labels, fraction, num_classes, seed):
    """``labels`` with exactly ``round(fraction * n)`` of them moved to another class.

    The flipped examples are a seeded random choice; each goes to a class drawn uniformly
    from the ``num_classes - 1`` others. Returns ``(noisy_labels, flipped_indices)``.

    Example:
        >>> noisy, flipped = flip_labels([0, 1, 2, 0, 1, 2, 0, 1, 2, 0], 0.2, 3, seed=0)
        >>> len(flipped)
        2
    """
    labels = np.asarray(labels).reshape(-1).astype("int64")
    if not 0 <= fraction < 1:
        raise ValueError(f"the share of flipped labels must lie in [0, 1), got {fraction}")
    if num_classes < 2:
        raise ValueError("flipping a label needs at least 2 classes")
    rng = np.random.default_rng(seed)
    count = int(round(fraction * len(labels)))
    flipped = np.sort(rng.choice(len(labels), size=count, replace=False))
    noisy = labels.copy()
    offsets = rng.integers(1, num_classes, size=count)  # 1..C-1: never the same class
    noisy[flipped] = (labels[flipped] + offsets) % num_classes
    return noisy, flipped


def split_validation(labels, fraction, seed):
    """``(train, val)`` indices: ``round(fraction * n_c)`` (at least 1) of every class to val.

    Every class keeps at least one training example; a class of one example cannot be split.
    """
    labels = np.asarray(labels).reshape(-1)
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < 2:
            raise KShotError(f"class {int(c)} has {len(members)} labelled image(s): too few to "
                             "carve a validation share; give --ks of 2 or more")
        members = members[rng.permutation(len(members))]
        n_val = min(len(members) - 1, max(1, int(round(fraction * len(members)))))
        val.append(members[:n_val])
        train.append(members[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def load_arrays(spec, data_dir=None):
    """``(x_train, y_train, x_test, y_test, class_names)`` from a .npz file or a TFDS name."""
    path = os.path.expanduser(spec)
    if os.path.isfile(path):
        with np.load(path, allow_pickle=False) as f:
            keys = set(f.files)
            if "train_jpeg" in keys:  # ../shared/data/cifar10/cifar10_jpeg.npz
                from benchmarks.cifar10_data import load_cifar10

                return load_cifar10(path)
            missing = {"x_train", "y_train", "x_test", "y_test"} - keys
            if missing:
                raise SystemExit(f"{spec} has no {', '.join(sorted(missing))}; give a .npz with "
                                 "x_train, y_train, x_test, y_test and class_names")
            names = [str(c) for c in f["class_names"]] if "class_names" in keys else \
                [str(c) for c in range(int(f["y_train"].max()) + 1)]
            return (f["x_train"], f["y_train"].reshape(-1).astype("int64"), f["x_test"],
                    f["y_test"].reshape(-1).astype("int64"), names)
    if spec.endswith(".npz") or os.sep in spec:
        raise SystemExit(f"--data {spec}: no such file; give a .npz file or a TFDS name")
    import tensorflow_datasets as tfds

    builder = tfds.builder(spec, data_dir=data_dir)
    if not os.path.isdir(builder.data_dir):
        raise SystemExit(f"TFDS dataset {spec!r} is not prepared in {builder.data_dir}; prepare "
                         "it there (or pass --data-dir DIR), or give --data FILE.npz")
    arrays = []
    for split in ("train", "test"):
        data = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
        arrays += [data["image"], np.asarray(data["label"]).astype("int64")]
    return (*arrays, list(builder.info.features["label"].names))


def write_npz(path, **arrays):
    """Write ``arrays`` to ``path`` (a temporary file, then renamed: never half written)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = path + ".partial.npz"
    np.savez(partial, **arrays)
    os.replace(partial, path)
    return path


# ---------------------------------------------------------------------- kerascon, in-process
def kerascon(*args):
    """Run ``kerascon ARGS`` in this process; returns its JSON output (``--json``) or None.

    Raises RuntimeError when the command fails (its one-line error is on stderr).
    """
    from kerascon.cli.main import main

    args = [str(a) for a in args]
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            code = main.main(args, prog_name="kerascon", standalone_mode=False)
    except SystemExit as stop:  # kerascon's one-line errors exit 1
        code = stop.code
    finally:
        import keras

        keras.backend.clear_session()
        gc.collect()
    if code not in (None, 0):
        raise RuntimeError(f"kerascon {' '.join(args)} failed with exit code {code}")
    text = out.getvalue().strip()
    return json.loads(text.splitlines()[-1]) if text else None


def evaluate(run, test_file, frozen):
    """Top-1 and ECE of a run's classifier on the target test images."""
    result = kerascon("eval", "--run", run, *(["--frozen"] if frozen else []), "--data",
                      test_file, "--split", "none", "--calibration", "--json")
    return {"top1": result["top1"], "ece": result["ece"], "test_examples": result.get("examples")}


# ---------------------------------------------------------------------- the benchmark
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="CIFAR-10 .npz (x_train, y_train, x_test, "
                   "y_test, class_names) or a prepared TFDS name such as cifar10")
    p.add_argument("--data-dir", default=None, help="TFDS data directory (with a TFDS --data)")
    p.add_argument("--work", required=True, help="folder for data files, runs and results "
                   "(outside the repository)")
    p.add_argument("--ks", default=None, help=f"labelled images per class (default: {DEFAULTS['ks']})")
    p.add_argument("--seeds", default=None, help=f"draws of the k images (default: {DEFAULTS['seeds']})")
    p.add_argument("--epochs", type=int, default=None, help="fine-tuning epochs (default 30)")
    p.add_argument("--steps-per-epoch", type=int, default=None,
                   help="fine-tuning steps per epoch (default: one pass over the k-shot images)")
    p.add_argument("--pretrain-epochs", type=int, default=None, help="default 100")
    p.add_argument("--pretrain-examples", type=int, default=None,
                   help="pretrain on this many images of the source classes, class-balanced "
                        "(default: all 25,000)")
    p.add_argument("--test-examples", type=int, default=None,
                   help="evaluate on this many target test images, class-balanced (default: all)")
    p.add_argument("--arch", default="resnet20")
    p.add_argument("--width-multiplier", type=float, default=None, help="default 1")
    p.add_argument("--batch-size", type=int, default=None,
                   help="default 128; a run with fewer images takes them all as one batch")
    p.add_argument("--pretrain-batch-size", type=int, default=None, help="default 256")
    p.add_argument("--pretrain-warmup-epochs", type=int, default=None,
                   help="warm-up epochs of pretraining (default: the recipe's, at most the epochs)")
    p.add_argument("--pretrains", default=",".join(PRETRAINS),
                   help="pretrained encoders to transfer: supcon, ce (default: both)")
    p.add_argument("--arms", default=",".join(ARMS), help="default: ce,joint,linear")
    p.add_argument("--joint-weights", default=None,
                   help=f"λ grid of the joint arm (default: {DEFAULTS['joint_weights']})")
    p.add_argument("--temperatures", default=None,
                   help=f"τ grid of the joint arm (default: {DEFAULTS['temperatures']})")
    p.add_argument("--noise", type=float, default=0.2,
                   help="share of the k-shot labels flipped in the noisy arms (0: no noisy arms)")
    p.add_argument("--val-fraction", type=float, default=0.2,
                   help="share of every class's k images held out to choose λ and τ")
    p.add_argument("--keep-grid-runs", action="store_true",
                   help="keep the runs of the λ/τ grid (default: removed once validated)")
    p.add_argument("--summary-only", action="store_true",
                   help="write results.md/results.json from the result files in --work, "
                        "training nothing (e.g. after stopping a long run)")
    p.add_argument("--resume-friendly", action="store_true",
                   help="skip pretraining and arms whose result JSON exists in --work")
    p.add_argument("--quick", action="store_true",
                   help="tiny smoke run: " + ", ".join(f"{k}={v}" for k, v in QUICK.items())
                   + " (options given still win)")
    args = p.parse_args(argv)
    for key, default in DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, QUICK[key] if args.quick else default)
    try:
        args.ks = [int(v) for v in str(args.ks).split(",") if v.strip()]
        args.seeds = [int(v) for v in str(args.seeds).split(",") if v.strip()]
        args.joint_weights = [float(v) for v in str(args.joint_weights).split(",") if v.strip()]
        args.temperatures = [float(v) for v in str(args.temperatures).split(",") if v.strip()]
    except ValueError as error:
        p.error(f"comma-separated numbers expected: {error}")
    args.pretrains = [v.strip() for v in args.pretrains.split(",") if v.strip()]
    args.arms = [v.strip() for v in args.arms.split(",") if v.strip()]
    for name, values, known in (("--pretrains", args.pretrains, PRETRAINS), ("--arms", args.arms, ARMS)):
        unknown = sorted(set(values) - set(known))
        if unknown or not values:
            p.error(f"{name}: unknown {', '.join(unknown) or 'empty list'}; choose from "
                    f"{', '.join(known)}")
    if not (args.ks and args.seeds and args.joint_weights and args.temperatures):
        p.error("--ks, --seeds, --joint-weights and --temperatures need at least one value")
    if not 0 <= args.noise < 1 or not 0 < args.val_fraction < 1:
        p.error("--noise must lie in [0, 1) and --val-fraction in (0, 1)")
    args.work = os.path.abspath(os.path.expanduser(args.work))
    if os.path.commonpath([args.work, REPO_ROOT]) == REPO_ROOT:
        p.error(f"--work {args.work} lies inside the repository; give a folder outside it")
    return args


class Benchmark:
    def __init__(self, args):
        self.args = args
        self.work = args.work
        self.noises = ["clean"] + (["noisy"] if args.noise > 0 else [])

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    def result_file(self, pretrain, arm, k, noise, seed):
        return self.path("results", pretrain, f"k{k}_{noise}_s{seed}_{arm}.json")

    def batch(self, examples):
        return min(self.args.batch_size, examples)

    # ------------------------------------------------------------------ data files
    def prepare_data(self):
        a = self.args
        x_train, y_train, x_test, y_test, names = load_arrays(a.data, a.data_dir)
        if len(names) <= max(SOURCE_CLASSES + TARGET_CLASSES):
            raise SystemExit(f"--data has {len(names)} classes; this benchmark needs classes "
                             f"{SOURCE_CLASSES} and {TARGET_CLASSES} (CIFAR-10)")
        self.source_names = [names[c] for c in SOURCE_CLASSES]
        self.target_names = [names[c] for c in TARGET_CLASSES]
        self.target_x, self.target_y = class_subset(x_train, y_train, TARGET_CLASSES)
        for k in a.ks:  # before any training: a k that cannot be drawn fails at once
            kshot_indices(self.target_y, k, 0, self.target_names)
        source_x, source_y = class_subset(x_train, y_train, SOURCE_CLASSES)
        if a.pretrain_examples:
            keep = balanced_prefix(source_y, a.pretrain_examples)
            source_x, source_y = source_x[keep], source_y[keep]
        self.pretrain_file = write_npz(self.path("data", "pretrain.npz"), x_train=source_x,
                                       y_train=source_y, class_names=np.array(self.source_names))
        self.pretrain_examples = len(source_y)
        test_x, test_y = class_subset(x_test, y_test, TARGET_CLASSES)
        if a.test_examples:
            keep = balanced_prefix(test_y, a.test_examples)
            test_x, test_y = test_x[keep], test_y[keep]
        self.test_file = write_npz(self.path("data", "target_test.npz"), x=test_x, y=test_y,
                                   class_names=np.array(self.target_names))

    def kshot_files(self, k, seed, noise):
        """The k-shot training file and the grid file (its train and val shares)."""
        a = self.args
        index = kshot_indices(self.target_y, k, seed, self.target_names)
        x, y = self.target_x[index], self.target_y[index]
        flipped = []
        if noise == "noisy":
            y, flipped = flip_labels(y, a.noise, len(TARGET_CLASSES), seed=[seed, k, 1])
        names = np.array(self.target_names)
        stem = self.path("data", f"target_k{k}_s{seed}_{noise}")
        full = write_npz(stem + ".npz", x_train=x, y_train=y, class_names=names)
        train, val = split_validation(y, a.val_fraction, seed=[seed, k, 2])
        grid = write_npz(stem + "_grid.npz", x_train=x[train], y_train=y[train], x_val=x[val],
                         y_val=y[val], class_names=names)
        return full, grid, {"train_examples": len(y), "flipped_labels": len(flipped),
                            "grid_train_examples": len(train), "grid_val_examples": len(val)}

    # ------------------------------------------------------------------ runs
    def pretrain(self, name):
        a = self.args
        run = self.path("runs", f"pretrain_{name}")
        record = self.path("results", f"pretrain_{name}.json")
        if a.resume_friendly and os.path.isfile(record) and \
                os.path.isfile(os.path.join(run, "model.keras")):
            print(f"pretraining {name}: kept ({record})", flush=True)
            return run
        start = time.perf_counter()
        recipe = os.path.join(REPO_ROOT, PRETRAIN_RECIPES[name])
        warmup = a.pretrain_warmup_epochs
        if warmup is None:  # the recipe's, shortened for a shorter schedule
            import yaml

            with open(recipe) as f:
                warmup = min(int(yaml.safe_load(f).get("warmup_epochs", 0)), a.pretrain_epochs)
        metrics = kerascon("train", "--config", recipe,
                           "--stage", PRETRAINS[name], "--arch", a.arch,
                           "--width-multiplier", a.width_multiplier, "--data", self.pretrain_file,
                           "--split", "train", "--eval-split", "none",
                           "--epochs", a.pretrain_epochs, "--warmup-epochs", warmup,
                           "--batch-size", min(a.pretrain_batch_size, self.pretrain_examples),
                           "--seed", 0, "--output", run, "--overwrite", "--json")
        metrics.update(seconds=time.perf_counter() - start, examples=self.pretrain_examples)
        write_json(record, metrics)
        print(f"pretraining {name}: done in {metrics['seconds']:.0f} s", flush=True)
        return run

    def fine_tune(self, stage, pretrained, data, run, seed, examples, *extra):
        a = self.args
        steps = ["--steps-per-epoch", a.steps_per_epoch] if a.steps_per_epoch else []
        return kerascon("train", "--stage", stage, "--pretrained", pretrained, "--data", data,
                        "--epochs", a.epochs, *steps, "--batch-size", self.batch(examples),
                        "--seed", seed, *extra, "--output", run, "--overwrite", "--json")

    def choose_joint(self, pretrained, grid_file, info, seed, base, record):
        """Train every (λ, τ) on the grid's train share; the best validation top-1 wins."""
        a = self.args
        tried = read_json(record) if a.resume_friendly and os.path.isfile(record) else {}
        for weight, temperature in itertools.product(a.joint_weights, a.temperatures):
            key = f"{weight:g},{temperature:g}"
            if key in tried:
                continue
            run = base + f"_grid_l{weight:g}_t{temperature:g}"
            metrics = self.fine_tune("joint", pretrained, grid_file, run, seed,
                                     info["grid_train_examples"], "--split", "train",
                                     "--eval-split", "val", "--joint-weight", weight,
                                     "--temperature", temperature)
            tried[key] = metrics["top1"]
            write_json(record, tried)
            if not a.keep_grid_runs:
                shutil.rmtree(run, ignore_errors=True)
        best = max(tried, key=lambda key: tried[key])  # ties: the first in grid order
        weight, temperature = (float(v) for v in best.split(","))
        return weight, temperature, tried

    def arm(self, pretrain, arm, k, noise, seed):
        out = self.result_file(pretrain, arm, k, noise, seed)
        if self.args.resume_friendly and os.path.isfile(out):
            return read_json(out)
        start = time.perf_counter()
        pretrained = self.path("runs", f"pretrain_{pretrain}")
        full, grid, info = self.kshot_files(k, seed, noise)
        base = self.path("runs", pretrain, f"k{k}_{noise}_s{seed}")
        run = f"{base}_{arm}"
        result = {"pretrain": pretrain, "arm": arm, "k": k, "noise": noise, "seed": seed, **info}
        if arm == "joint":
            weight, temperature, tried = self.choose_joint(
                pretrained, grid, info, seed, base, out.replace(".json", "_grid.json"))
            result.update(joint_weight=weight, temperature=temperature, grid_val_top1=tried)
            self.fine_tune("joint", pretrained, full, run, seed, info["train_examples"],
                           "--eval-split", "none", "--joint-weight", weight,
                           "--temperature", temperature)
        else:
            self.fine_tune(arm, pretrained, full, run, seed, info["train_examples"],
                           "--eval-split", "none")
        result.update(evaluate(run, self.test_file, frozen=arm == "linear"))
        result["seconds"] = time.perf_counter() - start
        write_json(out, result)
        return result

    def collected(self):
        """The result files in ``--work`` of this grid's cells (a finished or stopped run)."""
        a = self.args
        files = (self.result_file(pretrain, arm, k, noise, seed) for seed, pretrain, k, noise, arm
                 in itertools.product(a.seeds, a.pretrains, a.ks, self.noises, a.arms))
        return [read_json(path) for path in files if os.path.isfile(path)]

    def recorded_seconds(self, results):
        """Seconds of pretraining (as its result files record them) and of the arms ``results``."""
        pretraining = [self.path("results", f"pretrain_{name}.json") for name in self.args.pretrains]
        return (sum(read_json(p)["seconds"] for p in pretraining if os.path.isfile(p))
                + sum(r["seconds"] for r in results))

    def run(self):
        a = self.args
        self.prepare_data()
        for name in a.pretrains:
            self.pretrain(name)
        results = []
        # Seeds outermost: a run stopped early holds every cell for the seeds it finished.
        for seed, pretrain, k, noise, arm in itertools.product(a.seeds, a.pretrains, a.ks,
                                                               self.noises, a.arms):
            result = self.arm(pretrain, arm, k, noise, seed)
            results.append(result)
            extra = (f", λ {result['joint_weight']:g} τ {result['temperature']:g}"
                     if arm == "joint" else "")
            print(f"{pretrain} -> {arm}, k={k}, {noise}, seed {seed}: top-1 "
                  f"{100 * result['top1']:.1f}%, ECE {result['ece']:.3f}{extra}", flush=True)
        return results


# ---------------------------------------------------------------------- summary
def _pct(mean, std):
    return "n/a" if mean is None else f"{100 * mean:.1f} ± {100 * std:.1f}"


def _difference(results, first, second):
    by_seed = {arm: {r["seed"]: r["top1"] for r in results if r["arm"] == arm}
               for arm in (first, second)}
    seeds = sorted(set(by_seed[first]) & set(by_seed[second]))
    if not seeds:
        return "n/a", None
    mean, low, high, n = paired_t_interval([by_seed[first][s] for s in seeds],
                                           [by_seed[second][s] for s in seeds])
    if low is None:
        return f"{100 * mean:+.1f} (1 seed)", {"mean": mean, "seeds": n}
    return (f"{100 * mean:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}]",
            {"mean": mean, "low": low, "high": high, "seeds": n})


def summarise(results, arms):
    """The markdown table (top-1 and ECE per arm, paired differences) and its numbers."""
    headers = ["pretrained", "labels", "k", "seeds"]
    headers += [f"{arm} top-1 %" for arm in arms] + [f"{arm} ECE" for arm in arms]
    pairs = [(a, b) for a, b in (("joint", "ce"), ("ce", "linear")) if a in arms and b in arms]
    headers += [f"{a} − {b} (95% CI), points" for a, b in pairs]
    rows, numbers = [], []
    keys = sorted({(r["pretrain"], r["noise"], r["k"]) for r in results},
                  key=lambda key: (list(PRETRAINS).index(key[0]), NOISES.index(key[1]), key[2]))
    for pretrain, noise, k in keys:
        group = [r for r in results if (r["pretrain"], r["noise"], r["k"]) == (pretrain, noise, k)]
        seeds = sorted({r["seed"] for r in group})
        row = [pretrain, noise, k, len(seeds)]
        entry = {"pretrain": pretrain, "noise": noise, "k": k, "seeds": seeds}
        eces = []
        for arm in arms:
            top1 = mean_std([r["top1"] for r in group if r["arm"] == arm])
            ece = mean_std([r["ece"] for r in group if r["arm"] == arm])
            row.append(_pct(*top1))
            eces.append("n/a" if ece[0] is None else f"{ece[0]:.3f} ± {ece[1]:.3f}")
            entry[arm] = {"top1_mean": top1[0], "top1_std": top1[1], "ece_mean": ece[0],
                          "ece_std": ece[1]}
        row += eces
        for first, second in pairs:
            text, value = _difference(group, first, second)
            row.append(text)
            entry[f"{first}_minus_{second}"] = value
        rows.append(row)
        numbers.append(entry)
    return markdown_table(headers, rows), numbers


def read_json(path):
    with open(path) as f:
        return json.load(f)


def write_json(path, payload):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = path + ".partial"
    with open(partial, "w") as f:
        json.dump(payload, f, indent=1)
    os.replace(partial, path)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.work, exist_ok=True)
    # Each run traces new functions for a new model: TensorFlow's retracing notices say nothing.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    from benchmarks.common import machine_info, print_machine

    benchmark = Benchmark(args)
    start = time.perf_counter()
    try:
        if args.summary_only:
            benchmark.prepare_data()
            results = benchmark.collected()
        else:
            results = benchmark.run()
    except KShotError as error:
        raise SystemExit(f"error: {error}") from None
    if not results:
        raise SystemExit(f"error: no results in {args.work}; run without --summary-only first")
    table, numbers = summarise(results, args.arms)
    info = machine_info()
    settings = {key: value for key, value in vars(args).items()}
    lines = ["# Transfer from classes 0-4 to classes 5-9: ce vs joint vs linear", "",
             f"- Command: `{command_line()}`",
             f"- Pretraining: {args.arch} x{args.width_multiplier:g} on "
             f"{benchmark.pretrain_examples} images of {', '.join(benchmark.source_names)}, "
             f"{args.pretrain_epochs} epoch(s), batch {args.pretrain_batch_size}, recipes "
             f"{', '.join(f'{n}: {PRETRAIN_RECIPES[n]}' for n in args.pretrains)}",
             f"- Fine-tuning: {args.epochs} epoch(s), batch {args.batch_size} (or all k-shot "
             "images when fewer), kerascon's other defaults (encoder at 0.1 x lr); joint: λ "
             f"in {args.joint_weights}, τ in {args.temperatures}, chosen on "
             f"{args.val_fraction:.0%} of every class's k images, then trained on all k",
             f"- Noisy: {args.noise:.0%} of the k-shot labels flipped to another class",
             f"- Test: the test images of {', '.join(benchmark.target_names)}; top-1 mean ± std "
             "over seeds (%), ECE (15 bins); differences paired by seed, 95% t-interval",
             f"- Time: {benchmark.recorded_seconds(results):.0f} s of pretraining and arms recorded "
             f"in the result files; this call {time.perf_counter() - start:.0f} s",
             "", table, ""]
    text = "\n".join(lines)
    print()
    print_machine(info)
    print()
    print(text)
    with open(os.path.join(args.work, "results.md"), "w") as f:
        f.write(text)
    write_json(os.path.join(args.work, "results.json"),
               {"settings": settings, "machine": info, "summary": numbers, "runs": results})
    print(f"Wrote {os.path.join(args.work, 'results.md')} and results.json")


if __name__ == "__main__":
    main()
