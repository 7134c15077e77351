"""A parser of Server-Sent Events (the ``text/event-stream`` format)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

__all__ = ["parse_sse"]


def parse_sse(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """Yield ``(event, data)`` for each Server-Sent Event in ``lines``.

    Follows the event stream format of the HTML standard as far as privatetrade uses
    it: an empty line ends an event; ``event:`` names it (``message`` when absent);
    ``data:`` lines are joined with newlines; a single space after the colon is
    dropped; comment lines (starting with ``:``) and other fields are ignored. Events
    without data are not dispatched. An event still open when the lines end is
    yielded too.

    Args:
        lines: The stream's lines without their line endings (e.g.
            ``httpx.Response.iter_lines()``).

    Yields:
        ``(event name, data)`` per event, in order.
    """
    event = "message"
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
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
    if data:
        yield event, "\n".join(data)
