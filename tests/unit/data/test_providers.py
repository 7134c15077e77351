"""Providers on recorded-format HTTP answers, through the libraries' own parsing code.

The answers under ``tests/fixtures/providers`` were constructed to the wire formats that
FinanceDataReader, pykrx and yfinance parse (see the README there). Only the transport
is replaced: ``requests`` by ``responses``, urllib (``pandas.read_csv``) by a fixture
opener. Anything unregistered fails the test, and sockets refuse to connect.
"""

from __future__ import annotations

import datetime as dt
import email.message
import io
import json
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import urllib.response
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests
import responses
from responses import matchers

from privatetrade.data.providers import krx
from privatetrade.data.providers.base import (
    Provider,
    available_providers,
    provider_for,
    with_retries,
)
from privatetrade.data.providers.fdr import FinanceDataReaderProvider
from privatetrade.data.providers.krx import PykrxProvider
from privatetrade.data.providers.yahoo import YahooProvider, yahoo_symbol
from privatetrade.data.store import PriceKind
from privatetrade.data.symbols import Market
from privatetrade.errors import InputError, ProviderError

# FinanceDataReader's own pandas calls warn under pandas 3; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword")

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "providers"
COLUMNS = ["open", "high", "low", "close", "volume"]

NAVER_FCHART = "https://fchart.stock.naver.com/sise.nhn"  # FinanceDataReader
NAVER_FCHART_PYKRX = "http://fchart.stock.naver.com/sise.nhn"  # pykrx
KRX_JSON = "https://data.krx.co.kr/comm/bldAttendant/getJsonData.cmd"  # pykrx 1.2.9
KRX_LOGIN_PAGE = "https://data.krx.co.kr/contents/MDC/COMS/client/MDCCOMS001.cmd"
KRX_LOGIN_JSP = "https://data.krx.co.kr/contents/MDC/COMS/client/view/login.jsp?site=mdc"
KRX_LOGIN = "https://data.krx.co.kr/contents/MDC/COMS/client/MDCCOMS001D1.cmd"
KRX_USER, KRX_SECRET = "dummy-user", "dummy-secret"  # set by the krx_login fixture
KRX_BUNDLE = "http://data.krx.co.kr/comm/bldAttendant/executeForResourceBundle.cmd"
FDR_CACHE = "https://raw.githubusercontent.com/FinanceData/fdr_krx_data_cache/refs/heads/master"
NAVER_WORLD = "http://api.stock.naver.com/stock/exchange/NASDAQ/marketValue"
YAHOO_CHART = "https://query2.finance.yahoo.com/v8/finance/chart/"
XML = "text/xml;charset=EUC-KR"
HTML = "text/html;charset=UTF-8"
JSON = "application/json;charset=UTF-8"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    return json.loads(fixture(name))


# --- the fake transports -------------------------------------------------------------


class UrllibFixtures(urllib.request.BaseHandler):
    """urllib handler answering registered URLs; any other URL raises and is remembered."""

    handler_order = 100  # before the real HTTP(S) handlers

    def __init__(self) -> None:
        self.routes: dict[str, list[tuple[int, bytes]]] = {}
        self.calls: list[str] = []
        self.unmatched: list[str] = []

    def add(self, url: str, body: bytes, status: int = 200) -> None:
        self.routes.setdefault(url, []).append((status, body))

    def _open(self, request: urllib.request.Request) -> Any:
        url = request.full_url
        self.calls.append(url)
        queue = self.routes.get(url)
        if not queue:
            self.unmatched.append(url)
            raise urllib.error.URLError(f"unregistered URL in a test: {url}")
        status, body = queue.pop(0) if len(queue) > 1 else queue[0]
        if status >= 400:
            raise urllib.error.HTTPError(
                url, status, "error", email.message.Message(), io.BytesIO(body)
            )
        answer = urllib.response.addinfourl(io.BytesIO(body), email.message.Message(), url, status)
        answer.msg = "OK"
        return answer

    http_open = https_open = _open


class Http:
    """Registers answers for requests (``responses``) and urllib."""

    def __init__(self, mock: responses.RequestsMock, urls: UrllibFixtures) -> None:
        self.mock = mock
        self.urls = urls

    def get(self, url: str, body: bytes | str | Exception, *, status: int = 200, **kw: Any) -> None:
        kw.setdefault("content_type", JSON)
        self.mock.add(responses.GET, url, body=body, status=status, **kw)

    def krx(
        self,
        bld: str,
        body: bytes | str,
        *,
        status: int = 200,
        content_type: str = JSON,
        **form: str,
    ) -> None:
        match = [matchers.urlencoded_params_matcher({"bld": bld, **form}, strict_match=False)]
        self.mock.add(
            responses.POST,
            KRX_JSON,
            body=body,
            status=status,
            match=match,
            content_type=content_type,
        )

    def calls(self, url: str, bld: str | None = None) -> list[Any]:
        found = [call for call in self.mock.calls if call.request.url.split("?")[0] == url]
        if bld is not None:
            found = [call for call in found if _form(call).get("bld") == bld]
        return found


def _form(call: Any) -> dict[str, str]:
    body = call.request.body or ""
    text = body.decode() if isinstance(body, bytes) else body
    return dict(urllib.parse.parse_qsl(text))


