"""run_portfolio and align_bars: inputs, errors, the result document, progress and cancel."""

from __future__ import annotations

import json
import threading

import numpy as np
import pandas as pd
import pytest

import privatetrade as pt
from builders import daily_times
from portfolio_builders import book
from privatetrade.data.sample import load_sample_bars
from privatetrade.engine.costs import CostModel
from privatetrade.engine.portfolio import align
from privatetrade.engine.portfolio.align import align_bars
from privatetrade.engine.settings import SimulationSettings, Stops
from privatetrade.errors import CancelledError, ConfigurationError, DataError, ParameterError

DATES = ["2024-01-29", "2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02", "2024-02-05"]


def walk(n: int, seed: int, start: float = 100.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = start * np.exp(np.cumsum(rng.normal(0.0, 0.02, n)))
    open_ = close * np.exp(rng.normal(0.0, 0.005, n))
    return {
        "time": daily_times(n),
        "open": open_,
        "high": np.maximum(open_, close) * 1.01,
        "low": np.minimum(open_, close) * 0.99,
        "close": close,
        "volume": np.ones(n),
    }


@pytest.fixture(scope="module")
def three() -> dict[str, dict[str, np.ndarray]]:
    return {code: walk(120, seed) for seed, code in enumerate(("AAA", "BBB", "CCC"))}


# --------------------------------------------------------------------------- align


def test_align_bars_puts_symbols_on_the_union_of_their_times() -> None:
    bars = book(DATES[:4], {"A": {"close": [1, None, 3, 4]}, "B": {"close": [None, 2, 3, None]}})
    aligned = align_bars(bars, tz="Asia/Seoul")
    assert aligned.symbols == ("A", "B")
    assert len(aligned) == 4
    assert aligned.present.tolist() == [[True, False], [False, True], [True, True], [True, False]]
    assert np.isnan(aligned.close[1, 0])
    assert aligned.close[1, 1] == 2.0
    assert aligned.first_bar.tolist() == [0, 1]
    assert aligned.last_bar.tolist() == [3, 2]
    assert aligned.symbol_bars(1).bars.close.tolist() == [2.0, 3.0]
    tail = aligned.tail(2)
    assert tail.first_bar.tolist() == [0, 0]
    assert tail.last_bar.tolist() == [1, 0]


def test_align_bars_names_the_symbol_with_bad_bars() -> None:
    bars = book(DATES[:3], {"A": {"close": [1, 2, 3]}, "B": {"close": [1, 2, 3]}})
    bars["B"]["high"][1] = 0.5
    with pytest.raises(DataError, match=r"^B: bad bar at row 1 .*high is below") as caught:
        align_bars(bars, tz="Asia/Seoul")
    assert caught.value.row == 1


def test_align_bars_refuses_mixed_zones_empty_and_oversized_inputs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seoul = load_sample_bars("IBM").tz_convert("Asia/Seoul")
    with pytest.raises(DataError, match="MSFT: bars in time zone America/New_York"):
        align_bars({"IBM": seoul, "MSFT": load_sample_bars("MSFT")})
    with pytest.raises(DataError, match="at least one symbol"):
        align_bars({})
    too_many = {f"S{i}": {} for i in range(2_001)}
    with pytest.raises(DataError, match="2,001 symbols; a portfolio holds at most 2,000"):
        align_bars(too_many, tz="UTC")
    monkeypatch.setattr(align, "MAX_PORTFOLIO_CELLS", 5)
    bars = book(DATES[:3], {"A": {"close": [1, 2, 3]}, "B": {"close": [1, 2, 3]}})
    with pytest.raises(DataError, match="2 symbols x 3 bars is 6 cells; the limit is 5"):
        align_bars(bars, tz="UTC")


# ----------------------------------------------------------------- settings errors


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"settings": SimulationSettings(allow_short=True)}, "allow_short"),
        ({"settings": SimulationSettings(stops=Stops(stop_loss=0.05))}, "stops"),
        ({"rule": {"rule": "top_n_momentum"}}, "rule.top"),
        ({"rule": {"rule": "equal_weight", "top": 3}}, "rule.top"),
        ({"rule": {"rule": "fixed_weights", "weights": {"ZZZ": 0.5}}}, "rule.weights"),
        ({"costs": {"AAA": CostModel.zero()}}, "costs"),
        ({"rule": {"rule": "signals", "strategy": "sma_cross", "allow": 1}}, "rule.allow"),
    ],
)
def test_bad_settings_name_their_field(
    three: dict[str, dict[str, np.ndarray]], kwargs: dict[str, object], field: str
) -> None:
    rule = kwargs.pop("rule", {"rule": "equal_weight"})
    with pytest.raises(ConfigurationError) as caught:
        pt.run_portfolio(three, rule, tz="UTC", **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert str(caught.value).startswith(field)


def test_bad_start_and_unknown_strategy_parameters(three: dict[str, dict[str, np.ndarray]]) -> None:
    with pytest.raises(ParameterError) as caught:
        pt.run_portfolio(three, {"rule": "equal_weight"}, tz="UTC", start=120)
    assert caught.value.field == "start"
    rule = {"rule": "signals", "strategy": "sma_cross", "params": {"fast": 50, "slow": 10}}
    with pytest.raises(ParameterError) as caught:
        pt.run_portfolio(three, rule, tz="UTC")
    assert caught.value.field == "fast"


# ------------------------------------------------------------------ the document


def test_same_inputs_give_byte_identical_documents(three: dict[str, dict[str, np.ndarray]]) -> None:
    rule = {"rule": "top_n_momentum", "top": 2, "lookback": 20, "rebalance": "weekly"}
    first = pt.run_portfolio(three, rule, tz="UTC", costs="krx").to_json()
    second = pt.run_portfolio(three, rule, tz="UTC", costs="krx").to_json()
    assert first == second
    document = json.loads(first)
    assert list(document) == [
        "schema_version", "kind", "engine_version", "app_version", "spec", "data", "metrics",
        "equity", "holdings", "contribution", "trades", "fills", "rebalances", "benchmark",
        "monthly_returns", "yearly_returns", "warnings",
    ]  # fmt: skip
    assert (document["schema_version"], document["kind"]) == ("1.1", "portfolio")
    assert document["spec"]["symbols"] == ["AAA", "BBB", "CCC"]
    assert document["spec"]["rule"]["top"] == 2
    assert [row["symbol"] for row in document["data"]["symbols"]] == ["AAA", "BBB", "CCC"]
    assert document["data"]["bars"] == 120
    assert list(document["equity"]) == [
        "time",
        "equity",
        "cash",
        "invested",
        "exposure",
        "drawdown",
    ]
    weights = document["holdings"]["weights"]
    assert len(weights) == 120
    assert {len(row) for row in weights} == {3}


def test_document_numbers_add_up(three: dict[str, dict[str, np.ndarray]]) -> None:
    result = pt.run_portfolio(
        three, {"rule": "equal_weight", "rebalance": "weekly"}, tz="UTC", costs="krx"
    )
    document = result.to_dict()
    equity = np.array(document["equity"]["equity"])
    parts = np.array(document["equity"]["cash"]) + np.array(document["equity"]["invested"])
    assert np.allclose(parts, equity, rtol=1e-12)
    initial = result.settings.initial_cash
    pnl = sum(row["pnl"] for row in document["contribution"])
    assert pnl == pytest.approx(result.final_equity - initial, rel=1e-9)
    assert sum(row["trades"] for row in document["contribution"]) == len(document["trades"])
    weights = np.array(document["holdings"]["weights"])
    exposure = np.array(document["equity"]["exposure"])
    assert np.allclose(weights.sum(axis=1), exposure, atol=3 * 5e-7)
    assert document["metrics"]["exposure"] == pytest.approx(exposure.mean())
    assert document["metrics"]["n_symbols_held"] == 3
    # Rebalances: the first eligible bar is a signal bar; orders fill at the next open.
    rebalances = document["rebalances"]
    times = document["equity"]["time"]
    assert rebalances[0]["signal_time"] == times[0]
    assert rebalances[0]["fill_time"] == times[1]
    assert rebalances[0]["weights"] == pytest.approx({"AAA": 1 / 3, "BBB": 1 / 3, "CCC": 1 / 3})
    # Turnover: traded value / 2 / mean equity / years.
    traded = sum(f["quantity"] * f["price"] for f in document["fills"])
    days = (pd.Timestamp(times[-1]) - pd.Timestamp(times[0])).days
    expected = traded / 2 / equity.mean() / (days / 365.25)
    assert document["metrics"]["turnover"] == pytest.approx(expected, rel=1e-12)


def test_csv_exports(three: dict[str, dict[str, np.ndarray]]) -> None:
    result = pt.run_portfolio(three, {"rule": "equal_weight"}, tz="UTC")
    assert result.equity_csv().splitlines()[0] == "time,equity,cash,invested,exposure,drawdown"
    holdings = result.holdings_csv().splitlines()
    assert holdings[0] == "time,AAA,BBB,CCC"
    assert len(holdings) == 121
    assert result.trades_csv().splitlines()[0].startswith("symbol,entry_time,exit_time,direction")
    fills = result.fills_csv().splitlines()
    assert fills[0] == "symbol,time,side,quantity,price,commission,tax,slippage,reason"
    assert len(fills) == len(result.output.fills) + 1
    contribution = result.contribution_csv().splitlines()
    assert contribution[0] == "symbol,pnl,return_contribution,trades,win_rate,turnover,max_weight"
    assert [line.split(",")[0] for line in contribution[1:]] == ["AAA", "BBB", "CCC"]


def test_per_symbol_costs_use_each_market_tick_table() -> None:
    # 2022: KOSPI ticks 500 won between 100,000 and 500,000, KOSDAQ 100 won.
    dates = ["2022-03-02", "2022-03-03", "2022-03-04"]
    prices = {"close": [150_000, 150_000, 150_000], "high": [151_000] * 3}
    bars = book(dates, {"KP": prices, "KQ": prices})
    costs = {
        "KP": CostModel.krx("KOSPI", slippage=10.0),
        "KQ": CostModel.krx("KOSDAQ", slippage=10.0),
    }
    result = pt.run_portfolio(
        bars, {"rule": "equal_weight"}, costs=costs, tz="Asia/Seoul", cash=10_000_000.0
    )
    buys = result.output.fills[result.output.fills["side"] == 1]
    # 150,000 * 1.001 = 150,150: up to 150,500 on KOSPI's grid, 150,200 on KOSDAQ's.
    assert buys["price"].tolist() == [150_500.0, 150_200.0]
    spec = result.to_dict()["spec"]["settings"]["costs"]
    assert spec["KP"]["market"] == "KOSPI"
    assert spec["KQ"]["market"] == "KOSDAQ"


def test_close_fills_trade_at_the_signal_bars_close(
    three: dict[str, dict[str, np.ndarray]],
) -> None:
    result = pt.run_portfolio(three, {"rule": "equal_weight"}, tz="UTC", fill_at="close")
    first = result.output.fills[0]
    assert first["bar"] == 0
    assert first["price"] == three["AAA"]["close"][0]
    assert result.rebalances.fill_bars[0] == result.rebalances.signal_bars[0] == 0


def test_start_keeps_history_for_the_ranking_and_trades_from_start(
    three: dict[str, dict[str, np.ndarray]],
) -> None:
    rule = {"rule": "top_n_momentum", "top": 1, "lookback": 30}
    result = pt.run_portfolio(three, rule, tz="UTC", start=40)
    assert len(result.aligned) == 80
    assert result.output.equity.shape == (80,)
    assert result.output.fills["bar"].min() == 1  # signal at start (bar 40), fill at 41
    assert result.rebalances.signal_bars[0] == 0
    # Without history the ranking waits for 30 bars of it.
    unwarmed = pt.run_portfolio(three, rule, tz="UTC")
    assert unwarmed.rebalances.signal_bars[0] == 30


def test_warnings_name_never_held_and_delisted_symbols() -> None:
    bars = book(
        DATES,
        {
            "A": {"close": [10, 10, 10, 10, 10, 10]},
            "B": {"close": [10, 10, 10, None, None, None]},
            "C": {"close": [10, 11, 12, 13, 14, 15]},
        },
    )
    rule = {"rule": "fixed_weights", "weights": {"A": 0.5, "B": 0.5}, "rebalance": "daily"}
    held = pt.run_portfolio(bars, {**rule, "delisted": "hold"}, tz="Asia/Seoul")
    assert "1 of 3 symbols were never held: C" in held.warnings
    assert any("delisted: hold): B (last bar 2024-01-31)" in w for w in held.warnings)
    assert held.output.position[-1, 1] > 0.0
    sold = pt.run_portfolio(bars, rule, tz="Asia/Seoul")
    assert any(
        "sold at the close of their last bar" in w and "B (2024-01-31)" in w for w in sold.warnings
    )
    assert sold.output.position[-1, 1] == 0.0
    short = pt.run_portfolio(bars, {"rule": "top_n_momentum", "top": 1, "lookback": 10}, tz="UTC")
    assert short.warnings[0].startswith("only 6 bars but the rule's lookback needs 10 bars")


def test_benchmark_is_scaled_to_the_initial_cash(three: dict[str, dict[str, np.ndarray]]) -> None:
    bench = three["AAA"]["close"] * 2.0
    result = pt.run_portfolio(
        three, {"rule": "equal_weight"}, tz="UTC", benchmark=bench, benchmark_name="AAAx2"
    )
    document = result.to_dict()
    assert document["spec"]["benchmark"] == "AAAx2"
    assert document["benchmark"][0] == pytest.approx(result.settings.initial_cash)
    assert document["metrics"]["benchmark_bars"] == 120


# ------------------------------------------------------------ progress and cancel


def test_progress_reaches_one_and_cancel_stops_the_run(
    three: dict[str, dict[str, np.ndarray]],
) -> None:
    seen: list[float] = []
    pt.run_portfolio(three, {"rule": "equal_weight"}, tz="UTC", progress=seen.append, window=25)
    assert seen == [25 / 120, 50 / 120, 75 / 120, 100 / 120, 1.0]
    cancel = threading.Event()
    cancel.set()
    rule = {"rule": "signals", "strategy": "sma_cross", "params": {"fast": 3, "slow": 8}}
    with pytest.raises(CancelledError, match="cancelled after 25 of 120 bars"):
        pt.run_portfolio(three, rule, tz="UTC", cancel=cancel, window=25)
    with pytest.raises(CancelledError):
        pt.run_portfolio(three, {"rule": "equal_weight"}, tz="UTC", cancel=cancel, window=25)


def test_library_exports() -> None:
    assert pt.run_portfolio.__module__ == "privatetrade.engine.portfolio.api"
    assert pt.PortfolioRule(rule="equal_weight").rule == "equal_weight"
    assert pt.PortfolioResult.__name__ == "PortfolioResult"


def test_holdings_list_only_the_symbols_ever_held(
    three: dict[str, dict[str, np.ndarray]],
) -> None:
    result = pt.run_portfolio(
        three, {"rule": "fixed_weights", "weights": {"BBB": 0.5}}, tz="UTC", costs="krx"
    )
    holdings = result.to_dict()["holdings"]
    assert holdings["symbols"] == ["BBB"]
    assert max(row[0] for row in holdings["weights"]) > 0.4
    assert result.holdings_csv().splitlines()[0] == "time,BBB"
