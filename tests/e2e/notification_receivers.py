"""Real receivers on 127.0.0.1 for notification tests: an HTTP endpoint and an SMTP server.

:class:`HttpReceiver` is a threaded ``http.server`` that records every POST (headers and
raw body) and can answer 500 to the first N of them; :class:`SmtpReceiver` is aiosmtpd's
controller with a handler keeping every message. Both wait for what they receive with a
deadline (no sleeps).
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    """One POST as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int


def verify_signature(secret: str, received: Received, tolerance_seconds: float = 300.0) -> bool:
    """The recipe of docs/notifications.md: HMAC-SHA256 over ``timestamp.body``, fresh."""
    timestamp = received.headers.get("x-privatetrade-timestamp", "")
    given = received.headers.get("x-privatetrade-signature", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance_seconds:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + received.body, hashlib.sha256)
    return hmac.compare_digest("sha256=" + expected.hexdigest(), given)


class HttpReceiver:
    """An HTTP server recording POSTs; the first ``fail_first`` answer 500."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.received: list[Received] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._changed:
                    status = 500 if len(receiver.received) < receiver.fail_first else 200
                    headers = {key.lower(): value for key, value in self.headers.items()}
                    receiver.received.append(Received(self.path, headers, body, status))
                    receiver._changed.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        """The receiver's URL with ``path``."""
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> HttpReceiver:
        """Serve on a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """Wait until at least ``count`` POSTs arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.received)} of {count} POSTs after {timeout}s")
                self._changed.wait(left)
            return list(self.received)


@contextmanager
def http_receiver(fail_first: int = 0) -> Iterator[HttpReceiver]:
    """A running :class:`HttpReceiver`."""
    receiver = HttpReceiver(fail_first).start()
    try:
        yield receiver
    finally:
        receiver.stop()


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.changed = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.changed:
            self.messages.append(parsed)  # type: ignore[arg-type]
            self.changed.notify_all()
        return "250 OK"


class SmtpReceiver:
    """aiosmtpd on a free loopback port, keeping every message."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.port = _free_port()
        self.mailbox = _Mailbox()
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpReceiver:
        """Start the SMTP server."""
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop it."""
        self._controller.stop()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[EmailMessage]:
        """Wait until ``count`` messages arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self.mailbox.changed:
            while len(self.mailbox.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.mailbox.messages)} of {count} mails")
                self.mailbox.changed.wait(left)
            return list(self.mailbox.messages)


@contextmanager
def smtp_receiver() -> Iterator[SmtpReceiver]:
    """A running :class:`SmtpReceiver`."""
    receiver = SmtpReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
