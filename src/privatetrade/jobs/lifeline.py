"""Worker processes that die with the process that started them.

A worker must not outlive its server: an orphan keeps its memory, its database
connection and its SQLite file handles, and crashes pile them up. Two independent
mechanisms end a worker whose parent died, whatever the worker is doing:

1. Linux's parent-death signal (``PR_SET_PDEATHSIG`` = SIGKILL). The kernel sends it
   when the *thread* that forked the worker exits, not the process, so the executor
   forks every worker from one thread that lives as long as the executor (see
   :class:`privatetrade.jobs.executors.LocalProcessExecutor`). SIGKILL also stops a
   worker stuck in compiled code that never returns to the interpreter.
2. A watcher thread waiting on the parent's sentinel: a pipe whose write end only the
   parent holds (multiprocessing's ``parent_process().sentinel``); it reads end-of-file
   once the parent is gone. Every second it also compares ``os.getppid()`` with the
   parent's pid (reparenting to init or a subreaper changes it). This works on every
   POSIX system and whichever thread forked the worker.

The multiprocessing resource tracker needs neither: it exits by itself once every
process holding its pipe (the server and its workers) has exited.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from multiprocessing.connection import wait

__all__ = [
    "ORPHANED_EXIT_CODE",
    "exit_with_parent",
    "exit_with_spawning_parent",
    "set_parent_death_signal",
]

ORPHANED_EXIT_CODE = 70
_PR_SET_PDEATHSIG = 1
_CHECK_SECONDS = 1.0


def exit_with_parent(parent_pid: int) -> None:
    """Make this process exit as soon as ``parent_pid`` (its parent) is gone.

    Call it first thing in a child process. It exits at once if the parent died
    before the call.
    """
    set_parent_death_signal()
    if os.getppid() != parent_pid:
        os._exit(ORPHANED_EXIT_CODE)
    watcher = threading.Thread(
        target=_watch_parent, args=(parent_pid, _parent_sentinel()), name="parent-watch"
    )
    watcher.daemon = True
    watcher.start()


def exit_with_spawning_parent() -> bool:
    """Exit with the parent if multiprocessing started this process; return whether it did.

    Server processes started by uvicorn's supervisor (``server_processes`` > 1) call
    it, so that they, and with them their workers, end when the supervisor is killed.
    """
    parent = multiprocessing.parent_process()
    if parent is None or parent.pid is None:
        return False
    exit_with_parent(parent.pid)
    return True


def set_parent_death_signal(signum: int = signal.SIGKILL) -> bool:
    """Ask Linux to send ``signum`` when the thread that forked this process exits.

    Returns False where that is not available (other systems).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _parent_sentinel() -> int | None:
    parent = multiprocessing.parent_process()
    if parent is None:
        return None
    try:
        return int(parent.sentinel)
    except (AttributeError, ValueError):
        return None


def _watch_parent(parent_pid: int, sentinel: int | None) -> None:
    while True:
        if sentinel is not None:
            if wait([sentinel], timeout=_CHECK_SECONDS):
                os._exit(ORPHANED_EXIT_CODE)  # end of file: the parent's end is closed
        else:
            threading.Event().wait(_CHECK_SECONDS)
        if os.getppid() != parent_pid:
            os._exit(ORPHANED_EXIT_CODE)
