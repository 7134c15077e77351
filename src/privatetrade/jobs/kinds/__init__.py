"""Job kinds, looked up by name: the worker and the job service never branch on a kind.

To add a kind, write its module here (a class with ``kind``, ``check`` and ``run``; see
:class:`~privatetrade.jobs.kinds.base.JobKindHandler`), register its spec model in
``privatetrade.domain.kinds`` and its handler below. Nothing else changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from privatetrade.domain.kinds import JobKind
from privatetrade.errors import InputError
from privatetrade.jobs.kinds import backtest, data_update, portfolio, research, scan
from privatetrade.jobs.kinds.base import JobKindHandler, KindContext, RunOutput, StageCallback

__all__ = ["HANDLERS", "JobKindHandler", "KindContext", "RunOutput", "StageCallback", "handler_for"]

HANDLERS: Mapping[JobKind, JobKindHandler[Any]] = {
    handler.kind: handler
    for handler in (
        backtest.HANDLER,
        data_update.HANDLER,
        research.SWEEP,
        research.WALKFORWARD,
        scan.HANDLER,
        portfolio.HANDLER,
    )
}


def handler_for(kind: str) -> JobKindHandler[Any]:
    """Return the handler of ``kind``.

    Raises:
        InputError: No such kind is installed (``field`` is ``kind``).
    """
    try:
        return HANDLERS[JobKind(kind)]
    except (ValueError, KeyError) as exc:
        raise InputError(f"unknown job kind {kind!r}", field="kind") from exc
