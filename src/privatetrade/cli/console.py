"""Rich consoles for the CLI's tables: the terminal's width, or wide enough when piped.

Rich lays a table out to the console's width and cuts (``…``) what does not fit. On a
terminal that is the window; through a pipe or into a file there is no window, and
rich's 80 columns would cut Korean names and long rows. There the console is
:data:`PIPED_WIDTH` columns wide and plain (no colours, no highlighting); tables are
only as wide as their contents.
"""

from __future__ import annotations

import sys

from rich.console import Console

__all__ = ["PIPED_WIDTH", "stdout_console"]

PIPED_WIDTH = 1_000


def stdout_console() -> Console:
    """Return the console for standard output."""
    if sys.stdout.isatty():
        return Console()
    return Console(width=PIPED_WIDTH, highlight=False, no_color=True)
