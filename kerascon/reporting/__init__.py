"""Reports of evaluated runs: PNG figures (matplotlib, Agg) and an HTML page.

matplotlib is optional (``pip install 'kerascon[report]'``); it is imported only when a
report is written.

Example:
    >>> from kerascon.reporting import write_report
    >>> write_report(["runs/supcon", "runs/ce"], "report/")
"""

from kerascon.reporting.report import write_report

__all__ = ["write_report"]
