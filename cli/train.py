"""`kerascon train`: one training stage into a run directory."""

from __future__ import annotations

import json
import sys

import click

from kerascon.choices import AUGMENT_POLICIES, KEY_BATCH_NORM_MODES, LOSSES, OPTIMIZERS, STEMS, STRATEGIES
from kerascon.cli.options import (
    DATA_HELP,
    add_options,
    data_options,
    import_tensorflow_quietly,
    json_option,
    resolve_data,
)
from kerascon.cli.preflight import check_train
from kerascon.model.stages import STAGE_NAMES, STAGES
from kerascon.runs.config import LINEAR_STAGE_DEFAULTS, TrainConfig


def _shown(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, (tuple, list)):
        return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _help(text: str, key: str) -> str:
    """``text`` and the default of ``key``, read from TrainConfig (and the linear stage's)."""
    default = TrainConfig.__dataclass_fields__[key].default
    shown = f"default: {_shown(default)}"
    if key in LINEAR_STAGE_DEFAULTS and LINEAR_STAGE_DEFAULTS[key] != default:
        shown += f"; --stage linear: {_shown(LINEAR_STAGE_DEFAULTS[key])}"
    elif key == "lr":
        shown += (f"; --stage linear: {_shown(LINEAR_STAGE_DEFAULTS['lr_per_feature'])} / the "
                  "encoder's feature dimension")
    return f"{text} ({shown})."

EXAMPLES = """\b
Examples:
  # image folder with train/<class>/ and test/<class>/ subfolders
  kerascon train --data pets/ --arch resnet18 --image-size 64 --epochs 100 --output runs/pets
  kerascon train --stage linear --run runs/pets --epochs 30
\b
  # a folder of class subfolders without train/test splits: 10% of every class held out
  kerascon train --data flowers/ --output runs/flowers
  # ... all of it for training, no final evaluation
  kerascon train --data flowers/ --split none --eval-split none --output runs/flowers
\b
  # TFDS data prepared in a local directory; cross-entropy baseline
  kerascon train --dataset cifar10 --data-dir ~/tensorflow_datasets --stage ce --output runs/ce
\b
  # a published encoder (or another run's) on your data: a new run, new classifier
  kerascon train --stage linear --pretrained resnet18.supcon_digits --data pets/ --output runs/probe
  kerascon train --stage joint --pretrained runs/pets --data flowers/ --output runs/flowers_ft
\b
  # continue an interrupted (Ctrl-C or killed) run from its last finished epoch
  kerascon train --run runs/pets --resume
\b
  # options from a YAML file (same keys as the options); options on the line win
  kerascon train --config supcon.yaml --output runs/a --json
"""


def _interrupted(target, stage: str) -> str:
    """The line for training stopped at once (a second Ctrl-C): what is kept, what works next."""
    from kerascon.runs.directory import RunDirectory

    if RunDirectory(target).has_checkpoint(stage):
        return (f"Interrupted: the last checkpoint of the {stage} stage is kept; continue with "
                f"kerascon train --run {target} --resume")
    return ("Interrupted before the first checkpoint: nothing was kept, so there is nothing to "
            "resume; run the same command again to start over")


@click.command(epilog=EXAMPLES)
@click.option("--stage", type=click.Choice(STAGE_NAMES),
              default=None, help="Training stage (default: contrastive; with --resume: the "
                                 "run's unfinished stage): " + "; ".join(
                                     f"{s.name}: {s.description}" for s in STAGES.values())
              + ".")
@click.option("--arch", default=None,
              help=_help("Encoder architecture, e.g. resnet18, resnet50 (see `kerascon zoo "
                         "list`)", "arch"))
@click.option("--stem", type=click.Choice(STEMS), default=None,
              help=_help("ResNet stem: cifar (3x3 conv, for small images) or imagenet (7x7 conv "
                         "and max pool)", "stem"))
@click.option("--width-multiplier", type=float, default=None,
              help=_help("Channel width of the ResNet relative to the standard one, e.g. 0.25",
                         "width_multiplier"))
@click.option("--data", default=None, help=_help(DATA_HELP, "data"))
@add_options(data_options[1:2])
@click.option("--data-dir", default=None, type=click.Path(),
              help=_help("TFDS data directory (prepared data is read from here)", "data_dir"))
