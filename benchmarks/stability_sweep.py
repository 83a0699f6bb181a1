"""Stability of CE and SupCon to learning rate and augmentation (the paper's Fig. 4), small.

For each method (CE, SupCon) trains one model per setting, changing one factor at a
time from the default: learning rate x0.1, x1, x10 with the default augmentation, and
each augmentation policy of ``cifar10_reproduction.AUGMENT_POLICIES`` at x1. Every
setting reports top-1 on the test images (SupCon: linear classifier on the frozen
encoder). Writes ``sweep.json`` and ``stability.png`` (top-1 of every setting per method
and factor, with the spread max - min) to ``--out``.

    PYTHONPATH=. python benchmarks/stability_sweep.py --out /tmp/sweep \\
        --train-examples 2000 --test-examples 1000 --epochs 4 --width-multiplier 0.125
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from benchmarks import cifar10_reproduction as repro  # noqa: E402

LR_MULTIPLIERS = (0.1, 1.0, 10.0)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--methods", default="ce,supcon")
    p.add_argument("--lr-multipliers", default=",".join(f"{m:g}" for m in LR_MULTIPLIERS))
    p.add_argument("--policies", default=",".join(repro.AUGMENT_POLICIES),
                   help="augmentation policies compared at the default learning rate")
    known, rest = p.parse_known_args(argv)
    args = repro.parse_args(rest + ["--out", known.out, "--methods", known.methods])
    args.lr_multipliers = [float(m) for m in known.lr_multipliers.split(",")]
    args.policies = [name.strip() for name in known.policies.split(",")]
    unknown = set(args.policies) - set(repro.AUGMENT_POLICIES)
    if unknown:
        raise SystemExit(f"unknown policies {sorted(unknown)}; choose from "
                         f"{sorted(repro.AUGMENT_POLICIES)}")
    return args


def settings(lr_multipliers, policies):
    """(factor, label, lr multiplier, policy): one factor changed at a time from x1 simclr."""
    for multiplier in lr_multipliers:
        yield "learning rate", f"x{multiplier:g}", multiplier, "simclr"
    for policy in policies:
        yield "augmentation", policy, 1.0, policy


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    factors = ["learning rate", "augmentation"]
    methods = sorted({r["method"] for r in rows})
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    for ax, factor in zip(axes, factors):
        for i, method in enumerate(methods):
            acc = [100 * r["top1"] for r in rows if r["method"] == method and r["factor"] == factor]
            ax.scatter([i] * len(acc), acc, s=30, zorder=3)
            if acc:
                ax.vlines(i, min(acc), max(acc), lw=6, alpha=0.3)
                ax.annotate(f"spread {max(acc) - min(acc):.1f}", (i, max(acc)),
                            textcoords="offset points", xytext=(6, 4), fontsize=8)
        ax.set_xticks(range(len(methods)), [m.upper() if m == "ce" else "SupCon"
                                            for m in methods])
        ax.set_xlim(-0.6, len(methods) - 0.4)
        ax.set_title(f"varying {factor}")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("top-1 (%)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    args.method_list = [m.strip() for m in args.methods.split(",") if m.strip()]
    os.makedirs(args.out, exist_ok=True)
    import keras

    from benchmarks.cifar10_data import DEFAULT_PATH, load_cifar10

    x_train, y_train, x_test, y_test, _ = load_cifar10(
        args.data or DEFAULT_PATH, train_examples=args.train_examples,
        test_examples=args.test_examples)
    data = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    rows, started = [], time.perf_counter()
    done = set()
    for method in args.method_list:
        for factor, label, multiplier, policy in settings(args.lr_multipliers, args.policies):
            args.augment = policy
            key = (method, multiplier, policy)
            if key in done:  # the default setting belongs to both factors: train it once
                row = next(dict(r) for r in rows if (r["method"], r["multiplier"],
                                                      r["augment"]) == key)
                rows.append({**row, "factor": factor, "setting": label})
                continue
            done.add(key)
            keras.backend.clear_session()
            model, result = repro.train_method(method, data, args, lr_multiplier=multiplier)
            metrics = repro.evaluate_method(model, data, args)
            rows.append({"method": method, "factor": factor, "setting": label,
                         "multiplier": multiplier, "augment": policy,
                         "learning_rate": result["learning_rate"], **metrics})
            print(f"[{method}] {factor} {label}: top1 {metrics['top1']:.4f}", flush=True)
            with open(os.path.join(args.out, "sweep.json"), "w") as f:
                json.dump({"rows": rows}, f, indent=1)
    summary = {}
    for method in args.method_list:
        for factor in ("learning rate", "augmentation"):
            acc = [r["top1"] for r in rows if r["method"] == method and r["factor"] == factor]
            summary[f"{method}/{factor}"] = {"min": min(acc), "max": max(acc),
                                             "spread": max(acc) - min(acc)}
    with open(os.path.join(args.out, "sweep.json"), "w") as f:
        json.dump({"args": {k: v for k, v in vars(args).items() if k != "method_list"},
                   "rows": rows, "spread": summary,
                   "seconds": round(time.perf_counter() - started, 1)}, f, indent=1)
    plot(rows, os.path.join(args.out, "stability.png"))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
