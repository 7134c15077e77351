"""The ``data_update`` job kind on recorded provider answers, in process, on a real MarketData.

FinanceDataReader parses the answers under ``tests/fixtures/providers`` (Naver's chart
feed, Yahoo's chart API, the KRX listing); only the transport is replaced (``responses``
for requests, a urllib handler for ``pandas.read_csv``). One symbol fails (Yahoo's 404),
the others are updated, fetched for the first time, or found up to date.
"""

from __future__ import annotations

import datetime as dt
import email.message
import io
import json
import socket
import urllib.error
import urllib.request
import urllib.response
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import responses
from responses import matchers

from privatetrade.data.market_data import MarketData
from privatetrade.data.store import PriceKind
from privatetrade.data.symbols import Market, SymbolInfo
from privatetrade.domain.data_updates import DataUpdateSpec
from privatetrade.domain.kinds import JobKind
from privatetrade.errors import CancelledError, ConflictError, InputError, ProviderError
from privatetrade.jobs.kinds import KindContext, handler_for
from privatetrade.jobs.kinds.data_update import OUTCOMES

pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword")

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "providers"
NAVER_FCHART = "https://fchart.stock.naver.com/sise.nhn"
YAHOO_CHART = "https://query2.finance.yahoo.com/v8/finance/chart/"
KRX_BUNDLE = "http://data.krx.co.kr/comm/bldAttendant/executeForResourceBundle.cmd"
FDR_CACHE = "https://raw.githubusercontent.com/FinanceData/fdr_krx_data_cache/refs/heads/master"
LISTING_CSV = f"{FDR_CACHE}/data/listing/krx/2024-01-05.csv"
# 21:00 in Seoul (KRX closed at 15:30), 07:00 in New York (the NYSE opens at 09:30).
NOW = dt.datetime(2024, 1, 8, 12, 0, tzinfo=dt.UTC)
HANDLER = handler_for(JobKind.DATA_UPDATE)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class UrllibFixtures(urllib.request.BaseHandler):
    """Answers registered URLs for urllib (``pandas.read_csv``); refuses any other."""

    handler_order = 100

    def __init__(self) -> None:
        self.routes: dict[str, bytes] = {}
        self.unmatched: list[str] = []

    def _open(self, request: urllib.request.Request) -> Any:
        url = request.full_url
        if url not in self.routes:
            self.unmatched.append(url)
            raise urllib.error.URLError(f"unregistered URL in a test: {url}")
        answer = urllib.response.addinfourl(
            io.BytesIO(self.routes[url]), email.message.Message(), url, 200
        )
        answer.msg = "OK"
        return answer

    http_open = https_open = _open


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access in a unit test")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    """The provider answers: KRX listing, Naver bars of 005930, Yahoo's AAPL and NOSUCH."""
    urls = UrllibFixtures()
    urls.routes[LISTING_CSV] = fixture("fdr_krx_listing_2024-01-05.csv")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, KRX_BUNDLE, body=fixture("krx_resource_bundle_b128.json"))
        naver = {"symbol": "005930", "timeframe": "day"}
        mock.add(
            responses.GET,
            NAVER_FCHART,
            body=fixture("naver_fchart_005930_day.xml"),
            content_type="text/xml;charset=EUC-KR",
            match=[matchers.query_param_matcher(naver, strict_match=False)],
        )
        mock.add(
            responses.GET,
            YAHOO_CHART + "AAPL",
            body=fixture("yahoo_chart_aapl_20240102_20240105.json"),
            content_type="application/json",
        )
        mock.add(
            responses.GET,
            YAHOO_CHART + "NOSUCH",
            body=fixture("yahoo_chart_not_found.json"),
            status=404,
            content_type="application/json",
        )
        urllib.request.install_opener(urllib.request.build_opener(urls))
        try:
            yield mock
        finally:
            urllib.request.install_opener(None)  # type: ignore[arg-type]
    assert urls.unmatched == []


def bars(days: list[str], tz: str, closes: list[float]) -> pd.DataFrame:
    index = pd.DatetimeIndex([pd.Timestamp(day, tz=tz) for day in days], name="time")
    close = pd.Series(closes, index=index)
    return pd.DataFrame(
        {
            "open": close,
            "high": close * 1.01,
            "low": close * 0.99,
            "close": close,
            "volume": 1000.0,
        }
    )


