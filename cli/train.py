"""`kerascon train`: one training stage into a run directory."""

from __future__ import annotations

import json

import click

from kerascon.cli.options import add_options, data_options, json_option, resolve_data

# Keys a linear stage inherits from the run it evaluates (same data, same images).
_INHERITED_BY_LINEAR = ("data", "data_dir", "split", "eval_split", "image_size", "arch", "stem",
                        "width_multiplier", "mean", "std", "seed", "strategy", "batch_size")


@click.command()
@click.option("--stage", type=click.Choice(["contrastive", "linear", "joint", "ce"]),
              default=None, help="Training stage (default: contrastive).")
@click.option("--arch", default=None, help="Encoder architecture, e.g. resnet18, resnet50.")
@click.option("--stem", type=click.Choice(["cifar", "imagenet"]), default=None)
@click.option("--width-multiplier", type=float, default=None)
@add_options(data_options)
@click.option("--split", default=None, help="Training split (default: train).")
@click.option("--eval-split", default=None, help="Split for the final evaluation (default: test).")
@click.option("--output", "output_dir", type=click.Path(file_okay=False), default=None,
              help="New run directory (contrastive, joint or ce stage).")
@click.option("--run", "run_dir", type=click.Path(file_okay=False), default=None,
              help="Existing run: --stage linear trains its classifier on the frozen encoder.")
@click.option("--epochs", type=int, default=None)
@click.option("--steps-per-epoch", type=int, default=None)
@click.option("--batch-size", type=int, default=None)
@click.option("--views", type=int, default=None)
@click.option("--image-size", type=int, default=None)
@click.option("--temperature", type=float, default=None)
@click.option("--loss", type=click.Choice(["supcon", "simclr"]), default=None)
@click.option("--augment", type=click.Choice(["simclr", "randaugment", "autoaugment", "stacked",
                                               "flip_crop", "none"]), default=None,
              help="Augmentation policy (default: simclr; flip_crop for --stage linear).")
@click.option("--optimizer", type=click.Choice(["sgd", "lars", "rmsprop"]), default=None)
@click.option("--lr", type=float, default=None)
@click.option("--weight-decay", type=float, default=None)
@click.option("--warmup-epochs", type=int, default=None)
@click.option("--projection-dim", type=int, default=None)
@click.option("--projection-hidden-dim", type=int, default=None)
@click.option("--seed", type=int, default=None)
@click.option("--strategy", type=click.Choice(["auto", "default", "mirrored", "multiworker", "tpu"]),
              default=None)
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="YAML file with the same keys as these options; options override it.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its last checkpoint.")
@click.option("--overwrite", is_flag=True, help="Replace an existing run directory.")
@click.option("--quiet", is_flag=True, help="No progress bar or epoch lines.")
@json_option
def train(stage, data, dataset, output_dir, run_dir, config_file, resume, overwrite, quiet,
          as_json, **options):
    """Train a stage: contrastive pretraining, linear evaluation, joint or CE."""
    from kerascon.config import TrainConfig
    from kerascon.training import run_stage, stage_config

    options["data"] = resolve_data(data, dataset)
    options["stage"] = stage
    overrides = {k: v for k, v in options.items() if v is not None}
    stage = stage or "contrastive"

    if stage == "linear":
        if not run_dir:
            raise click.UsageError("--stage linear needs --run RUN_DIR (a finished contrastive run)")
        target = run_dir
        base = (stage_config(run_dir, "contrastive") or stage_config(run_dir, "joint")
                or stage_config(run_dir, "ce"))
        inherited = {k: getattr(base, k) for k in _INHERITED_BY_LINEAR} if base else {}
        defaults = {"lr": 0.5, "epochs": 30, "weight_decay": 0.0, "augment": "flip_crop"}
        values = {**inherited, **defaults, **overrides}
    else:
        target = output_dir or (run_dir if resume else None)
        if not target:
            raise click.UsageError(f"--stage {stage} needs --output RUN_DIR (or --run RUN_DIR "
                                   "--resume to continue one)")
        values = overrides
    if config_file:
        config = TrainConfig.from_yaml(config_file, **values)
    else:
        config = TrainConfig.from_dict(values)

    callbacks = []
    if not quiet and not as_json:
        from kerascon.cli.progress import RichProgress

        views = config.views if config.stage in ("contrastive", "joint") else 1
        callbacks.append(RichProgress(images_per_step=config.batch_size * views))
    metrics = run_stage(config, target, resume=resume, overwrite=overwrite, callbacks=callbacks)
    if as_json:
        click.echo(json.dumps({"run": str(target), "stage": config.stage, **metrics}))
    elif not quiet:
        summary = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                            for k, v in metrics.items())
        click.echo(f"{config.stage} stage finished in {target}: {summary}")
