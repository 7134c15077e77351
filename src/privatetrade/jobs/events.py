"""Wake event streams the moment this process sees a job finish.

Jobs finished by another server process are noticed by the streams' polling; this
only removes the polling delay for the common single-process case.
"""

from __future__ import annotations

import asyncio
import threading

__all__ = ["JobEvents"]


class JobEvents:
    """Per-job wake-ups from any thread to the event loop's waiting streams."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self._lock = threading.Lock()

    def notify(self, job_id: str) -> None:
        """Wake every stream waiting on ``job_id`` (thread-safe)."""
        with self._lock:
            waiters = list(self._waiters.get(job_id, ()))
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    async def wait(self, job_id: str, timeout: float) -> None:
        """Return after ``timeout`` seconds or when ``job_id`` is notified, if sooner."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.setdefault(job_id, set()).add(entry)
        try:
            await asyncio.wait_for(entry[1].wait(), timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                waiters = self._waiters.get(job_id)
                if waiters is not None:
                    waiters.discard(entry)
                    if not waiters:
                        del self._waiters[job_id]
