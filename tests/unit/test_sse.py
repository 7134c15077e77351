"""The Server-Sent Events parser shared by the smoke command and the tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from privatetrade.ops.smoke import parse_sse


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
