"""Rich tables of a `kerascon eval` result (the --json object, for people)."""

from __future__ import annotations

from pathlib import Path

_ROWS = (("top1", "top-1", "{:.2%}"), ("top5", "top-5", "{:.2%}"), ("loss", "loss", "{:.4f}"),
         ("knn_top1", "kNN top-1", "{:.2%}"), ("knn_top5", "kNN top-5", "{:.2%}"),
         ("ece", "ECE (15 bins)", "{:.4f}"),
         ("mean_corruption_error", "mean corruption error", "{:.2%}"),
         ("mce", "mCE", "{:.4f}"), ("relative_mce", "relative mCE", "{:.4f}"),
         ("skipped_images", "skipped images", "{}"))


def _metrics_table(run_dir, results):
    from rich.table import Table

    table = Table(title=f"{run_dir} on {results['dataset']} ({results['examples']} images)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, label, pattern in _ROWS:
        if results.get(key) is not None:
            table.add_row(label, pattern.format(results[key]))
    return table


def _corruption_table(section):
    from rich.table import Table

    table = Table(title=f"Accuracy under corruption ({section['examples']} images; "
                        f"clean {section['clean']['accuracy']:.2%})")
    table.add_column("corruption")
    for severity in section["severities"]:
        table.add_column(f"s{severity}", justify="right")
    table.add_column("mean ECE", justify="right")
    for name in section["types"]:
        accuracy = [section["accuracy"][name][str(s)] for s in section["severities"]]
        ece = [section["ece"][name][str(s)] for s in section["severities"]]
        table.add_row(name, *(f"{value:.2%}" for value in accuracy),
                      f"{sum(ece) / len(ece):.4f}")
    return table


def print_results(run_dir, results) -> None:
    """Print the metrics, the per-corruption accuracies and where the result is stored."""
    from kerascon.cli.console import stdout_console

    console = stdout_console()
    if results.get("evaluated"):
        console.print(f"evaluating {results['evaluated']}", highlight=False, soft_wrap=True)
    for note in results.get("notes", ()):
        console.print(note, highlight=False, soft_wrap=True)
    console.print(_metrics_table(run_dir, results))
    if isinstance(results.get("corruptions"), dict):
        console.print(_corruption_table(results["corruptions"]))
    if results.get("mce_note"):
        console.print(results["mce_note"], style="yellow")
    console.print(f"stored in {Path(run_dir) / 'evaluations' / (results['name'] + '.json')}")
