"""Corruption robustness of models trained elsewhere by cifar10_reproduction.py.

The GPU machines have no TensorFlow, and the corruptions are tf ops: the GPU run saves
each method's encoder + classifier weights (``--save-weights``, float16 shards), and this
script rebuilds the same models with the TensorFlow backend on the CPU, loads the
weights, checks clean top-1 against the GPU's figure, and evaluates the CIFAR-10-C
corruptions with mCE / relative mCE against the CE model (the paper's Table 2).

    PYTHONPATH=. python benchmarks/cifar10_weights_robustness.py --results gpu_run/ \\
        --corruption-examples 1000 --out gpu_run/robustness.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from benchmarks import cifar10_reproduction as repro  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", required=True, help="folder with results.json + weights")
    p.add_argument("--data", default=None)
    p.add_argument("--corruption-examples", type=int, default=1000)
    p.add_argument("--severities", default="1,2,3,4,5")
    p.add_argument("--batch-size", type=int, default=250)
    p.add_argument("--clean-examples", type=int, default=None,
                   help="test images for the clean top-1 check (default: all)")
    p.add_argument("--out", required=True)
    cli = p.parse_args(argv)
    with open(os.path.join(cli.results, "results.json")) as f:
        trained = json.load(f)
    args = argparse.Namespace(**trained["args"])
    args.corruption_examples = cli.corruption_examples
    args.severities = cli.severities
    args.batch_size = cli.batch_size
    args.augment = getattr(args, "augment", "simclr")
    from benchmarks.cifar10_data import DEFAULT_PATH, load_cifar10

    started = time.perf_counter()
    _, _, x_test, y_test, _ = load_cifar10(cli.data or DEFAULT_PATH, train_examples=1)
    data = {"x_test": x_test, "y_test": y_test}
    out = {"source": os.path.abspath(cli.results), "gpu_date": trained.get("date"),
           "corruption_examples": cli.corruption_examples, "results": {}}
    for method, gpu in trained["results"].items():
        model = repro.build_model(method, args)
        model.set_stage("linear" if method != "ce" else "ce")
        repro.load_weights(model, [os.path.join(cli.results, name)
                                   for name in gpu["weight_files"]])
        n = len(x_test) if cli.clean_examples is None else min(cli.clean_examples, len(x_test))
        logits = repro.predict_padded(model, x_test[:n], cli.batch_size)["logits"]
        top1 = float(np.mean(logits.argmax(axis=1) == y_test[:n]))
        result = {"top1_gpu": gpu["top1"], "top1_reloaded_cpu": top1, "clean_examples": n,
                  "corruptions": repro.corruption_results(model, data, args)}
        print(f"[{method}] clean top-1 {top1:.4f} (GPU {gpu['top1']:.4f}); corrupted mean "
              f"{np.mean([v for d in result['corruptions']['accuracy'].values() for v in d.values()]):.4f}",
              flush=True)
        out["results"][method] = result
    repro.add_mce(out["results"])
    out["seconds"] = round(time.perf_counter() - started, 1)
    with open(cli.out, "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps({m: {k: r.get(k) for k in ("top1_reloaded_cpu", "mce", "relative_mce",
                                                 "mean_corruption_accuracy")}
                      for m, r in out["results"].items()}))


if __name__ == "__main__":
    main()
