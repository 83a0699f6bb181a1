"""`kerascon eval`: accuracy, kNN, calibration and corruption robustness of a run."""

from __future__ import annotations

import json

import click

from kerascon.cli.options import (
    add_options,
    data_options,
    import_tensorflow_quietly,
    json_option,
    resolve_data,
    run_option,
)
from kerascon.cli.preflight import check_existing_run

EXAMPLES = """\b
Examples:
  kerascon eval --frozen --run runs/pets                 # the data and split it trained on
  kerascon eval --frozen --run runs/pets --json
  kerascon eval --run runs/ce                            # a ce or joint run's own classifier
  kerascon eval --frozen --run runs/flowers --data heldout/ --split none
  kerascon eval --run runs/supcon --knn                  # kNN alone: no classifier needed
  kerascon eval --frozen --run runs/pets --knn --calibration
  kerascon eval --run runs/ce --corruptions --severities 1,3,5
  kerascon eval --frozen --run runs/pets --corruptions --reference runs/ce   # mCE, relative mCE
  kerascon report runs/pets runs/ce --output report/     # figures of what eval stored
"""


def _int_list(ctx, param, value):
    if value is None:
        return None
    try:
        values = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers such as 1,3,5, got "
                                 f"{value!r}") from None
    if not values:
        raise click.BadParameter("give at least one value")
    return values


def _name_list(ctx, param, value):
    if value is None:
        return None
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    if not names:
        raise click.BadParameter("give at least one corruption name")
    return names


@click.command("eval", epilog=EXAMPLES)
@run_option
@add_options(data_options)
@click.option("--split", default=None,
              help="Split to evaluate (default: on the run's own data its --eval-split or "
                   "hold-out; other data whole, or its own test split if it has one); `none`: "
                   "all images (a train/ + test/ folder's splits together).")
@click.option("--frozen/--no-frozen", default=False,
              help="Evaluate the linear classifier on the frozen encoder (after --stage linear); "
                   "without it, a ce or joint run's own classifier.")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--skip-corrupt", is_flag=True, default=None,
              help="Leave unreadable images out instead of failing (default: as in training).")
@click.option("--knn", is_flag=True,
              help="kNN top-1 of the encoder embeddings (cosine, temperature 0.1), neighbours "
                   "from the split the run was trained on.")
@click.option("--knn-k", type=click.IntRange(min=1), default=200, show_default=True,
              help="Neighbours for --knn.")
@click.option("--calibration", is_flag=True,
              help="Expected calibration error (15 bins) and reliability bins of the softmax.")
@click.option("--corruptions", is_flag=True,
              help="Accuracy and ECE under common corruptions (Hendrycks & Dietterich) per "
                   "type and severity, and the mean corruption error.")
@click.option("--severities", callback=_int_list, default="1,2,3,4,5", show_default=True,
              help="Corruption severities (1-5) for --corruptions.")
@click.option("--corruption-types", callback=_name_list, default=None,
              help="Comma-separated corruptions for --corruptions (default: all).")
@click.option("--corruption-examples", type=click.IntRange(min=1), default=1000,
              show_default=True,
              help="Evaluated images to corrupt (a seeded random subset of the split).")
@click.option("--reference", type=click.Path(file_okay=False), default=None,
              help="Run whose corruption errors normalise mCE and relative mCE (the paper "
                   "uses the cross-entropy run); its stored evaluation is reused if it matches.")
@json_option
def evaluate(run_dir, data, dataset, data_dir, split, frozen, batch_size, skip_corrupt, knn,
             knn_k, calibration, corruptions, severities, corruption_types, corruption_examples,
             reference, as_json):
    """Evaluate a run: top-1 and top-5, and optionally kNN, calibration and robustness.

    Without --data the run is evaluated on the data it was trained on. The result is
    stored in RUN/evaluations/<name>.json (e.g. frozen-test.json) for `kerascon report`.
    """
    if not corruptions and (corruption_types or reference):
        raise click.UsageError("--corruption-types and --reference need --corruptions")
    check_existing_run(run_dir)  # before TensorFlow loads
    import_tensorflow_quietly()
    from kerascon.runs.evaluation import CorruptionOptions, run_evaluation

    options = (CorruptionOptions(types=corruption_types, severities=severities,
                                 examples=corruption_examples) if corruptions else None)
    results = run_evaluation(run_dir, resolve_data(data, dataset),
                             split="recorded" if split is None else split, data_dir=data_dir,
                             batch_size=batch_size, frozen=frozen, skip_corrupt=skip_corrupt,
                             knn=knn, knn_k=knn_k, calibration=calibration, corruptions=options,
                             reference=reference)
    if results.get("mce_note"):
        from kerascon.cli.hints import render_error
        from kerascon.runs.evaluation_corruptions import MCE_NOTE

        if results["mce_note"] == str(MCE_NOTE):  # the library's words -> the flag
            results["mce_note"] = render_error(MCE_NOTE)
    if as_json:
        click.echo(json.dumps(results))
        return
    from kerascon.cli.eval_table import print_results

    print_results(run_dir, results)
