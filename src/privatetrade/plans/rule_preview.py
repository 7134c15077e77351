"""A rule document's signals on a stock's stored bars, before anything is run.

The rule builder draws these: the bars, the bars where the rule would enter and exit
(as the strategy's signals, before costs, stops or sizing), and the indicator lines
the rule looks at. Bounded: at most :data:`MAX_PREVIEW_BARS`, the latest of the range.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from privatetrade.domain.rule_strategies import RULES_STRATEGY, RulesChoice
from privatetrade.errors import DataError, InputError
from privatetrade.plans.strategies import build_strategy

if TYPE_CHECKING:
    import numpy.typing as npt

    from privatetrade.data.market_data import MarketData

__all__ = ["MAX_PREVIEW_BARS", "RulePreview", "preview_rules"]

MAX_PREVIEW_BARS: Final = 5_000
"""Most bars a preview reads (the last ones of the chosen range)."""


@dataclass(frozen=True, slots=True)
class RulePreview:
    """The bars and where the rule's signals fire on them.

    Attributes:
        symbol: The catalog's code of the stock.
        adjusted: Whether the prices are adjusted.
        truncated: True when the range held more than :data:`MAX_PREVIEW_BARS` bars
            (only the last ones are shown).
        bars: ``time`` (ISO local times) and ``open``..``volume`` columns.
        signals: ``entries``, ``exits``, ``short_entries``, ``short_exits``: bar indices.
        indicators: ``{"lines": [{name, pane, values}], "levels": [{name, pane, value}]}``.
        params: The complete parameter set used.
    """

    symbol: str
    adjusted: bool
    truncated: bool
    bars: dict[str, list[Any]]
    signals: dict[str, list[int]]
    indicators: dict[str, list[dict[str, Any]]]
    params: dict[str, Any]


def preview_rules(
    data: MarketData,
    symbol: str,
    document: dict[str, Any],
    *,
    params: Mapping[str, Any] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    adjusted: bool = True,
) -> RulePreview:
    """Evaluate ``document`` on ``symbol``'s stored bars between ``start`` and ``end``.

    Raises:
        InputError: An invalid document (``document.<path>``), parameter
            (``params.<name>``), an unknown symbol (``symbol``), no bars in the range
            (``start``).
    """
    from privatetrade.data.indices import require_tradable
    from privatetrade.engine.bars import format_times, prepare_bars
    from privatetrade.engine.strategies.registry import compute_signals

    rules = RulesChoice(document=document)
    strategy = build_strategy(RULES_STRATEGY, params, rules, rules_field="")
    info = _symbol(data, symbol)
    require_tradable(info)
    series = data.series_for(info, adjusted=adjusted)
    used_adjusted = adjusted
    if series is None and adjusted:
        series, used_adjusted = data.series_for(info, adjusted=False), False
    if series is None:
        raise InputError(
            f"no prices stored for {info.code}",
            field="symbol",
            code="no_raw_prices",
            params={"symbol": info.code},
        )
    try:
        frame = data.bars(info.code, start, end, adjusted=used_adjusted)
    except DataError as exc:
        raise InputError(str(exc), field="start") from exc
    truncated = len(frame) > MAX_PREVIEW_BARS
    if truncated:
        frame = frame.iloc[-MAX_PREVIEW_BARS:]
    prepared = prepare_bars(frame)
    bars = prepared.bars
    signals = compute_signals(strategy, bars)
    indicators = strategy.indicators(bars)
    return RulePreview(
        symbol=info.code,
        adjusted=used_adjusted,
        truncated=truncated,
        bars={
            "time": format_times(bars.time, prepared.local_time_ns),
            "open": bars.open.tolist(),
            "high": bars.high.tolist(),
            "low": bars.low.tolist(),
            "close": bars.close.tolist(),
            "volume": bars.volume.tolist(),
        },
        signals={
            "entries": _indices(signals.entries),
            "exits": _indices(signals.exits),
            "short_entries": _indices(signals.short_entries),
            "short_exits": _indices(signals.short_exits),
        },
        indicators={
            "lines": [
                {"name": line.name, "pane": line.pane.value, "values": _floats(line.values)}
                for line in indicators.lines
            ],
            "levels": [
                {"name": level.name, "pane": level.pane.value, "value": level.value}
                for level in indicators.levels
            ],
        },
        params=strategy.params.model_dump(mode="json"),
    )


def _symbol(data: MarketData, code: str) -> Any:
    try:
        return data.symbol(code)
    except InputError as exc:
        raise InputError(str(exc), field="symbol", code=exc.code, params=exc.params) from exc


def _indices(flags: npt.NDArray[np.bool_] | None) -> list[int]:
    if flags is None:
        return []
    return [int(i) for i in np.flatnonzero(flags)]


def _floats(values: npt.NDArray[np.float64]) -> list[float | None]:
    return [None if not np.isfinite(v) else float(v) for v in values.tolist()]
