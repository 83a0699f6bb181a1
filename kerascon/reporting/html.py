"""The report page: a summary table, the figures and notes, as one HTML document.

Every run name, path and message is escaped; figures are referenced by relative file
name, so the output folder can be moved or served as it is.
"""

from __future__ import annotations

import html
from pathlib import Path

__all__ = ["render_page", "summary_rows"]

_COLUMNS = (("top1", "top-1", "pct"), ("top5", "top-5", "pct"), ("knn_top1", "kNN top-1", "pct"),
            ("ece", "ECE", "num"), ("mean_corruption_error", "mean corruption error", "pct"),
            ("mce", "mCE (%)", "num1"), ("relative_mce", "relative mCE (%)", "num1"))

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: right; }
th:first-child, td:first-child, td.text { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
.note { color: #8a5a00; } code { background: #f4f4f4; padding: 0 0.2em; }
"""


def _format(value, kind: str) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "&ndash;"
    return {"pct": f"{value:.2%}", "num1": f"{value:.1f}"}.get(kind, f"{value:.4f}")


def summary_rows(entries) -> list:
    """``[label, dataset, examples, *figures]`` per entry, as escaped HTML cell text.

    Example:
        >>> from kerascon.reporting.collect import collect_runs, entries
        >>> report_entries = entries(collect_runs(["runs/supcon", "runs/ce"]))
        >>> summary_rows(report_entries)[0][:2]
        ['supcon', 'digits:test']
    """
    rows = []
    for entry in entries:
        evaluation = entry.evaluation
        reference = ((evaluation.get("corruptions") or {}).get("reference") or {}).get("run")
        rows.append([html.escape(entry.label), html.escape(str(evaluation.get("dataset", ""))),
                     html.escape(str(evaluation.get("examples", ""))),
                     *(_format(evaluation.get(key), kind) for key, _, kind in _COLUMNS),
                     html.escape(Path(reference).name) if reference else "&ndash;"])
    return rows


def _table(entries) -> str:
    header = "".join(f"<th>{html.escape(title)}</th>"
                     for title in ("run", "data", "examples", *(t for _, t, _ in _COLUMNS),
                                   "mCE reference"))
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>\n"
                   for row in summary_rows(entries))
    return f"<table>\n<tr>{header}</tr>\n{body}</table>"


def render_page(title: str, runs, entries, figures, notes=()) -> str:
    """The whole HTML page.

    Args:
        title: page title (escaped).
        runs: :class:`~kerascon.reporting.collect.RunSummary` objects (their messages show).
        entries: evaluations for the summary table.
        figures: ``[(heading, file name)]`` in page order.
        notes: extra lines for the top of the page.

    Example:
        >>> from kerascon.reporting.collect import collect_runs, entries
        >>> runs = collect_runs(["runs/supcon", "runs/ce"])
        >>> page = render_page("kerascon: evaluated runs", runs, entries(runs),
        ...                    [("Accuracy", "accuracy.png")])
    """
    head = (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>")
    parts = [head, f"<h1>{html.escape(title)}</h1>"]
    parts.append("<h2>Runs</h2>\n<ul>" + "".join(
        f"<li><b>{html.escape(run.label)}</b>: <code>{html.escape(str(run.path))}</code>"
        + "".join(f"<br><span class=\"note\">{html.escape(message)}</span>"
                  for message in run.messages) + "</li>\n" for run in runs) + "</ul>")
    parts += [f"<p class=\"note\">{html.escape(note)}</p>" for note in notes]
    if entries:
        parts.append("<h2>Summary</h2>\n" + _table(entries))
    for heading, file_name in figures:
        parts.append(f"<h2>{html.escape(heading)}</h2>\n"
                     f"<img src=\"{html.escape(file_name, quote=True)}\" "
                     f"alt=\"{html.escape(heading, quote=True)}\">")
    parts.append("</body>\n</html>\n")
    return "\n".join(parts)
