"""The Server-Sent Events parser shared by the smoke command and the tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from privatetrade.ops.smoke import StreamEvent, parse_sse, parse_sse_events


@pytest.mark.parametrize(
    ("lines", "events"),
    [
        pytest.param(
            ["event: state", 'data: {"state": "queued"}', ""],
            [("state", '{"state": "queued"}')],
            id="named event",
        ),
        pytest.param(["data: plain", ""], [("message", "plain")], id="default name"),
        pytest.param(["data: a", "data: b", ""], [("message", "a\nb")], id="data lines joined"),
        pytest.param(["data:  two spaces", ""], [("message", " two spaces")], id="one space off"),
        pytest.param([": keep-alive", "", "id: 7", "retry: 10", ""], [], id="comments and ids"),
        pytest.param(["event: ping", "", "data: x", ""], [("message", "x")], id="name reset"),
        pytest.param(["event: done", "data: last"], [("done", "last")], id="unterminated"),
    ],
)
def test_parse_sse(lines: list[str], events: list[tuple[str, str]]) -> None:
    assert list(parse_sse(lines)) == events


def test_parse_sse_reads_lazily() -> None:
    def stream() -> Iterator[str]:
        yield "data: first"
        yield ""
        raise AssertionError("read past the first event")

    assert next(parse_sse(stream())) == ("message", "first")


def test_events_carry_the_last_id_and_the_reconnection_time() -> None:
    lines = [
        "retry: 1000",
        "",
        "event: state",
        "data: a",
        "id: 7",
        "",
        "data: b",
        "",
        "id: 9",
        "retry: soon",
        "",
        "id: 10\0",
        "data: c",
        "",
        "id",
        "data: d",
        "",
    ]
    assert list(parse_sse_events(lines)) == [
        StreamEvent("state", "a", "7", 1000),
        StreamEvent("message", "b", "7", 1000),  # an id persists
        StreamEvent("message", "c", "9", 1000),  # set by a data-less event; NUL ignored
        StreamEvent("message", "d", "", 1000),  # an empty id resets it
    ]
    assert list(parse_sse(lines)) == [
        ("state", "a"),
        ("message", "b"),
        ("message", "c"),
        ("message", "d"),
    ]


def test_no_id_and_no_retry_before_the_stream_sets_them() -> None:
    assert list(parse_sse_events(["data: x", ""])) == [StreamEvent("message", "x", "", None)]
