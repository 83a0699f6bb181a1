"""Where the commands draw their tables: stdout, at full width when it is not a terminal.

On a terminal rich fits a table to the window; in a pipe or a file it would fit it to 80
columns and cut or fold the cells (``kerascon zoo list | grep ...``). There the table is
drawn at its natural width instead, so every name and value is whole.
"""

from __future__ import annotations

__all__ = ["stdout_console"]

#: Wide enough for any table kerascon prints: no cell is cut or folded.
_UNLIMITED = 100_000


def stdout_console():
    """A rich Console on stdout; not a terminal: no width limit and no colour codes.

    Example:
        >>> stdout_console().print("a table")    # whole cells in `kerascon zoo list | cat`
    """
    from rich.console import Console

    console = Console()
    if console.is_terminal:
        return console
    return Console(width=_UNLIMITED, no_color=True, highlight=False)
