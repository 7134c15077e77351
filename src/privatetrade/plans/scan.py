"""The run plan of a universe scan: the API's check, the worker and the CLI.

:func:`plan_scan` resolves the universe (:func:`~privatetrade.plans.universe.resolve_universe`),
checks the strategy and its parameters once, and resolves each symbol's settings the way
its full backtest would (:func:`~privatetrade.plans.backtest.resolve_settings`: capital by
currency, ``auto`` costs by the symbol's own market), so a ranking row and the backtest
it links to give the same numbers. Bars are not loaded here: each chunk loads its
symbols' bars where it runs (:class:`StoredBars`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from privatetrade.domain.scan import ScanSpec
from privatetrade.plans.backtest import Instrument, build_strategy, resolve_settings
from privatetrade.plans.strategies import normalized_rules
from privatetrade.plans.universe import Universe, resolve_universe
from privatetrade.research.scan import ScanProblem, ScanSymbol

if TYPE_CHECKING:
    from privatetrade.data.market_data import MarketData
    from privatetrade.engine.bars import PreparedBars
    from privatetrade.engine.settings import SimulationSettings

__all__ = ["ScanPlan", "StoredBars", "plan_scan"]


@dataclass(frozen=True)
class StoredBars:
    """Reads a scan symbol's bars from the data directory's Parquet files (picklable).

    Attributes:
        data_dir: The data directory.
        kinds: Symbol code -> the stored series to read (``raw`` or ``adjusted``).
        start: First local date (None: the first stored bar).
        end: Last local date (None: the last stored bar).
    """

    data_dir: Path
    kinds: Mapping[str, str]
    start: dt.date | None
    end: dt.date | None

    def __call__(self, symbol: ScanSymbol) -> PreparedBars:
        """Return the symbol's bars in the period, as a backtest of it reads them.

        The same bars as the symbol's full backtest (``MarketData.bars``), read as
        arrays and validated (safe to call from several threads at once).

        Raises:
            DataError: None stored, none in the period (the message says which dates
                are stored), or bad bars.
        """
        from privatetrade.data.market_data import empty_range_message
        from privatetrade.data.store import BarStore, PriceKind
        from privatetrade.engine.bars import prepare_bars
        from privatetrade.errors import DataError

        store = BarStore(self.data_dir)
        kind = PriceKind(self.kinds[symbol.code])
        columns, tz = store.read_columns(symbol.code, self.start, self.end, kind=kind)
        if columns["time"].shape[0] == 0:
            coverage = store.coverage(symbol.code, kind)
            held = (coverage.first_bar, coverage.last_bar) if coverage else None
            raise DataError(empty_range_message(symbol.code, self.start, self.end, held))
        return prepare_bars(columns, tz=tz)


@dataclass(frozen=True)
class ScanPlan:
    """A universe scan, checked and resolved.

    Attributes:
        spec: The spec, symbol codes as the catalog spells them.
        universe: The resolved symbols.
        problem: What every chunk needs (strategy, parameters, settings, loader).
    """

    spec: ScanSpec
    universe: Universe
    problem: ScanProblem

    def document_context(self, executor: str) -> dict[str, Any]:
        """What the ranking document says was run: spec, universe, period, executor."""
        spec = self.spec
        return {
            "spec": spec.model_dump(mode="json"),
            "universe": {
                "market": spec.market,
                "symbols": len(self.universe),
                "currency": self.universe.currency,
            },
            "period": {
                "start": None if spec.start is None else spec.start.isoformat(),
                "end": None if spec.end is None else spec.end.isoformat(),
            },
            "executor": executor,
        }


def plan_scan(spec: ScanSpec, data: MarketData, *, max_symbols: int | None = None) -> ScanPlan:
    """Resolve a scan spec on the stored market data.

    Raises:
        InputError: The universe (``symbols``, ``market``: unknown codes, an index,
            mixed currencies, too many symbols), the strategy (``strategy``) or its
            parameters (``params.<name>``), or the settings (``capital``, ``costs``...).
    """
    universe = resolve_universe(spec, data, max_symbols=max_symbols)
    probe = spec.backtest_spec(universe.members[0].code)
    strategy = build_strategy(probe)
    settings: dict[str, SimulationSettings] = {}
    symbols = []
    kinds: dict[str, str] = {}
    for member in universe.members:
        instrument = Instrument.of(member.symbol)
        key = f"{instrument.currency}:{instrument.krx_market or '-'}"
        if key not in settings:
            settings[key] = resolve_settings(spec.backtest_spec(member.code), instrument)
        error = None
        if member.series is None:
            error = f"no {'adjusted' if spec.adjusted else 'raw'} prices stored"
        else:
            series = data.series_for(member.symbol, adjusted=member.series.adjusted)
            kinds[member.code] = str(series)
        symbols.append(
            ScanSymbol(
                code=member.code,
                name=member.symbol.name,
                market=member.symbol.market.value,
                adjusted=None if member.series is None else member.series.adjusted,
                settings=key,
                error=error,
            )
        )
    normalized = spec.model_copy(update={"rules": normalized_rules(spec.rules)})
    if spec.symbols is not None:
        normalized = normalized.model_copy(update={"symbols": universe.codes})
    params = dict(strategy.params.__dict__)
    loader = StoredBars(data.data_dir, kinds, spec.start, spec.end)
    # A rule strategy's class is made from its document (no registry knows it by name).
    chosen = spec.strategy if spec.rules is None else type(strategy)
    problem = ScanProblem(chosen, params, settings, tuple(symbols), loader)
    return ScanPlan(normalized, universe, problem)
