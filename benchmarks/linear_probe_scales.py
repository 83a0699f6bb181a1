"""Linear probe on encoders of very different feature scale: old vs new default.

A short contrastive stage trains a small ResNet on the embedded digits; its frozen
features then get a linear probe (``run_stage`` of the ``linear`` stage, the path of
``kerascon train --stage linear``) for three encoders:

* ``resnet x1``: the trained ResNet;
* ``resnet x1000``: the same ResNet with its features multiplied by 1000 (a scaling layer);
* ``pixels``: the preprocessed image flattened (no learned features at all).

Each encoder is probed with the old default (no feature normalization, lr 0.5) and the
new one (``probe_normalization=True`` and ``LINEAR_STAGE_DEFAULTS``), and, with
``--sweep``, over a range of learning rates with and without the normalization (the
best tuned lr). Prints a markdown table of first/final/highest epoch loss and test top-1.

    PYTHONPATH=. python benchmarks/linear_probe_scales.py --out /tmp/probe_scales \\
        --sweep 0.03 0.1 0.5 --json probe.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import configure_threads, machine_info, print_machine  # noqa: E402

OLD_LR = 0.5


def _encoders(contrastive_model, image_size):
    import keras

    resnet = contrastive_model.encoder
    return {
        "resnet x1": resnet,
        "resnet x1000": keras.Sequential([keras.Input((image_size, image_size, 3)), resnet,
                                          keras.layers.Rescaling(1000.0)], name="resnet_x1000"),
        "pixels": keras.Sequential([keras.Input((image_size, image_size, 3)),
                                    keras.layers.Flatten()], name="pixels"),
    }


def _epoch_losses(run_dir):
    with open(os.path.join(run_dir, "stages", "linear", "metrics.csv")) as f:
        return [float(row["loss"]) for row in csv.DictReader(f)]


def probe(encoder, contrastive_model, config, run_dir, *, normalize):
    """One linear stage on ``encoder``; returns its losses and test top-1."""
    import keras

    from kerascon.model import SupConModel
    from kerascon.runs.training import run_stage

    os.makedirs(run_dir, exist_ok=True)
    keras.utils.set_random_seed(config.seed)  # the same classifier initialisation every run
    model = SupConModel(encoder, projection_dim=contrastive_model.projection_head.output_dim,
                        projection_hidden_dim=contrastive_model.projection_head.hidden_dim,
                        preprocessing=contrastive_model.preprocessing,
                        probe_normalization=normalize)
    keras.saving.save_model(model, os.path.join(run_dir, "model.keras"))
    metrics = run_stage(config, run_dir)
    losses = _epoch_losses(run_dir)
    return {"lr": config.lr, "normalize": normalize, "losses": losses, "first_loss": losses[0],
            "final_loss": losses[-1], "max_loss": max(losses),
            "no_epoch_above_first": max(losses) <= losses[0], "top1": metrics["top1"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="directory for the runs")
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--contrastive-epochs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=None,
                        help="linear epochs (default: the linear stage's default)")
    parser.add_argument("--sweep", type=float, nargs="*", default=[],
                        help="also probe at these learning rates, with and without normalization")
    parser.add_argument("--encoders", nargs="*", default=None,
                        help="a subset of: resnet_x1 resnet_x1000 pixels (default: all)")
    parser.add_argument("--sweep-only", action="store_true",
                        help="skip the old and new defaults: only the --sweep runs")
    parser.add_argument("--normalized-only", action="store_true",
                        help="sweep with the probe normalization only")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    configure_threads(args.threads)

    import keras

    from kerascon.runs.config import LINEAR_STAGE_DEFAULTS, TrainConfig
    from kerascon.runs.training import _INHERITED_BY_LINEAR, run_stage

    info = machine_info()
    first = TrainConfig(stage="contrastive", arch="resnet18", width_multiplier=0.125,
                        data="embedded:digits", image_size=args.image_size,
                        epochs=args.contrastive_epochs, projection_dim=32,
                        projection_hidden_dim=256)
    base_dir = os.path.join(args.out, "contrastive")
    run_stage(first, base_dir, overwrite=True)
    contrastive_model = keras.saving.load_model(os.path.join(base_dir, "model.keras"))
    inherited = {key: getattr(first, key) for key in _INHERITED_BY_LINEAR}
    new = first.replace(**inherited, **LINEAR_STAGE_DEFAULTS, stage="linear")
    if args.epochs:
        new = new.replace(epochs=args.epochs)
    old = new.replace(lr=OLD_LR)

    results = []
    for name, encoder in _encoders(contrastive_model, args.image_size).items():
        if args.encoders and name.replace(" ", "_") not in args.encoders:
            continue
        settings = [] if args.sweep_only else [("old default", old, False),
                                               ("new default", new, True)]
        settings += [(f"lr {lr:g}", new.replace(lr=lr), normalize)
                     for normalize in ((True,) if args.normalized_only else (False, True))
                     for lr in args.sweep if lr != (new.lr if normalize else old.lr)]
        for label, config, normalize in settings:
            run_dir = os.path.join(args.out, f"{name.replace(' ', '_')}_{label.replace(' ', '_')}"
                                             f"_{'norm' if normalize else 'raw'}")
            result = probe(encoder, contrastive_model, config, run_dir, normalize=normalize)
            result.update(encoder=name, setting=label)
            results.append(result)
            print(json.dumps(result), flush=True)

    print()
    print_machine(info)
    print()
    print("| encoder | setting | normalised | lr | loss epoch 1 | highest | final | test top-1 |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['encoder']} | {r['setting']} | {'yes' if r['normalize'] else 'no'} | "
              f"{r['lr']:g} | {r['first_loss']:.4g} | {r['max_loss']:.4g} | "
              f"{r['final_loss']:.4g} | {100 * r['top1']:.1f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
