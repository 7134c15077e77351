"""A pytest plugin: fail the session when it leaves privatetrade's files in the temp dir.

Tests write under pytest's ``tmp_path``; a server or command they start gets a temporary
directory of its own. Anything named ``privatetrade-*`` that appears in the system's
temporary directory (``tempfile.gettempdir()``) during the session and is still there at
its end was left behind (a ``mkdtemp`` at import time, a server's folder not removed).

With pytest-xdist only the controller compares, once, when every worker has finished.
Another session running at the same time on the same machine can cause a false alarm.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

__all__ = ["LEFTOVER_PATTERN", "leftovers"]

LEFTOVER_PATTERN = "privatetrade-*"
_BEFORE = pytest.StashKey[frozenset[str]]()
_LEFT = pytest.StashKey[list[str]]()


def leftovers() -> frozenset[str]:
    """Return the names matching ``privatetrade-*`` in the system's temporary directory."""
    return frozenset(path.name for path in Path(tempfile.gettempdir()).glob(LEFTOVER_PATTERN))


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")  # pytest-xdist's worker processes


def pytest_sessionstart(session: pytest.Session) -> None:
    if not _is_worker(session.config):
        session.config.stash[_BEFORE] = leftovers()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    before = session.config.stash.get(_BEFORE, None)
    if before is None:
        return
    new = sorted(leftovers() - before)
    if not new:
        return
    session.config.stash[_LEFT] = new
    if session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    new = terminalreporter.config.stash.get(_LEFT, [])
    if new:
        folder = tempfile.gettempdir()
        message = f"the tests left {len(new)} entries in {folder}: {', '.join(new)}"
        terminalreporter.write_sep("!", message, red=True)