@pytest.fixture
def data(tmp_path: Path) -> MarketData:
    """000660 stored up to the last KRX session; AAPL up to 2024-01-03; nothing else."""
    market_data = MarketData(tmp_path / "data")
    hynix = SymbolInfo(code="000660", name="SK하이닉스", market=Market.KOSPI, source="fdr")
    market_data.save_bars(
        hynix,
        bars(["2024-01-04", "2024-01-05", "2024-01-08"], "Asia/Seoul", [133000, 133400, 134000]),
        kind=PriceKind.ADJUSTED,
    )
    apple = SymbolInfo(
        code="AAPL", name="Apple Inc", market=Market.NASDAQ, currency="USD", tick_table="us",
        source="fdr",
    )  # fmt: skip
    market_data.save_bars(
        apple,
        bars(["2024-01-02", "2024-01-03"], "America/New_York", [184.5, 183.1]),
        kind=PriceKind.ADJUSTED,
    )
    return market_data


def context(data: MarketData, provider: str | None = "fdr") -> KindContext:
    return KindContext(data, data_provider=provider, clock=lambda: NOW)


class Stages:
    """Records the stage callback; sets the cancel token after ``cancel_after`` symbols."""

    def __init__(self, cancel_after: int | None = None) -> None:
        self.calls: list[tuple[str, float]] = []
        self.cancel_after = cancel_after

    def __call__(self, stage: str, fraction: float) -> None:
        self.calls.append((stage, fraction))

    def is_set(self) -> bool:
        started = sum(1 for stage, _ in self.calls if stage == "updating")
        return self.cancel_after is not None and started >= self.cancel_after


def run(data: MarketData, spec: DataUpdateSpec, stages: Stages) -> dict[str, Any]:
    checked = HANDLER.check(spec, context(data))
    output = HANDLER.run(checked, context(data), stages, stages)
    (artifact,) = output.artifacts
    assert artifact.name == OUTCOMES
    document: dict[str, Any] = json.loads(artifact.content)
    assert {key: document[key] for key in output.summary} == output.summary
    return document


def naver_calls(mock: responses.RequestsMock, code: str) -> int:
    return sum(
        1
        for call in mock.calls
        if call.request.url.startswith(NAVER_FCHART) and f"symbol={code}" in call.request.url
    )


def test_one_failing_symbol_is_reported_and_the_others_are_updated(
    http: responses.RequestsMock, data: MarketData
) -> None:
    spec = DataUpdateSpec(symbols=("005930", "000660", "aapl", "NOSUCH"))
    stages = Stages()

    document = run(data, spec, stages)

    outcomes = {item["code"]: item for item in document["outcomes"]}
    assert [item["code"] for item in document["outcomes"]] == ["005930", "000660", "AAPL", "NOSUCH"]
    # New: every bar Naver has up to the last closed session, named from the KRX listing.
    assert (outcomes["005930"]["status"], outcomes["005930"]["new_bars"]) == ("updated", 7)
    assert outcomes["005930"]["last_bar"] == "2024-01-08"
    samsung = data.catalog.get("005930")
    assert (samsung.name, samsung.market, samsung.source) == ("삼성전자", Market.KOSPI, "fdr")
    assert samsung.adjusted == ("adjusted",)
    stored = data.bars("005930", adjusted=True)
    assert stored.loc[pd.Timestamp("2024-01-08", tz="Asia/Seoul"), "close"] == 76500
    # Stored up to the last KRX session: not asked at all.
    assert outcomes["000660"] == {
        "code": "000660",
        "status": "up_to_date",
        "new_bars": 0,
        "last_bar": "2024-01-08",
        "error": None,
        "series": [{"series": "adjusted", "new_bars": 0, "last_bar": "2024-01-08", "error": None}],
    }
    assert naver_calls(http, "000660") == 0
    # Incremental: only the bars after 2024-01-03, up to the NYSE's last closed session.
    assert (outcomes["AAPL"]["status"], outcomes["AAPL"]["new_bars"]) == ("updated", 2)
    assert outcomes["AAPL"]["last_bar"] == "2024-01-05"
    assert data.catalog.get("AAPL").bar_count == 4
    # The failure: reported with the provider's message, nothing stored.
    assert outcomes["NOSUCH"]["status"] == "failed"
    assert outcomes["NOSUCH"]["new_bars"] == 0
    assert "HTTP 404" in outcomes["NOSUCH"]["error"]
    assert "NOSUCH" not in data.catalog
    counts = ("symbols", "updated", "up_to_date", "failed", "new_bars")
    assert tuple(document[key] for key in counts) == (4, 2, 1, 1, 9)
    assert document["failed_symbols"] == ["NOSUCH"]
    assert document["provider"] == "fdr"
    assert document["as_of"] == NOW.isoformat()
    # Progress: one "updating" stage per symbol, moving forward.
    updating = [fraction for stage, fraction in stages.calls if stage == "updating"]
    assert len(updating) == 4
    assert updating == sorted(updating)
    assert 0 < updating[0] < updating[-1] < 1


