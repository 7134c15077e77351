"""Benchmark indices through the providers, on recorded-format answers.

KOSPI from FinanceDataReader's yearly index files, from pykrx's MDCSTAT00301 and from
Yahoo's ``^KS11`` chart; the S&P 500 from Yahoo's ``^GSPC`` (through FinanceDataReader
as ``US500`` and through yfinance). The answers (``tests/fixtures/providers``, see the
README there) go through each library's own parsing code; the transports and the
shared fixtures are those of ``test_providers.py``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import requests
import test_providers as shared
from test_providers import (
    FDR_CACHE,
    KRX_JSON,
    YAHOO_CHART,
    Http,
    _form,
    assert_bars_shape,
    bar,
    fixture,
    register_chart,
    register_yahoo_session,
)

from privatetrade.data.fetching import fetch_symbols
from privatetrade.data.market_data import MarketData
from privatetrade.data.providers.fdr import FinanceDataReaderProvider
from privatetrade.data.providers.krx import PykrxProvider
from privatetrade.data.providers.yahoo import YahooProvider
from privatetrade.data.store import PriceKind
from privatetrade.data.symbols import Market, SymbolKind
from privatetrade.errors import ProviderError

pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword")

# The fake transports and library resets of test_providers.py, as fixtures here too.
no_sockets = shared.no_sockets
http = shared.http
sleeps = shared.sleeps
fresh_pykrx = shared.fresh_pykrx
krx_login = shared.krx_login
fresh_yfinance = shared.fresh_yfinance

KOSPI_DAYS = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
# The KOSPI bar of 2024-01-03 in every KOSPI fixture (KRX's, FinanceData's, Yahoo's).
KOSPI_0103 = [2654.98, 2654.98, 2602.29, 2607.31]
INDEX_BARS = "dbms/MDC/STAT/standard/MDCSTAT00301"


def year_file(year: int) -> str:
    return f"{FDR_CACHE}/data/index/year_ks11/{year}.csv"


def register_ks11_years(http: Http, *years: int) -> None:
    for year in years:
        http.urls.add(year_file(year), fixture(f"fdr_index_ks11_{year}.csv"))


def fdr(sleeps: list[float]) -> FinanceDataReaderProvider:
    return FinanceDataReaderProvider(sleep=sleeps.append)


# --- FinanceDataReader ---------------------------------------------------------------


def test_fdr_reads_kospi_from_the_yearly_index_files(http: Http, sleeps: list[float]) -> None:
    register_ks11_years(http, 2024)

    bars = fdr(sleeps).daily_bars("KS11", dt.date(2024, 1, 2), dt.date(2024, 1, 5), adjusted=False)

    assert_bars_shape(bars, "Asia/Seoul", KOSPI_DAYS)
    assert bar(bars, "2024-01-03")[:4] == KOSPI_0103
    assert bar(bars, "2024-01-05") == [2576.33, 2590.11, 2568.73, 2578.08, 456837208]
    assert http.urls.calls == [year_file(2024)]
    # index points have one series: the adjusted answer is the same
    again = fdr(sleeps).daily_bars("ks11", dt.date(2024, 1, 2), dt.date(2024, 1, 5), adjusted=True)
    assert again.equals(bars)


def test_fdr_retries_a_year_file_it_skipped(http: Http, sleeps: list[float]) -> None:
    register_ks11_years(http, 2022)
    http.urls.add(year_file(2023), b"404: Not Found", status=404)  # FinanceDataReader skips it
    register_ks11_years(http, 2023, 2024)

    bars = fdr(sleeps).daily_bars(
        "KS11", dt.date(2022, 12, 28), dt.date(2024, 1, 5), adjusted=False
    )

    assert [stamp.year for stamp in bars.index] == [2022, 2022, 2023, 2023, 2024, 2024, 2024, 2024]
    assert http.urls.calls.count(year_file(2023)) == 2
    assert sleeps == [0.5]


def test_fdr_a_lasting_hole_of_years_is_an_error(http: Http, sleeps: list[float]) -> None:
    register_ks11_years(http, 2022, 2024)
    http.urls.add(year_file(2023), b"500", status=500)

    with pytest.raises(ProviderError, match="without the years 2023") as caught:
        fdr(sleeps).daily_bars("KS11", dt.date(2022, 12, 28), dt.date(2024, 1, 5), adjusted=False)

    assert caught.value.transient
    assert sleeps == [0.5, 1.0]


def test_fdr_reads_the_sp500_from_yahoo(http: Http, sleeps: list[float]) -> None:
    http.get(YAHOO_CHART + "^GSPC", fixture("yahoo_chart_gspc_20240102_20240105.json"))

    bars = fdr(sleeps).daily_bars("US500", dt.date(2024, 1, 2), dt.date(2024, 1, 5), adjusted=True)

    assert_bars_shape(bars, "America/New_York", KOSPI_DAYS)
    expected = [4690.57, 4721.49, 4682.11, 4697.24, 3844370000]
    assert bar(bars, "2024-01-05") == pytest.approx(expected, rel=1e-6)
    assert len(http.calls(YAHOO_CHART + "%5EGSPC")) == 1


# --- yfinance ------------------------------------------------------------------------


def yahoo(sleeps: list[float]) -> YahooProvider:
    return YahooProvider(session=requests.Session(), sleep=sleeps.append)


@pytest.mark.usefixtures("fresh_yfinance")
def test_yahoo_reads_kospi_in_seoul_time(http: Http, sleeps: list[float]) -> None:
    register_yahoo_session(http)
    register_chart(http, "^KS11", fixture("yahoo_chart_ks11_20240102_20240105.json"))

    bars = yahoo(sleeps).daily_bars("^KS11", dt.date(2024, 1, 2), None, adjusted=False)

    assert_bars_shape(bars, "Asia/Seoul", KOSPI_DAYS)
    assert bar(bars, "2024-01-03")[:4] == pytest.approx(KOSPI_0103, rel=1e-6)


@pytest.mark.usefixtures("fresh_yfinance")
def test_yahoo_reads_the_sp500_in_new_york_time(http: Http, sleeps: list[float]) -> None:
    register_yahoo_session(http)
    register_chart(http, "^GSPC", fixture("yahoo_chart_gspc_20240102_20240105.json"))

    bars = yahoo(sleeps).daily_bars(
        "^GSPC", dt.date(2024, 1, 2), dt.date(2024, 1, 5), adjusted=True
    )

    assert_bars_shape(bars, "America/New_York", KOSPI_DAYS)
    expected = [4745.20, 4754.33, 4722.67, 4742.83, 3743050000]
    assert bar(bars, "2024-01-02") == pytest.approx(expected, rel=1e-6)


# --- pykrx ---------------------------------------------------------------------------


@pytest.mark.usefixtures("fresh_pykrx", "krx_login")
def test_pykrx_reads_kospi_by_its_index_ticker(http: Http, sleeps: list[float]) -> None:
    http.krx(INDEX_BARS, fixture("krx_mdcstat00301_kospi_20231231_20240107.json"))
    provider = PykrxProvider(today=lambda: dt.date(2024, 1, 7), sleep=sleeps.append)

    bars = provider.daily_bars("1001", dt.date(2024, 1, 2), dt.date(2024, 1, 5), adjusted=False)

    assert_bars_shape(bars, "Asia/Seoul", KOSPI_DAYS)
    assert bar(bars, "2024-01-03") == [*KOSPI_0103, 461734982]
    form = _form(http.calls(KRX_JSON, INDEX_BARS)[0])
    assert (form["indIdx"], form["indIdx2"]) == ("1", "001")
    assert (form["strtDd"], form["endDd"]) == ("20240102", "20240105")


def test_pykrx_names_what_it_serves() -> None:
    with pytest.raises(ProviderError, match="four digits such as 1001"):
        PykrxProvider().daily_bars("SPX", None, None, adjusted=False)


# --- fetch into the store ------------------------------------------------------------


def test_fetch_stores_an_index_under_its_own_code_as_both_series(
    http: Http, tmp_path: Path
) -> None:
    register_ks11_years(http, 2024)
    data = MarketData(tmp_path)
    lines: list[str] = []

    (saved,) = fetch_symbols(
        data, ["ks11"], provider="fdr", start=dt.date(2024, 1, 2), end=dt.date(2024, 1, 8),
        adjusted=False, market=None, echo=lines.append,
    )  # fmt: skip

    assert (saved.code, saved.name, saved.name_en) == ("KOSPI", "코스피", "KOSPI Composite Index")
    assert (saved.kind, saved.market, saved.tick_table, saved.source) == (
        SymbolKind.INDEX, Market.KOSPI, "none", "fdr",
    )  # fmt: skip
    assert saved.adjusted == ("raw", "adjusted")
    raw = data.store.read("KOSPI", kind=PriceKind.RAW)
    assert raw.equals(data.store.read("KOSPI", kind=PriceKind.ADJUSTED))
    assert len(raw) == 5
    assert lines == ["KOSPI: 5 bars fetched; stored 2024-01-02 → 2024-01-08"]
    assert http.urls.calls == [year_file(2024)]  # no listing asked for


def test_fetch_asks_the_provider_for_the_index_by_its_own_code(http: Http, tmp_path: Path) -> None:
    http.get(YAHOO_CHART + "^GSPC", fixture("yahoo_chart_gspc_20240102_20240105.json"))
    data = MarketData(tmp_path)

    (saved,) = fetch_symbols(
        data, ["SPX"], provider="fdr", start=dt.date(2024, 1, 2), end=dt.date(2024, 1, 5),
        adjusted=True, market=None, echo=lambda line: None,
    )  # fmt: skip

    assert (saved.code, saved.kind, saved.market, saved.currency) == (
        "SPX", SymbolKind.INDEX, Market.NYSE, "USD",
    )  # fmt: skip
    assert saved.timezone == "America/New_York"
    assert saved.bar_count == 4
    assert len(http.calls(YAHOO_CHART + "%5EGSPC")) == 1  # fdr's US500 is Yahoo's ^GSPC


def test_fetch_from_a_provider_without_the_index_names_those_with_it(tmp_path: Path) -> None:
    with pytest.raises(ProviderError, match="pykrx has no SPX index: use fdr, yfinance"):
        fetch_symbols(
            MarketData(tmp_path), ["^GSPC"], provider="pykrx", start=None, end=None,
            adjusted=False, market=None, echo=lambda line: None,
        )  # fmt: skip
