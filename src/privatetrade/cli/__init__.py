"""Command line of privatetrade: ``privatetrade --help`` lists the commands.

One module per command group: :mod:`~privatetrade.cli.backtest` (``backtest``,
``strategies``), :mod:`~privatetrade.cli.data` (``data ...``),
:mod:`~privatetrade.cli.server` (``serve``, ``db ...``),
:mod:`~privatetrade.cli.accounts` (``users ...``, ``tokens ...``),
:mod:`~privatetrade.cli.backup` (``backup``, ``restore``) and
:mod:`~privatetrade.cli.smoke` (``smoke``); :mod:`~privatetrade.cli.main` builds
the app and maps errors to exit codes. Commands import their heavy dependencies
inside the function, so ``--version`` and ``--help`` stay fast.
"""

from privatetrade.cli.main import app, main

__all__ = ["app", "main"]