def test_a_second_run_finds_everything_up_to_date_without_asking(
    http: responses.RequestsMock, data: MarketData
) -> None:
    spec = DataUpdateSpec(symbols=("005930", "AAPL"))
    run(data, spec, Stages())
    asked = len(http.calls)

    again = run(data, spec, Stages())

    assert [item["status"] for item in again["outcomes"]] == ["up_to_date", "up_to_date"]
    assert len(http.calls) == asked


def test_every_symbol_failing_fails_the_job(http: responses.RequestsMock, data: MarketData) -> None:
    spec = HANDLER.check(DataUpdateSpec(symbols=("NOSUCH",)), context(data))
    with pytest.raises(ProviderError, match=r"every symbol failed \(1\): NOSUCH: .*HTTP 404"):
        HANDLER.run(spec, context(data), Stages(), Stages())


def test_all_stored_symbols_of_the_provider_and_exchange(
    http: responses.RequestsMock, data: MarketData
) -> None:
    document = run(data, DataUpdateSpec(exchange="XNYS"), Stages())

    assert [(item["code"], item["status"]) for item in document["outcomes"]] == [
        ("AAPL", "updated")
    ]
    assert HANDLER.labels(DataUpdateSpec(exchange="XNYS")).symbol == "all XNYS"


def test_cancel_stops_between_symbols(http: responses.RequestsMock, data: MarketData) -> None:
    spec = HANDLER.check(DataUpdateSpec(symbols=("005930", "AAPL")), context(data))
    stages = Stages(cancel_after=1)

    with pytest.raises(CancelledError):
        HANDLER.run(spec, context(data), stages, stages)

    assert "005930" in data.catalog  # the first symbol was done
    assert data.catalog.get("AAPL").bar_count == 2  # the second never started
    assert not any(call.request.url.startswith(YAHOO_CHART) for call in http.calls)


def test_check_resolves_the_provider_and_names_bad_fields(data: MarketData) -> None:
    checked = HANDLER.check(DataUpdateSpec(symbols=(" 005930 ",)), context(data, "krx"))
    assert (checked.provider, checked.symbols) == ("pykrx", ("005930",))
    assert HANDLER.labels(checked).symbol == "005930"
    assert HANDLER.labels(checked).strategy == "data_update"
    named = HANDLER.check(DataUpdateSpec(symbols=("AAPL",), provider="yahoo"), context(data, None))
    assert named.provider == "yfinance"

    with pytest.raises(ConflictError, match="no data provider is configured") as none:
        HANDLER.check(DataUpdateSpec(symbols=("AAPL",)), context(data, None))
    assert none.value.state == "no_provider"
    cases: list[tuple[DataUpdateSpec, str | None, str, str]] = [
        (DataUpdateSpec(symbols=("AAPL",), provider="bloomberg"), None, "provider", "bloomberg"),
        (DataUpdateSpec(symbols=("NOT A CODE",)), "fdr", "symbols", "not stored"),
        (DataUpdateSpec(symbols=("AAPL",)), "pykrx", "symbols", "KRX data only"),
        (DataUpdateSpec(symbols=("MSFT",)), "pykrx", "symbols", "a KRX code"),
        (DataUpdateSpec(symbols=("AAPL",), exchange="XNYS"), "fdr", "exchange", "leave symbols"),
        (DataUpdateSpec(), "pykrx", "symbols", "nothing to update"),
        (DataUpdateSpec(exchange="XKRX"), "yfinance", "symbols", "of XKRX"),
    ]
    for spec, provider, field, message in cases:
        with pytest.raises(InputError, match=message) as raised:
            HANDLER.check(spec, context(data, provider))
        assert raised.value.field == field, (spec, raised.value)


def test_offline_demo_data_is_never_fetched(tmp_path: Path) -> None:
    data = MarketData(tmp_path / "data")
    demo = SymbolInfo(code="DEMO01", name="합성데모", market=Market.KOSPI, source="synthetic")
    data.save_bars(demo, bars(["2024-01-04"], "Asia/Seoul", [10000]))
    with pytest.raises(InputError, match="DEMO01 holds offline synthetic data") as raised:
        HANDLER.check(DataUpdateSpec(symbols=("demo01",)), context(data))
    assert raised.value.field == "symbols"
