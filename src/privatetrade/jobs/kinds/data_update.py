"""Job kind ``data_update``: fetch new bars from a provider, symbol by symbol; outcomes.json.

One symbol's failure does not stop the others: every symbol gets an outcome (updated
with N new bars, up to date, or failed with the provider's message). The job fails
only when every symbol failed; cancelling stops it between symbols (the symbols done
so far keep their new bars).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from privatetrade.data.calendar import calendar_for_market
from privatetrade.data.fetching import SymbolUpdate, check_fetchable, update_symbol
from privatetrade.data.store import PriceKind
from privatetrade.domain.artifacts import Artifact
from privatetrade.domain.data_updates import DataUpdateSpec, UpdateStatus
from privatetrade.domain.kinds import JobKind, JobLabels
from privatetrade.errors import CancelledError, ConflictError, InputError, ProviderError
from privatetrade.jobs.kinds.base import KindContext, RunOutput, StageCallback

if TYPE_CHECKING:
    from privatetrade.data.market_data import MarketData
    from privatetrade.data.providers.base import Provider
    from privatetrade.data.symbols import SymbolInfo
    from privatetrade.engine.simulation import CancelToken

__all__ = ["HANDLER", "OUTCOMES", "DataUpdateKind", "resolve_provider", "stored_symbols"]

OUTCOMES = "outcomes.json"
_STAGE = "updating"
_ERRORS_IN_MESSAGE = 5
_FAILED_IN_SUMMARY = 20


class DataUpdateKind:
    """Check and run :class:`~privatetrade.domain.data_updates.DataUpdateSpec` jobs."""

    kind = JobKind.DATA_UPDATE

    def check(self, spec: DataUpdateSpec, context: KindContext) -> DataUpdateSpec:
        """Resolve the provider; check the codes (stored, or fetchable) and the selection.

        Raises:
            ConflictError: No provider is configured or named, or its extra is missing.
            InputError: An unknown provider (``provider``), a code that cannot be fetched
                or an empty selection (``symbols``), ``exchange`` with named symbols.
        """
        provider = resolve_provider(spec.provider, context.data_provider)
        data = context.market_data
        if spec.symbols and spec.exchange is not None:
            raise InputError(
                "exchange selects among the stored symbols: leave symbols empty to use it",
                field="exchange",
            )
        for code in spec.symbols:
            check_fetchable(data, provider, code)
        if not spec.symbols and not stored_symbols(data, provider, spec.exchange):
            where = f" of {spec.exchange}" if spec.exchange else ""
            raise InputError(
                f"nothing to update: no stored symbol{where} was fetched from {provider}; "
                "name the codes to fetch",
                field="symbols",
            )
        return spec.model_copy(update={"provider": provider})

    def labels(self, spec: DataUpdateSpec) -> JobLabels:
        """The first code (or ``all``, with the exchange if one is chosen); ``data_update``."""
        if spec.symbols:
            return JobLabels(spec.symbols[0], JobKind.DATA_UPDATE.value)
        selection = "all" if spec.exchange is None else f"all {spec.exchange}"
        return JobLabels(selection, JobKind.DATA_UPDATE.value)

    def run(
        self, spec: DataUpdateSpec, context: KindContext, stage: StageCallback, cancel: CancelToken
    ) -> RunOutput:
        """Update every symbol in turn; return ``outcomes.json`` and the counts.

        Raises:
            ProviderError: Every symbol failed (the message cites the first errors).
            CancelledError: The job was cancelled (checked before each symbol).
        """
        from privatetrade.data.providers.base import provider_for

        stage("loading", 0.01)
        provider = resolve_provider(spec.provider, context.data_provider)
        source = provider_for(provider)
        data = context.market_data
        stored = [] if spec.symbols else stored_symbols(data, provider, spec.exchange)
        codes = list(spec.symbols) or [symbol.code for symbol in stored]
        listing = _listing(source, [code for code in codes if code not in data.catalog])
        series = None if spec.series is None else [PriceKind(name) for name in spec.series]
        now = context.clock()
        updates: list[SymbolUpdate] = []
        for done, code in enumerate(codes):
            if cancel.is_set():
                raise CancelledError("cancelled")
            stage(_STAGE, 0.02 + 0.95 * done / len(codes))
            updates.append(
                update_symbol(
                    data, source, code, now=now, series=series, start=spec.start, listing=listing
                )
            )
        outcomes = [_outcome(update) for update in updates]
        if outcomes and all(o["status"] == UpdateStatus.FAILED for o in outcomes):
            raise ProviderError(_all_failed_message(outcomes))
        stage("saving", 0.98)
        summary = _summary(provider, outcomes)
        document = {**summary, "as_of": now.isoformat(), "outcomes": outcomes}
        text = json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True)
        return RunOutput((Artifact(OUTCOMES, "application/json", text.encode()),), summary)


def resolve_provider(requested: str | None, configured: str | None) -> str:
    """Return the provider's canonical name: the requested one, else the configured one.

    Raises:
        ConflictError: Neither names one (``state`` ``no_provider``), or its library is
            not installed (``provider_not_installed``).
        InputError: No provider has that name (``field`` is ``provider``).
    """
    from privatetrade.data.providers.base import provider_for

    name = requested or configured
    if not name:
        raise ConflictError(
            "no data provider is configured: set PRIVATETRADE_DATA_PROVIDER to fdr, pykrx "
            "or yfinance (with its extra installed), or name a provider",
            state="no_provider",
        )
    try:
        return provider_for(name).name
    except ProviderError as exc:
        raise ConflictError(str(exc), state="provider_not_installed") from exc


def stored_symbols(data: MarketData, provider: str, exchange: str | None) -> list[SymbolInfo]:
    """The stored symbols fetched from ``provider`` (traded on ``exchange``, if given)."""
    return [
        symbol
        for symbol in data.catalog.all()
        if symbol.source == provider
        and (exchange is None or calendar_for_market(symbol.market) == exchange)
    ]


def _listing(source: Provider, new_codes: list[str]) -> dict[str, SymbolInfo]:
    """The provider's listing by code, to name new symbols (empty if it has none)."""
    if not new_codes:
        return {}
    try:
        return {symbol.code: symbol for symbol in source.listing(None)}
    except ProviderError:
        return {}  # new symbols are then named by their code