@click.option("--split", default=None,
              help="Training split (default: train; a folder without train/: all but the "
                   "held-out share); `none`: all images (a train/ + test/ folder's splits "
                   "together, with --eval-split none).")
@click.option("--eval-split", default=None,
              help="Split for the final evaluation (default: test, else val/, else the "
                   "held-out share); `none` skips it.")
@click.option("--skip-corrupt", is_flag=True, default=None,
              help="Leave unreadable images out (and report how many) instead of failing.")
@click.option("--val-fraction", type=float, default=None,
              help=_help("Share of every class held out for evaluation when the data has no "
                         "test/ (or val/) split: a plain DIR/<class>/ folder or a .npz without "
                         "*_idx arrays; seeded by --seed, recorded in the run", "val_fraction"))
@click.option("--max-image-pixels", type=int, default=None,
              help=_help("Refuse images whose header claims more pixels, before decoding them",
                         "max_image_pixels"))
@click.option("--output", "output_dir", type=click.Path(file_okay=False), default=None,
              help="New run directory (a contrastive, joint or ce stage, or any stage with "
                   "--pretrained); it must not exist or be empty (see --overwrite).")
@click.option("--run", "run_dir", type=click.Path(file_okay=False), default=None,
              help="Existing run: --stage linear trains its classifier on the frozen encoder; "
                   "with --resume, the run to continue.")
@click.option("--epochs", type=int, default=None, help=_help("Epochs to train", "epochs"))
@click.option("--steps-per-epoch", type=int, default=None,
              help=_help("Steps per epoch; none: one pass over the training split "
                         "(examples // batch size)", "steps_per_epoch"))
@click.option("--batch-size", type=int, default=None,
              help=_help("Examples per step (each with --views views in the contrastive and "
                         "joint stages); a linear stage on --run takes the run's", "batch_size"))
@click.option("--views", type=int, default=None,
              help=_help("Augmented views of every example (contrastive and joint stages)",
                         "views"))
@click.option("--image-size", type=int, default=None,
              help=_help("Images are resized to this many pixels square; with --pretrained: "
                         "the encoder's input size, and a linear stage on a pretrained encoder "
                         "takes no other; a linear stage on --run takes the run's", "image_size"))
@click.option("--temperature", type=float, default=None,
              help=_help("Temperature of the SupCon loss", "temperature"))
@click.option("--joint-weight", type=float, default=None,
              help=_help("Weight lambda of SupCon in the joint stage, in [0, 1]: loss = "
                         "cross-entropy + lambda * SupCon", "joint_weight"))
@click.option("--loss", type=click.Choice(LOSSES), default=None,
              help=_help("Contrastive loss: supcon (labels) or simclr (labels ignored)", "loss"))
@click.option("--augment", type=click.Choice(AUGMENT_POLICIES), default=None,
              help=_help("Augmentation policy", "augment"))
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), default=None,
              help=_help("Optimizer", "optimizer"))
@click.option("--lr", type=float, default=None,
              help=_help("Peak learning rate of the warmup + cosine schedule", "lr"))
@click.option("--weight-decay", type=float, default=None,
              help=_help("Weight decay", "weight_decay"))
@click.option("--warmup-epochs", type=int, default=None,
              help=_help("Epochs of linear learning-rate warmup", "warmup_epochs"))
@click.option("--projection-dim", type=int, default=None,
              help=_help("Output size of the projection head (with --pretrained: the "
                         "entry's)", "projection_dim"))
@click.option("--projection-hidden-dim", type=int, default=None,
              help=_help("Hidden size of the MLP projection head (with --pretrained: the "
                         "entry's)", "projection_hidden_dim"))
@click.option("--seed", type=int, default=None,
              help=_help("Seed of the initialisation, shuffling, augmentation and hold-out",
                         "seed"))
@click.option("--pretrained", default=None,
              help="Start a new run from a pretrained encoder: a zoo entry ARCH.TAG (see "
                   "`kerascon zoo list --pretrained`) or a run directory. Its architecture, "
                   "preprocessing, input size and projection head replace --arch; the "
                   "classifier is new, for the classes of --data. With --stage linear the "
                   "encoder stays frozen; joint and ce fine-tune it (default: none).")
@click.option("--backbone-lr-multiplier", type=float, default=None,
              help="The encoder's learning rate relative to --lr (default: 0.1 with "
                   "--pretrained, else 1).")
