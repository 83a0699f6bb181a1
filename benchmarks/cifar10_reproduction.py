"""CIFAR-10: cross-entropy vs SupCon vs SimCLR with the same encoder, epochs and augmentation.

Runs on either Keras backend: TensorFlow on the CPU (a small-scale run on a subset) and
JAX on a GPU (full CIFAR-10, mixed bfloat16). Images are fed from NumPy as uint8 and the
views are made on the device by ``kerascon.layers.views.ViewAugmentation`` inside
``SupConModel``'s train step, so both backends run the same pipeline.

Per method it trains, then reports on the test images: linear top-1 on the frozen encoder
(SupCon, SimCLR) or the classifier's own top-1 (CE), kNN top-1 on encoder embeddings
(cosine, k=200, temperature 0.1, training-set embeddings as the memory bank), expected
calibration error (15 bins) of the classifier's softmax, and, with ``--corruptions``
(TensorFlow only: the corruptions are tf ops), accuracy / ECE under the CIFAR-10-C
corruptions and mCE / relative mCE against the CE model. Final-epoch numbers, never the
best epoch.

    # CPU, TensorFlow (see BENCHMARKS.md for the recorded command)
    PYTHONPATH=. python benchmarks/cifar10_reproduction.py --train-examples 10000 \\
        --epochs 15 --width-multiplier 0.25 --out /tmp/cifar_cpu --corruptions
    # GPU, JAX, bfloat16
    KERAS_BACKEND=jax python benchmarks/cifar10_reproduction.py --arch resnet18 \\
        --epochs 30 --batch-size 512 --mixed-precision bfloat16 --out $OUT --save-weights
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
METHODS = ("ce", "supcon", "simclr")
_NO_COLOUR = {"color_jitter": (0, 0, 0, 0), "grayscale_probability": 0.0}
AUGMENT_POLICIES = {
    "simclr": {},                                                  # crop 0.2-1, flip, colour
    "crop_flip": _NO_COLOUR,                                       # crop 0.2-1, flip
    "weak": {"crop_scale": (0.6, 1.0), **_NO_COLOUR},              # mild crop, flip
}
DEFAULT_TEMPERATURE = {"supcon": 0.1, "simclr": 0.5}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=None, help="path to cifar10_jpeg.npz")
    p.add_argument("--methods", default="ce,supcon,simclr")
    p.add_argument("--arch", default="resnet18", choices=["resnet18", "resnet34", "resnet50"])
    p.add_argument("--width-multiplier", type=float, default=1.0)
    p.add_argument("--epochs", type=int, default=10, help="epochs of every method's training")
    p.add_argument("--linear-epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=None,
                   help="peak learning rate of pretraining / CE (default 0.5 x batch/512)")
    p.add_argument("--linear-lr", type=float, default=0.5)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--augment", choices=sorted(AUGMENT_POLICIES), default="simclr",
                   help="augmentation of every method's training (views made on the device)")
    p.add_argument("--ce-augment", choices=["same", "crop_flip"], default="same",
                   help="CE's augmentation: --augment (default) or crop + flip")
    p.add_argument("--train-examples", type=int, default=None)
    p.add_argument("--test-examples", type=int, default=None)
    p.add_argument("--mixed-precision", choices=["none", "bfloat16", "float16"], default="none")
    p.add_argument("--knn-k", type=int, default=200)
    p.add_argument("--corruptions", action="store_true",
                   help="evaluate CIFAR-10-C corruptions (TensorFlow installed)")
    p.add_argument("--corruption-examples", type=int, default=1000)
    p.add_argument("--severities", default="1,2,3,4,5")
    p.add_argument("--time-budget", type=float, default=None,
                   help="seconds: a method stops training (at an epoch end) once it has used "
                        "its share; recorded in the results")
    p.add_argument("--save-weights", action="store_true",
                   help="save encoder + classifier weights (float16 shards) per method")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--rescore", action="store_true",
                   help="only recompute mCE / relative mCE of OUT/results.json")
    return p.parse_args(argv)


# ---------------------------------------------------------------------------- models
def augmentation(views, policy, seed):
    from kerascon.layers.views import ViewAugmentation

    return ViewAugmentation(views, seed=seed, **AUGMENT_POLICIES[policy])


def build_model(method, args):
    from kerascon.encoders import build_resnet
    from kerascon.layers import ImagePreprocessing
    from kerascon.model import SupConModel

    depth = int(args.arch.replace("resnet", ""))
    encoder = build_resnet(depth, stem="cifar", width_multiplier=args.width_multiplier,
                           input_shape=(32, 32, 3))
    feature_dim = int(encoder.output.shape[-1])
    contrastive = method != "ce"
    return SupConModel(
        encoder, 10,
        projection_dim=128,
        projection_hidden_dim=feature_dim,
        preprocessing=ImagePreprocessing(mean=CIFAR_MEAN, std=CIFAR_STD, name="preprocessing"),
        stage="contrastive" if contrastive else "ce",
        temperature=DEFAULT_TEMPERATURE.get(method, 0.1),
        use_labels=method != "simclr",
        augmentation=augmentation(
            2 if contrastive else 1,
            args.augment if contrastive or args.ce_augment == "same" else "crop_flip",
            args.seed),
    )


def sgd(learning_rate, epochs, steps, weight_decay, warmup_epochs=1):
    from kerascon.optimizers import CoupledDecaySGD, WarmupCosineDecay

    total = max(1, epochs * steps)
    warmup = min(total, warmup_epochs * steps) if epochs > 1 else 0
    schedule = WarmupCosineDecay(learning_rate, warmup_steps=warmup, total_steps=total)
    return CoupledDecaySGD(schedule, momentum=0.9, weight_decay=weight_decay)


class EpochClock:
    """Keras callback: epoch wall times, and a stop once a time budget is spent."""

    def __new__(cls, budget=None):
        import keras

        class _Clock(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.budget, self.times, self.started = budget, [], None

            def on_train_begin(self, logs=None):
                self.started = time.perf_counter()

            def on_epoch_begin(self, epoch, logs=None):
                self._epoch_start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.times.append(time.perf_counter() - self._epoch_start)
                if self.budget and time.perf_counter() - self.started > self.budget:
                    self.model.stop_training = True

        return _Clock()


def fit(model, x, y, epochs, batch_size, optimizer, budget, tag):
    steps = len(x) // batch_size
    n = steps * batch_size  # whole batches only: a partial one would recompile on JAX
    model.compile(optimizer=optimizer)
    clock = EpochClock(budget)
    history = model.fit(x[:n], y[:n], batch_size=batch_size, epochs=epochs, shuffle=True,
                        verbose=0, callbacks=[clock])
    times = clock.times
    views = 2 if model.stage in ("contrastive", "joint") else 1
    steady = times[1:] or times
    record = {
        "epochs_run": len(times),
        "epoch_seconds": [round(t, 3) for t in times],
        "first_epoch_seconds": round(times[0], 2),
        "train_seconds": round(sum(times), 2),
        "images_per_second_after_first_epoch": round(n * views * len(steady) / sum(steady), 1),
        "loss": [round(float(v), 5) for v in history.history["loss"]],
    }
    print(f"[{tag}] {len(times)} epochs, {record['train_seconds']} s, "
          f"{record['images_per_second_after_first_epoch']} images/s, "
          f"loss {record['loss'][0]} -> {record['loss'][-1]}", flush=True)
    return record


def predict_padded(model, x, batch_size):
    """model.predict on whole batches (padding the last): one compiled shape on JAX."""
    n = len(x)
    padded = -(-n // batch_size) * batch_size
    if padded != n:
        x = np.concatenate([x, np.zeros((padded - n,) + x.shape[1:], x.dtype)])
    out = model.predict(x, batch_size=batch_size, verbose=0)
    return {k: np.asarray(v[:n], dtype=np.float32) for k, v in out.items()}


def softmax(logits):
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def save_weights(model, path_prefix, shard_bytes=15 * 2**20):
    """Encoder + classifier (+ the linear probe's feature normalization) weights as float16
    .npz shards of at most ~15 MiB each."""
    probe = [] if model.probe_norm is None else model.probe_norm.get_weights()
    arrays = [w.astype(np.float16) if w.dtype.kind == "f" else w
              for w in model.encoder.get_weights() + model.classifier.get_weights() + probe]
    shards, current, size = [], [], 0
    for a in arrays:
        if current and size + a.nbytes > shard_bytes:
            shards.append(current)
            current, size = [], 0
        current.append(a)
        size += a.nbytes
    shards.append(current)
    paths = []
    for i, shard in enumerate(shards):
        path = f"{path_prefix}_{i}.npz"
        np.savez(path, *shard)
        paths.append(os.path.basename(path))
    return paths


def load_weights(model, paths):
    """Inverse of :func:`save_weights` (weights cast back to the model's dtypes)."""
    arrays = []
    for path in paths:
        with np.load(path) as f:
            arrays += [f[f"arr_{i}"] for i in range(len(f.files))]
    n_encoder = len(model.encoder.weights)
    n_classifier = n_encoder + len(model.classifier.weights)
    model.encoder.set_weights([a.astype(np.float32) if a.dtype == np.float16 else a
                               for a in arrays[:n_encoder]])
    model.classifier.set_weights([a.astype(np.float32) for a in arrays[n_encoder:n_classifier]])
    if len(arrays) > n_classifier:  # the classifier was trained on normalised features
        model.add_probe_norm()
        model.probe_norm.set_weights([a.astype(np.float32) for a in arrays[n_classifier:]])


# ---------------------------------------------------------------------------- per method
def train_method(method, data, args, lr_multiplier=1.0):
    import keras

    x_train, y_train = data["x_train"], data["y_train"]
    keras.utils.set_random_seed(args.seed)
    model = build_model(method, args)
    bs = args.batch_size
    steps = len(x_train) // bs
    lr = (args.lr if args.lr is not None else 0.5 * bs / 512) * lr_multiplier
    budget = None if args.time_budget is None else args.time_budget / len(args.method_list)
    result = {"method": method, "learning_rate": lr, "augment": args.augment}
    result["pretrain" if method != "ce" else "train"] = fit(
        model, x_train, y_train, args.epochs, bs, sgd(lr, args.epochs, steps, args.weight_decay),
        budget, method)
    if method != "ce":
        model.set_stage("linear")
        model.augmentation = augmentation(1, "crop_flip", args.seed)
        result["linear"] = fit(model, x_train, y_train, args.linear_epochs, bs,
                               sgd(args.linear_lr, args.linear_epochs, steps, 0.0, 0),
                               None, method + "/linear")
    return model, result


def evaluate_method(model, data, args):
    from kerascon.evaluation import expected_calibration_error, knn_accuracy

    bs = args.batch_size
    test = predict_padded(model, data["x_test"], bs)
    train = predict_padded(model, data["x_train"], bs)
    y_test = data["y_test"]
    probabilities = softmax(test["logits"])
    knn = knn_accuracy(train["embedding"], data["y_train"], test["embedding"], y_test,
                       k=args.knn_k, temperature=0.1, num_classes=10)
    return {
        "top1": float(np.mean(test["logits"].argmax(axis=1) == y_test)),
        "knn_top1": float(knn["knn_top1"]),
        "ece": float(expected_calibration_error(y_test, probabilities, num_bins=15)),
    }


def corruption_results(model, data, args):
    from kerascon.evaluation.robustness import evaluate_corruptions

    n = min(args.corruption_examples, len(data["x_test"]))

    def predict(images):
        return softmax(predict_padded(model, np.asarray(images), args.batch_size)["logits"])

    severities = tuple(int(s) for s in args.severities.split(","))
    return evaluate_corruptions(predict, data["x_test"][:n], data["y_test"][:n],
                                severities=severities, batch_size=args.batch_size,
                                seed=args.seed)


def add_mce(results):
    """mCE and relative mCE of every method against the CE model (the paper's Table 2)."""
    from kerascon.evaluation import robustness

    reference = results.get("ce", {}).get("corruptions")
    if reference is None:
        return
    ref_errors = robustness.corruption_errors(reference["accuracy"])
    ref_clean = 1.0 - reference["clean"]["accuracy"]
    for r in results.values():
        c = r.get("corruptions")
        if c is None:
            continue
        errors = robustness.corruption_errors(c["accuracy"])
        r["mce"] = robustness.mean_corruption_error(errors, ref_errors)["mce"]
        # Relative CE is undefined for a corruption under which the reference loses no
        # accuracy (possible for small models): such corruptions are left out and named.
        kept = [name for name in ref_errors
                if sum(e - ref_clean for e in ref_errors[name].values()) > 1e-12]
        r["relative_mce_excluded"] = sorted(set(ref_errors) - set(kept))
        r["relative_mce"] = robustness.relative_mean_corruption_error(
            {k: errors[k] for k in kept}, 1.0 - c["clean"]["accuracy"],
            {k: ref_errors[k] for k in kept}, ref_clean)["relative_mce"] if kept else None
        r["mean_corruption_accuracy"] = float(np.mean(
            [v for per in c["accuracy"].values() for v in per.values()]))


# ---------------------------------------------------------------------------- main
def main(argv=None):
    args = parse_args(argv)
    if args.rescore:
        path = os.path.join(args.out, "results.json")
        with open(path) as f:
            summary = json.load(f)
        add_mce(summary["results"])
        with open(path, "w") as f:
            json.dump(summary, f, indent=1)
        print(json.dumps({m: {k: r.get(k) for k in ("mce", "relative_mce",
                                                     "relative_mce_excluded")}
                          for m, r in summary["results"].items()}))
        return
    args.method_list = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = set(args.method_list) - set(METHODS)
    if unknown:
        raise SystemExit(f"unknown methods {sorted(unknown)}; choose from {METHODS}")
    os.makedirs(args.out, exist_ok=True)
    import keras

    from benchmarks.cifar10_data import DEFAULT_PATH, load_cifar10

    if args.mixed_precision != "none":
        keras.mixed_precision.set_global_policy(f"mixed_{args.mixed_precision}")
    started = time.perf_counter()
    x_train, y_train, x_test, y_test, _ = load_cifar10(
        args.data or DEFAULT_PATH, train_examples=args.train_examples,
        test_examples=args.test_examples)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(x_train))
    data = {"x_train": x_train[order], "y_train": y_train[order],
            "x_test": x_test, "y_test": y_test}
    print(f"data: {len(x_train)} train, {len(x_test)} test images, "
          f"{time.perf_counter() - started:.1f} s to decode", flush=True)
    summary = {"args": {k: v for k, v in vars(args).items() if k != "method_list"},
               "backend": keras.backend.backend(), "keras": keras.__version__,
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "results": {}}
    for method in args.method_list:
        model, result = train_method(method, data, args)
        result.update(evaluate_method(model, data, args))
        if args.corruptions:
            result["corruptions"] = corruption_results(model, data, args)
        if args.save_weights:
            result["weight_files"] = save_weights(model, os.path.join(args.out, method))
        summary["results"][method] = result
        print(f"[{method}] top1 {result['top1']:.4f} knn {result['knn_top1']:.4f} "
              f"ece {result['ece']:.4f}", flush=True)
        with open(os.path.join(args.out, "results.json"), "w") as f:
            json.dump(summary, f, indent=1)
    if args.corruptions:
        add_mce(summary["results"])
    summary["total_seconds"] = round(time.perf_counter() - started, 1)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps({m: {k: r.get(k) for k in ("top1", "knn_top1", "ece", "mce", "relative_mce")}
                      for m, r in summary["results"].items()}))


if __name__ == "__main__":
    main()
