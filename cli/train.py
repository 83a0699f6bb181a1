"""`kerascon train`: one training stage into a run directory."""

from __future__ import annotations

import json
from pathlib import Path

import click

from kerascon.choices import AUGMENT_POLICIES, KEY_BATCH_NORM_MODES, LOSSES, OPTIMIZERS, STEMS, STRATEGIES
from kerascon.cli.options import (
    add_options,
    data_options,
    import_tensorflow_quietly,
    json_option,
    resolve_data,
)
from kerascon.stages import STAGE_NAMES, STAGES

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
  # continue an interrupted (Ctrl-C or killed) run from its last finished epoch
  kerascon train --run runs/pets --resume
\b
  # options from a YAML file (same keys as the options); options on the line win
  kerascon train --config supcon.yaml --output runs/a --json
"""


@click.command(epilog=EXAMPLES)
@click.option("--stage", type=click.Choice(STAGE_NAMES),
              default=None, help="Training stage (default: contrastive; with --resume: the "
                                 "run's unfinished stage).")
@click.option("--arch", default=None, help="Encoder architecture, e.g. resnet18, resnet50 "
                                           "(see `kerascon zoo list`).")
@click.option("--stem", type=click.Choice(STEMS), default=None)
@click.option("--width-multiplier", type=float, default=None)
@add_options(data_options)
@click.option("--split", default=None,
              help="Training split (default: train; a folder without train/: all but the "
                   "held-out share); `none` reads an image folder's class subfolders directly.")
@click.option("--eval-split", default=None,
              help="Split for the final evaluation (default: test, else val/, else the "
                   "held-out share); `none` skips it.")
@click.option("--skip-corrupt", is_flag=True, default=None,
              help="Leave unreadable images out (and report how many) instead of failing.")
@click.option("--val-fraction", type=float, default=None,
              help="Share of every class held out for evaluation when the data has no test/ (or "
                   "val/) split: a plain DIR/<class>/ folder or a .npz without *_idx arrays "
                   "(default: 0.1; seeded by --seed, recorded in the run).")
@click.option("--max-image-pixels", type=int, default=None,
              help="Refuse images whose header claims more pixels (default: 100000000), "
                   "before decoding them.")
@click.option("--output", "output_dir", type=click.Path(file_okay=False), default=None,
              help="New run directory (contrastive, joint or ce stage).")
@click.option("--run", "run_dir", type=click.Path(file_okay=False), default=None,
              help="Existing run: --stage linear trains its classifier on the frozen encoder; "
                   "with --resume, the run to continue.")
@click.option("--epochs", type=int, default=None)
@click.option("--steps-per-epoch", type=int, default=None)
@click.option("--batch-size", type=int, default=None)
@click.option("--views", type=int, default=None)
@click.option("--image-size", type=int, default=None)
@click.option("--temperature", type=float, default=None)
@click.option("--loss", type=click.Choice(LOSSES), default=None)
@click.option("--augment", type=click.Choice(AUGMENT_POLICIES), default=None,
              help="Augmentation policy (default: simclr; flip_crop for --stage linear).")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), default=None)
@click.option("--lr", type=float, default=None)
@click.option("--weight-decay", type=float, default=None)
@click.option("--warmup-epochs", type=int, default=None)
@click.option("--projection-dim", type=int, default=None)
@click.option("--projection-hidden-dim", type=int, default=None)
@click.option("--seed", type=int, default=None)
@click.option("--pretrained", default=None,
              help="Start from a zoo encoder (arch.tag, see `kerascon zoo list`); its "
                   "architecture, preprocessing and head replace --arch.")
@click.option("--backbone-lr-multiplier", type=float, default=None,
              help="The encoder's learning rate relative to --lr (default: 0.1 with "
                   "--pretrained, else 1).")
@click.option("--freeze-batch-norm/--no-freeze-batch-norm", default=None,
              help="Keep the encoder's batch-norm statistics (e.g. ImageNet's) fixed.")
@click.option("--freeze-backbone-epochs", type=int, default=None,
              help="Train only the heads for this many epochs first (encoder frozen).")
@click.option("--momentum-encoder", type=float, default=None,
              help="EMA momentum of a key encoder (MoCo trick for small batches), e.g. 0.999.")
@click.option("--queue-size", type=int, default=None,
              help="Labelled key projections kept as extra negatives/positives (needs "
                   "--momentum-encoder), e.g. 65536.")
@click.option("--key-batch-norm", type=click.Choice(KEY_BATCH_NORM_MODES), default=None,
              help="With --momentum-encoder: the key network's batch norm uses the key batch's "
                   "statistics ('batch', default, as MoCo) or the query's moving ones ('moving').")
@click.option("--sync-batch-norm/--no-sync-batch-norm", default=None,
              help="Batch-norm statistics over all replicas (distributed pretraining).")
@click.option("--strategy", type=click.Choice(STRATEGIES), default=None)
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
    classifier on the frozen encoder of the run given by --run. Progress (step, loss,
    learning rate, images/s, ETA) and one line per epoch go to stderr.
    """
    import_tensorflow_quietly()
    from kerascon.runs.directory import RunError
    from kerascon.runs.training import resolve_config, run_stage

    options["data"] = resolve_data(data, dataset)
    if output_dir and run_dir:
        raise click.UsageError("pass either --output (a new run) or --run (an existing run), "
                               "not both")
    config = resolve_config(stage, output_dir or run_dir, options, config_file, resume=resume)
    if config.stage == "linear":
        if not run_dir:
            raise click.UsageError("--stage linear needs --run RUN_DIR (a finished contrastive run)")
        target = run_dir
    else:
        target = output_dir or (run_dir if resume else None)
        if not target:
            raise click.UsageError(f"--stage {config.stage} needs --output RUN_DIR (or --run "
                                   "RUN_DIR --resume to continue one)")
        if run_dir and not (Path(run_dir) / "stages").is_dir():  # --run: an existing run
            what = "does not exist" if not Path(run_dir).is_dir() else "holds no training stage"
            raise RunError(f"run directory {run_dir} {what}, so there is nothing to resume; "
                           f"start a new run with --output {run_dir}")

    callbacks = []
    if not quiet and not as_json:
        from kerascon.cli.progress import RichProgress

        views = config.views if STAGES[config.stage].multiview else 1
        callbacks.append(RichProgress(images_per_step=config.batch_size * views,
                                      epochs=config.epochs))
    metrics = run_stage(config, target, resume=resume, overwrite=overwrite, callbacks=callbacks)
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