@click.option("--freeze-batch-norm/--no-freeze-batch-norm", default=None,
              help="Keep the encoder's batch-norm statistics (e.g. ImageNet's) fixed.")
@click.option("--freeze-backbone-epochs", type=int, default=None,
              help=_help("Train only the heads for this many epochs first (encoder frozen)",
                         "freeze_backbone_epochs"))
@click.option("--momentum-encoder", type=float, default=None,
              help=_help("EMA momentum of a key encoder (MoCo trick for small batches), e.g. "
                         "0.999; none: no key encoder", "momentum_encoder"))
@click.option("--queue-size", type=int, default=None,
              help=_help("Labelled key projections kept as extra negatives/positives (needs "
                         "--momentum-encoder), e.g. 65536", "queue_size"))
@click.option("--key-batch-norm", type=click.Choice(KEY_BATCH_NORM_MODES), default=None,
              help=_help("With --momentum-encoder: the key network's batch norm uses the key "
                         "batch's statistics ('batch', as MoCo) or the query's moving ones "
                         "('moving')", "key_batch_norm"))
@click.option("--sync-batch-norm/--no-sync-batch-norm", default=None,
              help="Batch-norm statistics over all replicas (distributed pretraining).")
@click.option("--strategy", type=click.Choice(STRATEGIES), default=None,
              help=_help("Distribution strategy (auto: all local GPUs, else one device)",
                         "strategy"))
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="YAML file with the same keys as these options; options override it.")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted run from its last checkpoint, with the options it "
                   "was started with (options given here override them).")
@click.option("--overwrite", is_flag=True, help="Replace an existing run directory.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@json_option
def train(stage, data, dataset, output_dir, run_dir, config_file, resume, overwrite, quiet,
          as_json, **options):
    """Train a stage: contrastive pretraining, linear evaluation, joint or CE.

    A contrastive, joint or ce stage starts a new run in --output; a linear stage trains a
    classifier on the frozen encoder of the run given by --run. With --pretrained (a zoo
    entry or a run directory), any stage starts a new run in --output from that encoder,
    with a new classifier for the classes of --data. Progress (step, loss, learning rate,
    images/s, ETA) and one line per epoch go to stderr.
    """
    options["data"] = resolve_data(data, dataset)
    # Usage, paths, an existing --output and unknown names are refused before TensorFlow loads.
    check_train(stage=stage, output_dir=output_dir, run_dir=run_dir, data=options["data"],
                config_file=config_file, resume=resume, overwrite=overwrite, options=options)
    import_tensorflow_quietly()
    from kerascon.runs.training import resolve_config, run_stage

    config = resolve_config(stage, output_dir or run_dir, options, config_file, resume=resume)
    if not config.starts_run:  # a linear stage on the encoder of the run given by --run
        if not run_dir:
            raise click.UsageError("--stage linear needs --run RUN_DIR (a finished run), or "
                                   "--pretrained NAME_OR_RUN_DIR --output NEW_RUN")
        target = run_dir
    else:
        target = output_dir or (run_dir if resume else None)
        if not target:
            raise click.UsageError(f"--stage {config.stage} needs --output RUN_DIR (or --run "
                                   "RUN_DIR --resume to continue one)")

    callbacks = []
    if not quiet and not as_json:
        from kerascon.cli.progress import RichProgress

        views = config.views if STAGES[config.stage].multiview else 1
        callbacks.append(RichProgress(images_per_step=config.batch_size * views,
                                      total_epochs=config.epochs))
    try:
        metrics = run_stage(config, target, resume=resume, overwrite=overwrite,
                            callbacks=callbacks)
    except KeyboardInterrupt:  # a second Ctrl-C: stopped at once
        click.echo(_interrupted(target, config.stage), err=True)
        sys.exit(130)
    if as_json:
        click.echo(json.dumps({"run": str(target), "stage": config.stage, **metrics}))
        return
    if quiet:
        return
    if metrics.get("skipped_images"):
        click.echo(f"skipped {metrics['skipped_images']} unreadable image(s) (--skip-corrupt)",
                   err=True)
    summary = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                        for k, v in metrics.items() if k != "skipped_images")
    click.echo(f"{config.stage} stage finished in {target}: {summary}")
