"""A parser of Server-Sent Events (the ``text/event-stream`` format)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["StreamEvent", "parse_sse", "parse_sse_events"]


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One dispatched event, as an ``EventSource`` would see it.

    Attributes:
        event: The event's name (``message`` when the stream names none).
        data: Its ``data:`` lines joined with newlines.
        id: The stream's last event id when it was dispatched (``id:`` fields persist
            across events, as ``EventSource.lastEventId`` does); empty before any.
        retry: The reconnection time in milliseconds the stream set last (None: never).
    """

    event: str
    data: str
    id: str = ""
    retry: int | None = None


def parse_sse_events(lines: Iterable[str]) -> Iterator[StreamEvent]:
    """Yield each Server-Sent Event in ``lines`` with its id and reconnection time.

    Follows the event stream format of the HTML standard as far as privatetrade uses
    it: an empty line ends an event; ``event:`` names it (``message`` when absent);
    ``data:`` lines are joined with newlines; ``id:`` sets the last event id (kept for
    later events; a value with a NUL is ignored); ``retry:`` with only digits sets the
    reconnection time; a single space after the colon is dropped; comment lines
    (starting with ``:``) and other fields are ignored. Events without data are not
    dispatched, but their ``id:`` and ``retry:`` still count. An event still open when
    the lines end is yielded too.

    Args:
        lines: The stream's lines without their line endings (e.g.
            ``httpx.Response.iter_lines()``).

    Yields:
        Each dispatched event, in order.
    """
    event = "message"
    data: list[str] = []
    last_id = ""
    retry: int | None = None
    for line in lines:
        if not line:
            if data:
                yield StreamEvent(event, "\n".join(data), last_id, retry)
            event, data = "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id" and "\0" not in value:
            last_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            retry = int(value)
    if data:
        yield StreamEvent(event, "\n".join(data), last_id, retry)


def parse_sse(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """Yield ``(event, data)`` for each Server-Sent Event in ``lines``.

    The same events as :func:`parse_sse_events`, without their ids.

    Args:
        lines: The stream's lines without their line endings (e.g.
            ``httpx.Response.iter_lines()``).

    Yields:
        ``(event name, data)`` per event, in order.
    """
    for event in parse_sse_events(lines):
        yield event.event, event.data