def _refused(call: Any) -> bool:
    return isinstance(call.response, requests.ConnectionError) and "Responses" in str(call.response)


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access in a unit test")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def http() -> Iterator[Http]:
    urls = UrllibFixtures()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        urllib.request.install_opener(urllib.request.build_opener(urls))
        try:
            yield Http(mock, urls)
        finally:
            urllib.request.install_opener(None)  # type: ignore[arg-type]
        unmatched = [call.request.url for call in mock.calls if _refused(call)]
    assert not unmatched + urls.unmatched, f"unregistered requests: {unmatched + urls.unmatched}"


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def fresh_pykrx() -> Iterator[None]:
    """Forget pykrx's process-wide finder lists and login session between tests."""
    krx._stock()  # imports pykrx without its import-time login
    from pykrx.website.comm import auth
    from pykrx.website.krx.market.ticker import StockTicker

    StockTicker._instance = None
    auth.set_auth_session(None)
    yield
    StockTicker._instance = None
    auth.set_auth_session(None)


@pytest.fixture
def krx_login(http: Http, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy KRX_ID/KRX_PW and data.krx.co.kr's answers to pykrx's ``login_krx``."""
    monkeypatch.setenv("KRX_ID", KRX_USER)
    monkeypatch.setenv("KRX_PW", KRX_SECRET)
    register_krx_login(http, fixture("krx_login_ok.json"))


def register_krx_login(http: Http, *answers: bytes) -> None:
    cookie = {"Set-Cookie": "JSESSIONID=test-session; Path=/; Secure; HttpOnly"}
    http.get(KRX_LOGIN_PAGE, fixture("krx_login_page.html"), content_type=HTML, headers=cookie)
    http.get(KRX_LOGIN_JSP, fixture("krx_login_jsp.html"), content_type=HTML)
    for answer in answers:
        http.mock.add(responses.POST, KRX_LOGIN, body=answer, content_type=JSON)


@pytest.fixture
def fresh_yfinance(tmp_path: Path) -> Iterator[None]:
    """Give yfinance a scratch cache folder, a new session singleton and an empty memo."""
    import yfinance as yf
    from yfinance.data import YfData

    yf.set_tz_cache_location(str(tmp_path / "yfinance"))
    YfData._instances.pop(YfData, None)
    YfData.cache_get.cache_clear()
    yield
    YfData._instances.pop(YfData, None)
    YfData.cache_get.cache_clear()


def bar(frame: pd.DataFrame, day: str) -> list[float]:
    return frame.loc[pd.Timestamp(day, tz=frame.index.tz), COLUMNS].tolist()


def assert_bars_shape(frame: pd.DataFrame, tz: str, days: list[str]) -> None:
    assert list(frame.columns) == COLUMNS
    assert frame.index.name == "time"
    assert str(frame.index.tz) == tz
    assert frame.index.is_monotonic_increasing
    assert [stamp.date().isoformat() for stamp in frame.index] == days
    assert all(stamp.hour == 0 and stamp.minute == 0 for stamp in frame.index)


# --- the shared pieces ---------------------------------------------------------------


def test_with_retries_backs_off_exponentially_then_succeeds(sleeps: list[float]) -> None:
    outcomes: list[object] = [ProviderError("busy", transient=True)] * 2 + ["done"]

    def call() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return str(outcome)

    assert with_retries(call, sleep=sleeps.append) == "done"
    assert sleeps == [0.5, 1.0]


def test_with_retries_raises_permanent_errors_at_once(sleeps: list[float]) -> None:
    calls = []

    def call() -> None:
        calls.append(1)
        raise ProviderError("unknown symbol")

    with pytest.raises(ProviderError, match="unknown symbol"):
        with_retries(call, sleep=sleeps.append)
    assert (len(calls), sleeps) == (1, [])


def test_with_retries_converts_library_timeouts_and_gives_up(sleeps: list[float]) -> None:
    calls = []

    def call() -> None:
        calls.append(1)
        raise requests.ReadTimeout("read timed out")

    with pytest.raises(ProviderError, match="gave up after 3 attempts") as caught:
        with_retries(call, attempts=3, base_delay=0.25, sleep=sleeps.append)
    assert caught.value.transient
    assert isinstance(caught.value.__cause__, requests.ReadTimeout)
    assert (len(calls), sleeps) == (3, [0.25, 0.5])


def test_with_retries_leaves_other_exceptions_alone(sleeps: list[float]) -> None:
    def call() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        with_retries(call, sleep=sleeps.append)
    assert sleeps == []


def test_registry_names_installed_providers() -> None:
    assert available_providers() == ["fdr", "pykrx", "yfinance"]
    for name, alias in [("fdr", "FinanceDataReader"), ("pykrx", "krx"), ("yfinance", "yahoo")]:
        provider = provider_for(alias)
        assert isinstance(provider, Provider)
        assert provider.name == name
    with pytest.raises(InputError, match="choose one of fdr, pykrx, yfinance"):
        provider_for("bloomberg")


def test_a_missing_extra_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "FinanceDataReader", None)
    assert "fdr" not in available_providers()
    with pytest.raises(ProviderError, match=r"install privatetrade\[fdr\]"):
        provider_for("fdr")
    with pytest.raises(ProviderError, match=r"install privatetrade\[fdr\]"):
        FinanceDataReaderProvider().daily_bars("005930", None, None, adjusted=True)


def test_provider_modules_import_their_library_lazily() -> None:
    code = (
        "import sys\n"
        "import privatetrade.data.providers.base, privatetrade.data.providers.fdr\n"
        "import privatetrade.data.providers.krx, privatetrade.data.providers.yahoo\n"
        "print(sorted(set(sys.modules) & {'FinanceDataReader', 'pykrx', 'yfinance'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# --- FinanceDataReader ---------------------------------------------------------------


def fdr(sleeps: list[float]) -> FinanceDataReaderProvider:
    return FinanceDataReaderProvider(sleep=sleeps.append)


def register_fdr_listing(http: Http, csv: bytes | None = None, status: int = 200) -> None:
    http.get(KRX_BUNDLE, fixture("krx_resource_bundle_b128.json"))
    csv = fixture("fdr_krx_listing_2024-01-05.csv") if csv is None else csv
    http.urls.add(f"{FDR_CACHE}/data/listing/krx/2024-01-05.csv", csv, status)


def register_naver(http: Http, body: bytes, *, url: str = NAVER_FCHART, status: int = 200) -> None:
    query = {"symbol": "005930", "timeframe": "day", "requestType": "0"}
    match = [matchers.query_param_matcher(query, strict_match=False)]
    http.get(url, body, status=status, content_type=XML, match=match)


def test_fdr_lists_krx_with_korean_names(http: Http, sleeps: list[float]) -> None:
    register_fdr_listing(http)

    symbols = fdr(sleeps).listing()

    assert [(s.code, s.name, s.market) for s in symbols] == [
        ("005930", "삼성전자", Market.KOSPI),
        ("000660", "SK하이닉스", Market.KOSPI),
        ("005935", "삼성전자우", Market.KOSPI),
        ("247540", "에코프로비엠", Market.KOSDAQ),
        ("086520", "에코프로", Market.KOSDAQ),
    ]
    assert {(s.currency, s.tick_table, s.source, s.lot_size) for s in symbols} == {
        ("KRW", "krx", "fdr", 1)
    }
    assert len(http.calls(KRX_BUNDLE)) == 2  # FinanceDataReader asks twice
    assert http.urls.calls == [f"{FDR_CACHE}/data/listing/krx/2024-01-05.csv"]


def test_fdr_lists_one_krx_market(http: Http, sleeps: list[float]) -> None:
    register_fdr_listing(http)
    assert [s.code for s in fdr(sleeps).listing(Market.KOSDAQ)] == ["247540", "086520"]


def test_fdr_lists_a_us_market_in_english(http: Http, sleeps: list[float]) -> None:
    http.get(f"{NAVER_WORLD}?page=1&pageSize=60", fixture("naver_marketvalue_nasdaq_page1.json"))
    http.get(f"{NAVER_WORLD}?page=2&pageSize=60", fixture("naver_marketvalue_nasdaq_page2.json"))

    symbols = fdr(sleeps).listing(Market.NASDAQ)

    assert [(s.code, s.name, s.name_en) for s in symbols] == [
        ("AAPL", "Apple Inc", "Apple Inc"),
        ("MSFT", "Microsoft Corp", "Microsoft Corp"),
        ("NVDA", "NVIDIA Corp", "NVIDIA Corp"),
    ]
    assert {(s.market, s.currency, s.tick_table) for s in symbols} == {(Market.NASDAQ, "USD", "us")}


def test_fdr_reads_adjusted_krx_bars_from_naver(http: Http, sleeps: list[float]) -> None:
    register_naver(http, fixture("naver_fchart_005930_day.xml"))

    bars = fdr(sleeps).daily_bars("005930", dt.date(2024, 1, 2), dt.date(2024, 1, 8), adjusted=True)

    days = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"]
    assert_bars_shape(bars, "Asia/Seoul", days)
    assert bar(bars, "2024-01-02") == [78200, 79800, 78200, 79600, 17142847]
    assert bar(bars, "2024-01-08") == [77000, 77500, 76400, 76500, 11088724]
    assert sleeps == []
    # observed: the library got a timeout it does not set itself, and its module is restored
    assert http.calls(NAVER_FCHART)[0].request.req_kwargs["timeout"] == 30.0
    assert sys.modules["FinanceDataReader.naver.data"].requests is requests


def test_fdr_refuses_raw_krx_prices_without_asking(http: Http, sleeps: list[float]) -> None:
    with pytest.raises(ProviderError, match="pykrx provider for raw prices"):
        fdr(sleeps).daily_bars("005930", None, None, adjusted=False)
    assert len(http.mock.calls) == 0


def test_fdr_reads_us_bars_from_yahoo(http: Http, sleeps: list[float]) -> None:
    http.get(YAHOO_CHART + "AAPL", fixture("yahoo_chart_aapl_20240102_20240105.json"))
    provider = fdr(sleeps)
    start, end = dt.date(2024, 1, 2), dt.date(2024, 1, 5)

    raw = provider.daily_bars("AAPL", start, end, adjusted=False)
    adjusted = provider.daily_bars("aapl", start, end, adjusted=True)

    days = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
    assert_bars_shape(raw, "America/New_York", days)
    assert bar(raw, "2024-01-02") == pytest.approx([187.15, 188.44, 183.89, 185.64, 82488700])
    ratio = 184.53 / 185.64
    expected = [187.15 * ratio, 188.44 * ratio, 183.89 * ratio, 184.53, 82488700]
    assert bar(adjusted, "2024-01-02") == pytest.approx(expected, rel=1e-6)
    query = http.calls(YAHOO_CHART + "AAPL")[0].request.params
    assert (query["interval"], query["includeAdjustedClose"]) == ("1d", "true")


def test_fdr_empty_answer_is_an_error(http: Http, sleeps: list[float]) -> None:
    register_naver(http, fixture("naver_fchart_empty.xml"))
    with pytest.raises(
        ProviderError, match="fdr returned nothing for daily bars of 005930"
    ) as caught:
        fdr(sleeps).daily_bars("005930", None, None, adjusted=True)
    assert not caught.value.transient
    assert sleeps == []


def test_fdr_html_instead_of_the_chart_feed_is_an_error(http: Http, sleeps: list[float]) -> None:
    http.get(NAVER_FCHART, fixture("naver_error.html"), content_type=HTML)
    with pytest.raises(ProviderError, match="returned nothing"):
        fdr(sleeps).daily_bars("005930", None, None, adjusted=True)


def test_fdr_listing_without_a_column_is_malformed(http: Http, sleeps: list[float]) -> None:
    csv = fixture("fdr_krx_listing_2024-01-05.csv").decode()
    lines = [line.rsplit(",", 1)[0] for line in csv.splitlines()]  # drop MarketId
    register_fdr_listing(http, "\n".join(lines).encode())
    with pytest.raises(
        ProviderError, match="malformed answer for the KRX listing: no column MarketId"
    ):
        fdr(sleeps).listing()


def test_fdr_json_error_object_is_an_error(http: Http, sleeps: list[float]) -> None:
    http.get(KRX_BUNDLE, json.dumps({"error": "invalid request"}))
    with pytest.raises(ProviderError, match="could not read the answer for the KRX listing"):
        fdr(sleeps).listing()
    assert sleeps == []


def test_fdr_retries_after_http_500(http: Http, sleeps: list[float]) -> None:
    register_naver(http, fixture("naver_error.html"), status=500)
    register_naver(http, fixture("naver_fchart_005930_day.xml"))

    bars = fdr(sleeps).daily_bars("005930", dt.date(2024, 1, 2), None, adjusted=True)

    assert bar(bars, "2024-01-02") == [78200, 79800, 78200, 79600, 17142847]
    assert len(http.calls(NAVER_FCHART)) == 2
    assert sleeps == [0.5]


def test_fdr_retries_after_a_dropped_connection(http: Http, sleeps: list[float]) -> None:
    http.get(NAVER_FCHART, requests.ConnectionError("connection reset by peer"))
    register_naver(http, fixture("naver_fchart_005930_day.xml"))

    bars = fdr(sleeps).daily_bars("005930", dt.date(2024, 1, 8), None, adjusted=True)

    assert bar(bars, "2024-01-08") == [77000, 77500, 76400, 76500, 11088724]
    assert sleeps == [0.5]


def test_fdr_gives_up_on_a_lasting_outage(http: Http, sleeps: list[float]) -> None:
    register_naver(http, fixture("naver_error.html"), status=503)
    with pytest.raises(ProviderError, match=r"HTTP 503.*gave up after 3 attempts") as caught:
        fdr(sleeps).daily_bars("005930", None, None, adjusted=True)
    assert caught.value.transient
    assert len(http.calls(NAVER_FCHART)) == 3
    assert sleeps == [0.5, 1.0]


def test_fdr_missing_listing_file_is_permanent(http: Http, sleeps: list[float]) -> None:
    register_fdr_listing(http, b"404: Not Found", status=404)
    with pytest.raises(ProviderError, match="HTTP 404") as caught:
        fdr(sleeps).listing()
    assert not caught.value.transient
    assert (len(http.urls.calls), sleeps) == (1, [])


def test_fdr_unknown_us_ticker_is_permanent(http: Http, sleeps: list[float]) -> None:
    http.get(YAHOO_CHART + "NOSUCH", fixture("yahoo_chart_not_found.json"), status=404)
    with pytest.raises(ProviderError, match="HTTP 404") as caught:
        fdr(sleeps).daily_bars("NOSUCH", None, None, adjusted=True)
    assert not caught.value.transient
    assert (len(http.calls(YAHOO_CHART + "NOSUCH")), sleeps) == (1, [])


def test_fdr_bad_bar_is_named(http: Http, sleeps: list[float]) -> None:
    feed = fixture("naver_fchart_005930_day.xml").replace(
        b"20240104|76100|77300|76100|76600", b"20240104|76100|76000|76100|76600"
    )
    register_naver(http, feed)
    with pytest.raises(
        ProviderError, match=r"row 2 \(2024-01-04T00:00:00\+09:00\).*high"
    ) as caught:
        fdr(sleeps).daily_bars("005930", dt.date(2024, 1, 2), None, adjusted=True)
    assert caught.value.row == 2


# --- pykrx ---------------------------------------------------------------------------


def pykrx(sleeps: list[float]) -> PykrxProvider:
    return PykrxProvider(today=lambda: dt.date(2024, 1, 7), sleep=sleeps.append)


def register_finder(http: Http) -> None:
    http.krx("dbms/comm/finder/finder_stkisu", fixture("krx_finder_stkisu.json"))
    http.krx("dbms/comm/finder/finder_listdelisu", fixture("krx_finder_listdelisu.json"))


OHLCV = "dbms/MDC/STAT/standard/MDCSTAT01701"


@pytest.mark.usefixtures("fresh_pykrx", "krx_login")
def test_pykrx_reads_raw_krx_bars(http: Http, sleeps: list[float]) -> None:
    register_finder(http)
    http.krx(OHLCV, fixture("krx_mdcstat01701_005930_raw.json"))

    bars = pykrx(sleeps).daily_bars(
        "005930", dt.date(2024, 1, 2), dt.date(2024, 1, 8), adjusted=False
    )

    days = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"]
    assert_bars_shape(bars, "Asia/Seoul", days)
    assert bar(bars, "2024-01-03") == [78500, 78800, 77000, 77000, 21753644]
    assert bar(bars, "2024-01-05") == [76700, 77100, 76400, 76600, 11304316]
    form = _form(http.calls(KRX_JSON, OHLCV)[0])
    assert form == form | {"isuCd": "KR7005930003", "adjStkPrc": "1"}
    assert (form["strtDd"], form["endDd"]) == ("20240102", "20240108")


@pytest.mark.usefixtures("fresh_pykrx")
def test_pykrx_reads_adjusted_bars_from_naver(
    http: Http, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KRX_ID", KRX_USER)
    monkeypatch.setenv("KRX_PW", KRX_SECRET)
    register_naver(http, fixture("naver_fchart_005930_day.xml"), url=NAVER_FCHART_PYKRX)

    bars = pykrx(sleeps).daily_bars(
        "005930", dt.date(2024, 1, 4), dt.date(2024, 1, 5), adjusted=True
    )

    assert_bars_shape(bars, "Asia/Seoul", ["2024-01-04", "2024-01-05"])
    assert bar(bars, "2024-01-04") == [76100, 77300, 76100, 76600, 15324439]
    assert http.calls(KRX_LOGIN_PAGE) == []  # Naver needs no KRX login


@pytest.mark.usefixtures("fresh_pykrx")
def test_pykrx_adjusted_bars_need_no_credentials(
    http: Http, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KRX_ID", raising=False)
    monkeypatch.delenv("KRX_PW", raising=False)
    register_naver(http, fixture("naver_error.html"), url=NAVER_FCHART_PYKRX, status=500)
    register_naver(http, fixture("naver_fchart_005930_day.xml"), url=NAVER_FCHART_PYKRX)

    bars = pykrx(sleeps).daily_bars(
        "005930", dt.date(2024, 1, 4), dt.date(2024, 1, 5), adjusted=True
    )

    assert len(bars) == 2
    assert sleeps == [0.5]


@pytest.mark.usefixtures("fresh_pykrx", "krx_login")
def test_pykrx_lists_a_market_with_korean_names(http: Http, sleeps: list[float]) -> None:
    http.krx(
        "dbms/MDC/STAT/standard/MDCSTAT00301",
        fixture("krx_mdcstat00301_kospi_20231231_20240107.json"),
        strtDd="20231231",
        endDd="20240107",
    )
    http.krx(
        "dbms/MDC/STAT/standard/MDCSTAT01501",
        fixture("krx_mdcstat01501_20240105_STK.json"),
        trdDd="20240105",
        mktId="STK",
    )
    register_finder(http)

    symbols = pykrx(sleeps).listing(Market.KOSPI)

    assert [(s.code, s.name, s.market) for s in symbols] == [
        ("005930", "삼성전자", Market.KOSPI),
        ("000660", "SK하이닉스", Market.KOSPI),
        ("005935", "삼성전자우", Market.KOSPI),
    ]
    assert {(s.currency, s.source) for s in symbols} == {("KRW", "pykrx")}
    assert len(http.calls(KRX_JSON, "dbms/comm/finder/finder_stkisu")) == 1  # cached by pykrx


@pytest.mark.usefixtures("fresh_pykrx", "krx_login")
def test_pykrx_empty_listing_is_an_error(http: Http, sleeps: list[float]) -> None:
    http.krx(
        "dbms/MDC/STAT/standard/MDCSTAT00301",
        fixture("krx_mdcstat00301_kospi_20231231_20240107.json"),
    )
    http.krx("dbms/MDC/STAT/standard/MDCSTAT01501", fixture("krx_mdcstat01501_empty.json"))
    with pytest.raises(ProviderError, match="pykrx returned nothing for the KOSDAQ listing"):
        pykrx(sleeps).listing(Market.KOSDAQ)


@pytest.mark.usefixtures("fresh_pykrx", "krx_login")
def test_pykrx_empty_answer_is_an_error(http: Http, sleeps: list[float]) -> None:
    register_finder(http)
    http.krx(OHLCV, json.dumps({"output": [], "CURRENT_DATETIME": "2024.01.09 AM 08:31:12"}))
    with pytest.raises(ProviderError, match="pykrx returned nothing for daily bars of 005930"):
        pykrx(sleeps).daily_bars("005930", dt.date(2024, 1, 2), None, adjusted=False)
    assert sleeps == []


def test_pykrx_refuses_non_krx_codes_and_markets(sleeps: list[float]) -> None:
    with pytest.raises(ProviderError, match="KRX codes"):
        pykrx(sleeps).daily_bars("AAPL", None, None, adjusted=False)
    with pytest.raises(ProviderError, match="KRX markets only"):
        pykrx(sleeps).listing(Market.NASDAQ)


@pytest.mark.usefixtures("fresh_pykrx", "krx_login")
def test_pykrx_html_error_page_is_an_error(http: Http, sleeps: list[float]) -> None:
    register_finder(http)
    http.krx(OHLCV, fixture("krx_error_page.html"), content_type=HTML)
    with pytest.raises(ProviderError, match="returned nothing") as caught:
        pykrx(sleeps).daily_bars("005930", None, dt.date(2024, 1, 8), adjusted=False)
    assert not caught.value.transient


@pytest.mark.usefixtures("fresh_pykrx", "krx_login")
def test_pykrx_answer_without_a_column_is_an_error(http: Http, sleeps: list[float]) -> None:
    register_finder(http)
    answer = fixture_json("krx_mdcstat01701_005930_raw.json")
    for row in answer["output"]:
        del row["TDD_OPNPRC"]
    http.krx(OHLCV, json.dumps(answer))
    with pytest.raises(ProviderError, match="returned nothing"):
        pykrx(sleeps).daily_bars("005930", dt.date(2024, 1, 2), None, adjusted=False)


@pytest.mark.usefixtures("fresh_pykrx", "krx_login")
def test_pykrx_retries_after_http_500(http: Http, sleeps: list[float]) -> None:
    register_finder(http)
    http.krx(OHLCV, fixture("krx_error_page.html"), status=500, content_type=HTML)
    http.krx(OHLCV, fixture("krx_mdcstat01701_005930_raw.json"))

    bars = pykrx(sleeps).daily_bars("005930", dt.date(2024, 1, 2), None, adjusted=False)

    assert bar(bars, "2024-01-02") == [78200, 79800, 78200, 79600, 17142847]
    assert len(http.calls(KRX_JSON, OHLCV)) == 2
    assert sleeps == [0.5]


@pytest.mark.usefixtures("fresh_pykrx", "krx_login")
def test_pykrx_recovers_when_the_code_list_failed(http: Http, sleeps: list[float]) -> None:
    error_page = fixture("krx_error_page.html")
    http.krx("dbms/comm/finder/finder_stkisu", error_page, status=502, content_type=HTML)
    register_finder(http)

    def by_isin(request: Any) -> tuple[int, dict[str, str], bytes]:
        # Without an ISIN (pykrx lost its code list) KRX finds nothing.
        known = dict(urllib.parse.parse_qsl(request.body)).get("isuCd") == "KR7005930003"
        body = fixture("krx_mdcstat01701_005930_raw.json") if known else b'{"output": []}'
        return 200, {"Content-Type": JSON}, body

    match = [matchers.urlencoded_params_matcher({"bld": OHLCV}, strict_match=False)]
    http.mock.add_callback(responses.POST, KRX_JSON, callback=by_isin, match=match)

    bars = pykrx(sleeps).daily_bars("005930", dt.date(2024, 1, 2), None, adjusted=False)

    assert len(bars) == 5
    assert len(http.calls(KRX_JSON, "dbms/comm/finder/finder_stkisu")) == 2
    assert len(http.calls(KRX_JSON, OHLCV)) == 2
    assert sleeps == [0.5]


@pytest.mark.usefixtures("fresh_pykrx", "krx_login")
def test_pykrx_logs_in_once_with_the_environment_credentials(
    http: Http, sleeps: list[float], capsys: pytest.CaptureFixture[str]
) -> None:
    register_finder(http)
    http.krx(OHLCV, fixture("krx_mdcstat01701_005930_raw.json"))
    provider = pykrx(sleeps)

    provider.daily_bars("005930", dt.date(2024, 1, 2), None, adjusted=False)
    provider.daily_bars("005930", dt.date(2024, 1, 3), None, adjusted=False)

    logins = http.calls(KRX_LOGIN)
    assert len(logins) == 1
    assert len(http.calls(KRX_LOGIN_PAGE)) == 1
    body = str(logins[0].request.body)
    assert dict(urllib.parse.parse_qsl(body, keep_blank_values=True)) == {
        "mbrNm": "",
        "telNo": "",
        "di": "",
        "certType": "",
        "mbrId": KRX_USER,
        "pw": KRX_SECRET,
    }
    data = http.calls(KRX_JSON, OHLCV)
    assert len(data) == 2
    assert all("JSESSIONID=test-session" in call.request.headers["Cookie"] for call in data)
    out = capsys.readouterr()
    assert KRX_USER not in out.out + out.err
    assert KRX_SECRET not in out.out + out.err


@pytest.mark.usefixtures("fresh_pykrx")
def test_pykrx_retries_a_duplicate_login_with_skipdup(
    http: Http, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KRX_ID", KRX_USER)
    monkeypatch.setenv("KRX_PW", KRX_SECRET)
    register_krx_login(http, fixture("krx_login_duplicate.json"), fixture("krx_login_ok.json"))
    register_finder(http)
    http.krx(OHLCV, fixture("krx_mdcstat01701_005930_raw.json"))

    bars = pykrx(sleeps).daily_bars("005930", dt.date(2024, 1, 2), None, adjusted=False)

    assert len(bars) == 5
    assert [_form(call).get("skipDup") for call in http.calls(KRX_LOGIN)] == [None, "Y"]


@pytest.mark.usefixtures("fresh_pykrx")
def test_pykrx_without_credentials_asks_for_them_before_any_request(
    http: Http, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KRX_ID", raising=False)
    monkeypatch.delenv("KRX_PW", raising=False)
    with pytest.raises(ProviderError, match="set the environment variables KRX_ID and KRX_PW"):
        pykrx(sleeps).daily_bars("005930", None, None, adjusted=False)
    with pytest.raises(ProviderError, match="KRX_ID and KRX_PW") as caught:
        pykrx(sleeps).listing(Market.KOSPI)
    assert not caught.value.transient
    assert len(http.mock.calls) == 0
    assert sleeps == []


@pytest.mark.usefixtures("fresh_pykrx")
def test_pykrx_refused_login_is_explained_and_not_retried(
    http: Http, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KRX_ID", KRX_USER)
    monkeypatch.setenv("KRX_PW", KRX_SECRET)
    register_krx_login(http, fixture("krx_login_refused.json"))

    with pytest.raises(ProviderError, match=r"refused the login \(answer code CD002\)") as caught:
        pykrx(sleeps).daily_bars("005930", None, None, adjusted=False)

    assert not caught.value.transient
    assert KRX_USER not in str(caught.value)
    assert KRX_SECRET not in str(caught.value)
    assert len(http.calls(KRX_LOGIN)) == 1
    assert http.calls(KRX_JSON) == []
    assert sleeps == []


@pytest.mark.usefixtures("fresh_pykrx", "krx_login")
def test_pykrx_login_http_500_is_retried(http: Http, sleeps: list[float]) -> None:
    error_page = fixture("krx_error_page.html")
    http.mock.replace(responses.POST, KRX_LOGIN, body=error_page, status=500, content_type=HTML)
    http.mock.add(responses.POST, KRX_LOGIN, body=fixture("krx_login_ok.json"), content_type=JSON)
    register_finder(http)
    http.krx(OHLCV, fixture("krx_mdcstat01701_005930_raw.json"))

    bars = pykrx(sleeps).daily_bars("005930", dt.date(2024, 1, 2), None, adjusted=False)

    assert len(bars) == 5
    assert sleeps == [0.5]


@pytest.mark.usefixtures("fresh_pykrx", "krx_login")
def test_pykrx_ended_session_logs_in_again(http: Http, sleeps: list[float]) -> None:
    register_finder(http)
    http.krx(OHLCV, fixture("krx_logout.txt"), status=400, content_type="text/plain")
    http.krx(OHLCV, fixture("krx_mdcstat01701_005930_raw.json"))

    bars = pykrx(sleeps).daily_bars("005930", dt.date(2024, 1, 2), None, adjusted=False)

    assert len(bars) == 5
    assert len(http.calls(KRX_LOGIN)) == 2
    assert sleeps == [0.5]


@pytest.mark.usefixtures("fresh_pykrx", "krx_login")
def test_pykrx_lasting_logout_names_the_session(http: Http, sleeps: list[float]) -> None:
    register_finder(http)
    http.krx(OHLCV, fixture("krx_logout.txt"), status=400, content_type="text/plain")

    with pytest.raises(ProviderError, match=r"HTTP 400 \('LOGOUT'\).*ended the login session"):
        pykrx(sleeps).daily_bars("005930", dt.date(2024, 1, 2), None, adjusted=False)
    assert len(http.calls(KRX_LOGIN)) == 3
    assert sleeps == [0.5, 1.0]


@pytest.mark.usefixtures("fresh_pykrx", "krx_login")
def test_pykrx_bad_bar_is_named(http: Http, sleeps: list[float]) -> None:
    register_finder(http)
    answer = fixture_json("krx_mdcstat01701_005930_raw.json")
    answer["output"][0]["TDD_LWPRC"] = "77,100"  # 2024-01-08: low above the open
    http.krx(OHLCV, json.dumps(answer))
    with pytest.raises(ProviderError, match=r"row 4 \(2024-01-08.*low is above") as caught:
        pykrx(sleeps).daily_bars("005930", dt.date(2024, 1, 2), None, adjusted=False)
    assert caught.value.row == 4


# --- yfinance ------------------------------------------------------------------------


def yahoo(sleeps: list[float]) -> YahooProvider:
    return YahooProvider(session=requests.Session(), sleep=sleeps.append)


def register_yahoo_session(http: Http) -> None:
    http.get("https://fc.yahoo.com/", "", status=404, content_type=HTML)
    crumb = fixture("yahoo_getcrumb.txt")
    http.get("https://query1.finance.yahoo.com/v1/test/getcrumb", crumb, content_type="text/plain")
    http.get("https://guce.yahoo.com/consent", fixture("yahoo_consent.html"), content_type=HTML)


def register_chart(
    http: Http, symbol: str, body: bytes | str, status: int = 200, **kw: Any
) -> None:
    match = [matchers.query_param_matcher({"interval": "1d"}, strict_match=False)]
    http.get(YAHOO_CHART + symbol, body, status=status, match=match, **kw)


@pytest.mark.usefixtures("fresh_yfinance")
def test_yahoo_reads_us_bars_in_new_york_time(http: Http, sleeps: list[float]) -> None:
    register_yahoo_session(http)
    register_chart(http, "AAPL", fixture("yahoo_chart_aapl_20240102_20240105.json"))
    provider = yahoo(sleeps)
    start, end = dt.date(2024, 1, 2), dt.date(2024, 1, 5)

    adjusted = provider.daily_bars("AAPL", start, end, adjusted=True)
    raw = provider.daily_bars("AAPL", start, end, adjusted=False)

    days = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
    assert_bars_shape(adjusted, "America/New_York", days)
    assert bar(raw, "2024-01-05") == pytest.approx([181.99, 182.76, 180.17, 181.18, 62303300])
    ratio = 180.10 / 181.18
    expected = [181.99 * ratio, 182.76 * ratio, 180.17 * ratio, 180.10, 62303300]
    assert bar(adjusted, "2024-01-05") == pytest.approx(expected, rel=1e-6)
    query = http.calls(YAHOO_CHART + "AAPL")[0].request.params
    assert query["period1"] == str(
        int(pd.Timestamp("2024-01-02", tz="America/New_York").timestamp())
    )
    assert query["period2"] == str(
        int(pd.Timestamp("2024-01-06", tz="America/New_York").timestamp())
    )
    assert sleeps == []


@pytest.mark.usefixtures("fresh_yfinance")
def test_yahoo_reads_krx_bars_in_seoul_time(http: Http, sleeps: list[float]) -> None:
    register_yahoo_session(http)
    register_chart(http, "005930.KS", fixture("yahoo_chart_005930ks_20240102_20240105.json"))

    bars = yahoo(sleeps).daily_bars(
        yahoo_symbol("005930", Market.KOSPI), dt.date(2024, 1, 2), None, adjusted=False
    )

    assert_bars_shape(bars, "Asia/Seoul", ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"])
    assert bar(bars, "2024-01-04") == [76100, 77300, 76100, 76600, 15324439]


def test_yahoo_needs_a_suffix_for_krx_codes_and_has_no_listing(sleeps: list[float]) -> None:
    with pytest.raises(ProviderError, match=r"005930\.KS \(KOSPI\) or 005930\.KQ"):
        yahoo(sleeps).daily_bars("005930", None, None, adjusted=True)
    with pytest.raises(ProviderError, match="no symbol listing"):
        yahoo(sleeps).listing()
    with pytest.raises(ProviderError, match="KONEX"):
        yahoo_symbol("123456", Market.KONEX)


@pytest.mark.usefixtures("fresh_yfinance")
def test_yahoo_empty_answer_is_an_error(http: Http, sleeps: list[float]) -> None:
    register_yahoo_session(http)
    answer = fixture_json("yahoo_chart_aapl_20240102_20240105.json")
    result = answer["chart"]["result"][0]
    del result["timestamp"]
    result["indicators"] = {"quote": [{}], "adjclose": [{}]}
    register_chart(http, "AAPL", json.dumps(answer))
    with pytest.raises(ProviderError, match="yfinance returned nothing for daily bars of AAPL"):
        yahoo(sleeps).daily_bars("AAPL", dt.date(2024, 1, 6), dt.date(2024, 1, 7), adjusted=True)
    assert sleeps == []


@pytest.mark.usefixtures("fresh_yfinance")
def test_yahoo_json_error_object_is_explained(http: Http, sleeps: list[float]) -> None:
    register_yahoo_session(http)
    error = {"code": "Bad Request", "description": "Invalid input - start date cannot be after end"}
    register_chart(http, "AAPL", json.dumps({"chart": {"result": None, "error": error}}), 400)
    with pytest.raises(ProviderError, match=r"HTTP 400.*Yahoo says: Invalid input") as caught:
        yahoo(sleeps).daily_bars("AAPL", dt.date(2024, 1, 2), dt.date(2024, 1, 5), adjusted=True)
    assert not caught.value.transient
    assert sleeps == []


@pytest.mark.usefixtures("fresh_yfinance")
def test_yahoo_retries_after_http_500(http: Http, sleeps: list[float]) -> None:
    register_yahoo_session(http)
    down = fixture("yahoo_down.html")
    register_chart(http, "AAPL", down, 500, content_type=HTML)
    register_chart(http, "AAPL", down, 500, content_type=HTML)
    register_chart(http, "AAPL", fixture("yahoo_chart_aapl_20240102_20240105.json"))

    bars = yahoo(sleeps).daily_bars(
        "AAPL", dt.date(2024, 1, 2), dt.date(2024, 1, 5), adjusted=False
    )

    assert bar(bars, "2024-01-02") == pytest.approx([187.15, 188.44, 183.89, 185.64, 82488700])
    # yfinance itself repeats a failed request once with its other cookie strategy
    assert len(http.calls(YAHOO_CHART + "AAPL")) == 3
    assert sleeps == [0.5]


@pytest.mark.usefixtures("fresh_yfinance")
def test_yahoo_unknown_symbol_is_permanent(http: Http, sleeps: list[float]) -> None:
    register_yahoo_session(http)
    register_chart(http, "NOSUCH", fixture("yahoo_chart_not_found.json"), 404)
    with pytest.raises(ProviderError, match=r"HTTP 404.*Yahoo says: No data found") as caught:
        yahoo(sleeps).daily_bars("NOSUCH", dt.date(2024, 1, 2), dt.date(2024, 1, 5), adjusted=True)
    assert not caught.value.transient
    assert len(http.calls(YAHOO_CHART + "NOSUCH")) == 2  # yfinance's own second try only
    assert sleeps == []


@pytest.mark.usefixtures("fresh_yfinance")
def test_yahoo_bad_bar_is_named(http: Http, sleeps: list[float]) -> None:
    register_yahoo_session(http)
    answer = fixture_json("yahoo_chart_aapl_20240102_20240105.json")
    answer["chart"]["result"][0]["indicators"]["quote"][0]["high"][1] = 183.0  # below the close
    register_chart(http, "AAPL", json.dumps(answer))
    with pytest.raises(ProviderError, match=r"row 1 \(2024-01-03T00:00:00-05:00\).*high") as caught:
        yahoo(sleeps).daily_bars("AAPL", dt.date(2024, 1, 2), dt.date(2024, 1, 5), adjusted=False)
    assert caught.value.row == 1


# --- fetch and update into the store ------------------------------------------------


def test_fetch_names_new_symbols_from_the_listing_and_update_adds_only_new_days(
    http: Http, tmp_path: Path
) -> None:
    from privatetrade.data.fetching import fetch_symbols, update_symbols
    from privatetrade.data.market_data import MarketData

    register_fdr_listing(http)
    register_naver(http, fixture("naver_fchart_005930_day.xml"))
    data = MarketData(tmp_path)
    lines: list[str] = []

    (saved,) = fetch_symbols(
        data, ["005930"], provider="fdr", start=dt.date(2024, 1, 2), end=dt.date(2024, 1, 4),
        adjusted=True, market=None, echo=lines.append,
    )  # fmt: skip

    assert (saved.name, saved.market, saved.source) == ("삼성전자", Market.KOSPI, "fdr")
    assert saved.adjusted == ("adjusted",)
    assert (saved.first_bar, saved.last_bar, saved.bar_count) == (
        dt.date(2024, 1, 2), dt.date(2024, 1, 4), 3,
    )  # fmt: skip
    assert lines == ["005930: 3 bars fetched; stored 2024-01-02 → 2024-01-04"]

    lines.clear()
    update_symbols(data, [], provider="fdr", echo=lines.append, today=dt.date(2024, 1, 8))

    updated = data.catalog.get("005930")
    assert (updated.last_bar, updated.bar_count) == (dt.date(2024, 1, 8), 5)
    assert lines == ["005930: +2 adjusted bars, now to 2024-01-08"]
    stored = data.store.read("005930", kind=PriceKind.ADJUSTED)
    assert bar(stored, "2024-01-08") == [77000, 77500, 76400, 76500, 11088724]

    lines.clear()
    update_symbols(data, ["005930"], provider="fdr", echo=lines.append, today=dt.date(2024, 1, 8))
    assert lines == ["005930: up to date (2024-01-08)"]
