"""Smoke test of a running deployment: ``privatetrade smoke --url URL``.

:func:`run_smoke` (in :mod:`~privatetrade.ops.smoke.run`) walks the steps of
:data:`STEP_TITLES` against a deployment and returns a :class:`SmokeReport`;
:mod:`~privatetrade.ops.smoke.checks` holds what the steps expect of the answers and
:mod:`~privatetrade.ops.smoke.sse` the Server-Sent Events parser (:func:`parse_sse`;
:func:`parse_sse_events` with ids).
"""

from privatetrade.ops.smoke.checks import (
    EQUITY_CSV_HEADER,
    REQUIRED_METRICS,
    REQUIRED_RESULT_FIELDS,
    TRADES_CSV_HEADER,
)
from privatetrade.ops.smoke.report import (
    STEP_TITLES,
    SmokeReport,
    SmokeUnreachableError,
    StepResult,
)
from privatetrade.ops.smoke.run import run_smoke
from privatetrade.ops.smoke.sse import StreamEvent, parse_sse, parse_sse_events

__all__ = [
    "EQUITY_CSV_HEADER",
    "REQUIRED_METRICS",
    "REQUIRED_RESULT_FIELDS",
    "STEP_TITLES",
    "TRADES_CSV_HEADER",
    "SmokeReport",
    "SmokeUnreachableError",
    "StepResult",
    "StreamEvent",
    "parse_sse",
    "parse_sse_events",
    "run_smoke",
]