def _outcome(update: SymbolUpdate) -> dict[str, Any]:
    errors = update.errors
    if errors:
        status = UpdateStatus.FAILED
    elif update.new_bars:
        status = UpdateStatus.UPDATED
    else:
        status = UpdateStatus.UP_TO_DATE
    last_bars = [item.last_bar for item in update.series if item.last_bar is not None]
    return {
        "code": update.code,
        "status": status.value,
        "new_bars": update.new_bars,
        "last_bar": max(last_bars).isoformat() if last_bars else None,
        "error": "; ".join(errors) or None,
        "series": [
            {
                "series": item.series.value,
                "new_bars": item.new_bars,
                "last_bar": item.last_bar.isoformat() if item.last_bar else None,
                "error": item.error,
            }
            for item in update.series
        ],
    }


def _summary(provider: str, outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    """The counts shown in listings (and on the status page for scheduled updates)."""

    def count(status: UpdateStatus) -> int:
        return sum(1 for outcome in outcomes if outcome["status"] == status)

    return {
        "provider": provider,
        "symbols": len(outcomes),
        "updated": count(UpdateStatus.UPDATED),
        "up_to_date": count(UpdateStatus.UP_TO_DATE),
        "failed": count(UpdateStatus.FAILED),
        "new_bars": sum(int(outcome["new_bars"]) for outcome in outcomes),
        "failed_symbols": [o["code"] for o in outcomes if o["status"] == UpdateStatus.FAILED][
            :_FAILED_IN_SUMMARY
        ],
    }


def _all_failed_message(outcomes: list[dict[str, Any]]) -> str:
    shown = [f"{o['code']}: {o['error']}" for o in outcomes[:_ERRORS_IN_MESSAGE]]
    more = len(outcomes) - len(shown)
    tail = f"; and {more} more" if more else ""
    return f"every symbol failed ({len(outcomes)}): " + "; ".join(shown) + tail


HANDLER = DataUpdateKind()
