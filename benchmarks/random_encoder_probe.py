"""Linear probe on a randomly initialised encoder: the baseline for a pretrained one.

Trains the same linear stage that `kerascon train --stage linear` runs, but on an encoder
that was never trained, and prints the final-epoch test metrics as JSON. Compare with the
linear stage of a contrastive run with the same architecture and settings.

    PYTHONPATH=. python benchmarks/random_encoder_probe.py --arch resnet18 \
        --width-multiplier 0.25 --data embedded:digits --image-size 16 --epochs 30
"""

import argparse
import json

from kerascon.runs.config import TrainConfig
from kerascon.runs.training import _new_model, _optimizer, _sources, _train_dataset, eval_dataset


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--width-multiplier", type=float, default=0.25)
    parser.add_argument("--data", default="embedded:digits")
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--augment", default="none")
    parser.add_argument("--projection-hidden-dim", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    config = TrainConfig(stage="linear", arch=args.arch, width_multiplier=args.width_multiplier,
                         data=args.data, image_size=args.image_size, epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, weight_decay=0.0,
                         augment=args.augment, projection_hidden_dim=args.projection_hidden_dim,
                         seed=args.seed)
    train_source, eval_source = _sources(config)
    model = _new_model(config.replace(stage="contrastive"), train_source.num_classes)
    model.set_stage("linear")
    train = _train_dataset(config, train_source)
    model.compile(optimizer=_optimizer(config, int(train.cardinality())))
    model.fit(train, epochs=config.epochs, verbose=0)
    results = model.evaluate(eval_dataset(eval_source, config.image_size), verbose=0,
                             return_dict=True)
    print(json.dumps({"encoder": "random", **{k: float(v) for k, v in results.items()},
                      "config": config.to_dict()}))


if __name__ == "__main__":
    main()
