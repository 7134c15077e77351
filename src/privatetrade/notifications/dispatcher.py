"""The notification dispatcher: a thread of the server process that empties the outbox.

It claims due messages with a lease (so several server processes share the outbox and a
message whose server died is claimed again once its lease expires), hands each to a small
pool of sender threads (a slow or failing channel holds one thread for at most its
timeout; other channels keep going) and waits for the next due message, a wake-up
(a job ended, a message was queued) or a second, whichever comes first. Jobs never wait
for it: their messages are rows in the outbox, written with their final state.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import structlog

from privatetrade.domain.notifications import OutboxMessage
from privatetrade.errors import UnavailableError
from privatetrade.notifications.service import NotificationService

__all__ = ["NotificationDispatcher"]

log = structlog.get_logger("privatetrade.notifications")
_HOUSEKEEPING_SECONDS = 600.0
_KEEP_FINISHED = dt.timedelta(days=30)


class NotificationDispatcher:
    """Delivers queued messages in the background (start, wake, stop)."""

    def __init__(
        self,
        service: NotificationService,
        *,
        senders: int = 4,
        poll_seconds: float = 1.0,
        start_delay_seconds: float = 0.0,
    ) -> None:
        """Create a stopped dispatcher.

        Args:
            service: Delivers one message (:meth:`NotificationService.deliver`).
            senders: Messages sent at once (threads).
            poll_seconds: Longest wait between two looks at the outbox.
            start_delay_seconds: Wait before the first look (operators delaying
                deliveries after a start; tests stopping a server before delivery).
        """
        self.service = service
        self.senders = senders
        self.poll_seconds = poll_seconds
        self.start_delay_seconds = start_delay_seconds
        # A claim lasts longer than an attempt can: a dead server's messages come back.
        self.lease_seconds = 3 * service.delivery.timeout + 30.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._in_flight = 0
        self._pool: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._housekept = float("-inf")

    def start(self) -> None:
        """Start the loop on a daemon thread."""
        self._stop.clear()
        self._pool = ThreadPoolExecutor(self.senders, thread_name_prefix="notify-send")
        self._thread = threading.Thread(target=self._loop, name="notifications", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look at the outbox now (a job ended or a message was queued)."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop looking; attempts in progress finish within their timeout."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        if self.start_delay_seconds > 0 and self._stop.wait(self.start_delay_seconds):
            return
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self._pass()
                self._housekeeping()
                wait = self._next_wait()
            except UnavailableError as exc:
                log.warning("notification.database_unavailable", error=str(exc))
                wait = self.poll_seconds
            except Exception:  # never let the thread die
                log.exception("notification.dispatch_failed")
                wait = self.poll_seconds
            self._wake.wait(wait)

    def _pass(self) -> None:
        with self._lock:
            free = self.senders - self._in_flight
        if free <= 0 or self._pool is None:
            return
        for message in self.service.store.claim(free, self.lease_seconds):
            with self._lock:
                self._in_flight += 1
            future = self._pool.submit(self._deliver, message)
            future.add_done_callback(self._done)

    def _deliver(self, message: OutboxMessage) -> None:
        try:
            self.service.deliver(message)
        except Exception:  # recorded nothing: the lease expires and it is tried again
            log.exception("notification.delivery_crashed", message_id=message.id)

    def _done(self, _future: Future[None]) -> None:
        with self._lock:
            self._in_flight -= 1
        self._wake.set()

    def _next_wait(self) -> float:
        with self._lock:
            busy = self._in_flight >= self.senders
        due = None if busy else self.service.store.next_due()
        if due is None:
            return self.poll_seconds
        seconds = (due - dt.datetime.now(dt.UTC)).total_seconds()
        return min(max(seconds, 0.01), self.poll_seconds)

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._housekept < _HOUSEKEEPING_SECONDS:
            return
        self._housekept = now
        forgotten = self.service.store.forget_finished(_KEEP_FINISHED)
        if forgotten:
            log.info("notification.forgotten", messages=forgotten)
