"""Each rule indicator and condition on small bars, against plain-Python re-computations."""

from __future__ import annotations

import math
import statistics
from typing import Any

import numpy as np
import pytest

from privatetrade.engine.rules import evaluate_signals, rule_strategy_class
from privatetrade.engine.strategies.base import Bars, Pane

CLOSES = [10.0, 11.0, 10.5, 12.0, 13.5, 13.0, 12.2, 12.9, 14.1, 13.7, 13.95, 15.0]
OPENS = [9.8, 10.2, 11.1, 10.4, 12.2, 13.6, 12.9, 12.1, 13.0, 14.0, 13.5, 14.2]
HIGHS = [max(o, c) + 0.4 for o, c in zip(OPENS, CLOSES, strict=True)]
LOWS = [min(o, c) - 0.3 for o, c in zip(OPENS, CLOSES, strict=True)]
VOLUMES = [100.0, 250.0, 80.0, 300.0, 120.0, 90.0, 400.0, 110.0, 95.0, 180.0, 60.0, 500.0]
N = len(CLOSES)
NAN = math.nan
CLOSE = {"price": "close"}


def _bars() -> Bars:
    day = 86_400 * 10**9
    return Bars(
        np.arange(N, dtype=np.int64) * day,
        np.array(OPENS),
        np.array(HIGHS),
        np.array(LOWS),
        np.array(CLOSES),
        np.array(VOLUMES),
    )


def _document(series: dict[str, Any]) -> dict[str, Any]:
    entry = {"compare": ">", "left": series, "right": -1e12}
    return {"schema": "privatetrade.rules/1", "long": {"entry": entry}}


def _line(series: dict[str, Any]) -> tuple[list[float], Pane]:
    strategy_class = rule_strategy_class(_document(series))
    lines = strategy_class(strategy_class.Params()).indicators(_bars()).lines
    outermost = lines[0]
    return outermost.values.tolist(), outermost.pane


def _sma(values: list[float], t: int, p: int) -> float:
    return sum(values[t - p + 1 : t + 1]) / p if t >= p - 1 else NAN


def _ema(values: list[float], p: int) -> list[float]:
    out = [NAN] * len(values)
    alpha = 2.0 / (p + 1.0)
    previous = sum(values[:p]) / p
    out[p - 1] = previous
    for t in range(p, len(values)):
        previous = alpha * values[t] + (1.0 - alpha) * previous
        out[t] = previous
    return out


def _wilder_rsi(values: list[float], p: int) -> list[float]:
    changes = [values[t] - values[t - 1] for t in range(1, len(values))]
    out = [NAN] * len(values)
    gain = sum(max(c, 0.0) for c in changes[:p]) / p
    loss = sum(max(-c, 0.0) for c in changes[:p]) / p
    out[p] = 100.0 * gain / (gain + loss)
    for t in range(p + 1, len(values)):
        change = changes[t - 1]
        gain = (gain * (p - 1) + max(change, 0.0)) / p
        loss = (loss * (p - 1) + max(-change, 0.0)) / p
        out[t] = 100.0 * gain / (gain + loss)
    return out


def _true_ranges() -> list[float]:
    return [NAN] + [
        max(HIGHS[t] - LOWS[t], abs(HIGHS[t] - CLOSES[t - 1]), abs(LOWS[t] - CLOSES[t - 1]))
        for t in range(1, N)
    ]


def _atr(p: int) -> list[float]:
    ranges = _true_ranges()
    out = [NAN] * N
    average = sum(ranges[1 : p + 1]) / p
    out[p] = average
    for t in range(p + 1, N):
        average = (average * (p - 1) + ranges[t]) / p
        out[t] = average
    return out


def _macd(fast: int, slow: int, signal: int) -> tuple[list[float], list[float]]:
    line = [a - b for a, b in zip(_ema(CLOSES, fast), _ema(CLOSES, slow), strict=True)]
    start = next(i for i, v in enumerate(line) if not math.isnan(v))
    smoothed = [NAN] * start + _ema(line[start:], signal)
    return line, smoothed


def _bollinger(p: int, k: float, band: str) -> list[float]:
    out = [NAN] * N
    for t in range(p - 1, N):
        window = CLOSES[t - p + 1 : t + 1]
        middle = sum(window) / p
        width = k * statistics.pstdev(window)
        out[t] = {"upper": middle + width, "middle": middle, "lower": middle - width}[band]
    return out


MACD_LINE, MACD_SIGNAL = _macd(3, 5, 2)

CASES: list[tuple[dict[str, Any], list[float], Pane]] = [
    (
        {"indicator": "sma", "source": CLOSE, "period": 3},
        [_sma(CLOSES, t, 3) for t in range(N)],
        Pane.PRICE,
    ),
    ({"indicator": "ema", "source": CLOSE, "period": 4}, _ema(CLOSES, 4), Pane.PRICE),
    (
        {"indicator": "wma", "source": CLOSE, "period": 3},
        [NAN, NAN]
        + [(CLOSES[t - 2] + 2 * CLOSES[t - 1] + 3 * CLOSES[t]) / 6 for t in range(2, N)],
        Pane.PRICE,
    ),
    ({"indicator": "rsi", "source": CLOSE, "period": 4}, _wilder_rsi(CLOSES, 4), Pane.LOWER),
    (
        {"indicator": "roc", "source": CLOSE, "period": 2},
        [NAN, NAN] + [CLOSES[t] / CLOSES[t - 2] - 1 for t in range(2, N)],
        Pane.LOWER,
    ),
    (
        {"indicator": "macd", "source": CLOSE, "fast": 3, "slow": 5, "signal": 2, "output": "line"},
        MACD_LINE,
        Pane.LOWER,
    ),
    (
        {"indicator": "macd", "source": CLOSE, "fast": 3, "slow": 5, "signal": 2,
         "output": "signal"},
        MACD_SIGNAL,
        Pane.LOWER,
    ),
    (
        {"indicator": "macd", "source": CLOSE, "fast": 3, "slow": 5, "signal": 2,
         "output": "histogram"},
        [a - b for a, b in zip(MACD_LINE, MACD_SIGNAL, strict=True)],
        Pane.LOWER,
    ),
    *[
        (
            {"indicator": "bollinger", "source": CLOSE, "period": 4, "k": 1.5, "band": band},
            _bollinger(4, 1.5, band),
            Pane.PRICE,
        )
        for band in ("upper", "middle", "lower")
    ],
    ({"indicator": "atr", "period": 3}, _atr(3), Pane.LOWER),
    (
        {"indicator": "donchian", "period": 3, "band": "upper"},
        [NAN, NAN] + [max(HIGHS[t - 2 : t + 1]) for t in range(2, N)],
        Pane.PRICE,
    ),
    (
        {"indicator": "donchian", "period": 3, "band": "lower"},
        [NAN, NAN] + [min(LOWS[t - 2 : t + 1]) for t in range(2, N)],
        Pane.PRICE,
    ),
    (
        {"indicator": "volume_average", "period": 2},
        [_sma(VOLUMES, t, 2) for t in range(N)],
        Pane.LOWER,
    ),
    (
        {"indicator": "previous", "source": {"price": "high"}, "bars": 2},
        [NAN, NAN, *HIGHS[:-2]],
        Pane.PRICE,
    ),
    (
        {"indicator": "range_breakout", "k": 0.5},
        [NAN] + [OPENS[t] + 0.5 * (HIGHS[t - 1] - LOWS[t - 1]) for t in range(1, N)],
        Pane.PRICE,
    ),
    (
        {"indicator": "rsi", "source": {"indicator": "sma", "source": CLOSE, "period": 2},
         "period": 3},
        [NAN, *_wilder_rsi([_sma(CLOSES, t, 2) for t in range(1, N)], 3)],
        Pane.LOWER,
    ),
]  # fmt: skip


@pytest.mark.parametrize(("series", "expected", "pane"), CASES, ids=lambda case: str(case)[:60])
def test_an_indicator_equals_its_plain_python_definition(
    series: dict[str, Any], expected: list[float], pane: Pane
) -> None:
    values, drawn_in = _line(series)
    assert len(values) == N
    assert [math.isnan(v) for v in values] == [math.isnan(v) for v in expected]
    finite = [(v, e) for v, e in zip(values, expected, strict=True) if not math.isnan(e)]
    assert finite
    for value, reference in finite:
        assert value == pytest.approx(reference, rel=1e-12, abs=1e-12)
    assert drawn_in == pane


def _signal(condition: dict[str, Any]) -> list[bool]:
    document = {"schema": "privatetrade.rules/1", "long": {"entry": condition}}
    return evaluate_signals(document, _bars()).entries.tolist()


SMA3 = {"indicator": "sma", "source": CLOSE, "period": 3}


def test_comparisons_are_false_during_the_warm_up_and_not_negates_that() -> None:
    above = _signal({"compare": ">", "left": CLOSE, "right": SMA3})
    expected = [False, False] + [CLOSES[t] > _sma(CLOSES, t, 3) for t in range(2, N)]
    assert above == expected
    negated = _signal({"not": {"compare": ">", "left": CLOSE, "right": SMA3}})
    assert negated == [not value for value in expected]
    assert negated[:2] == [True, True]


def test_crosses_follow_the_builtin_rule_including_ties() -> None:
    closes_vs_12 = _signal({"crosses_above": [CLOSE, 12]})
    expected = [False] + [CLOSES[t] > 12 and CLOSES[t - 1] <= 12 for t in range(1, N)]
    assert closes_vs_12 == expected
    assert any(expected)
    below = _signal({"crosses_below": [CLOSE, 13.5]})
    assert below == [False] + [CLOSES[t] < 13.5 and CLOSES[t - 1] >= 13.5 for t in range(1, N)]
    assert below[5]  # 13.5 (a tie) then 13.0: a cross


def test_between_includes_both_ends() -> None:
    inside = _signal({"between": CLOSE, "low": 12.0, "high": 13.5})
    assert inside == [12.0 <= c <= 13.5 for c in CLOSES]
    assert inside[3]
    assert inside[4]


def test_for_bars_and_within_bars_count_the_last_bars_including_t() -> None:
    rising = [False] + [CLOSES[t] > CLOSES[t - 1] for t in range(1, N)]
    previous = {"indicator": "previous", "source": CLOSE, "bars": 1}
    up = {"compare": ">", "left": CLOSE, "right": previous}
    assert _signal(up) == rising
    held = _signal({"for_bars": 2, "condition": up})
    assert held == [t >= 1 and rising[t] and rising[t - 1] for t in range(N)]
    within = _signal({"within_bars": 3, "condition": up})
    assert within == [any(rising[max(0, t - 2) : t + 1]) for t in range(N)]
    assert held != within


def test_all_and_any_combine_and_constants_compare_as_constants() -> None:
    high = {"compare": ">", "left": CLOSE, "right": 13}
    volume = {"compare": ">=", "left": {"price": "volume"}, "right": 180}
    both = _signal({"all": [high, volume]})
    either = _signal({"any": [high, volume]})
    assert both == [c > 13 and v >= 180 for c, v in zip(CLOSES, VOLUMES, strict=True)]
    assert either == [c > 13 or v >= 180 for c, v in zip(CLOSES, VOLUMES, strict=True)]
    assert _signal({"compare": "<", "left": 1, "right": 2}) == [True] * N
    assert _signal({"compare": "<=", "left": 3, "right": 2}) == [False] * N


def test_warmup_counts_the_longest_lookback_and_the_cross() -> None:
    document = {
        "schema": "privatetrade.rules/1",
        "long": {
            "entry": {"crosses_above": [CLOSE, {"indicator": "sma", "source": CLOSE, "period": 5}]},
            "exit": {"for_bars": 3, "condition": {"compare": "<", "left": CLOSE, "right": SMA3}},
        },
    }
    strategy_class = rule_strategy_class(document)
    # The cross needs SMA(5) at t-1 (bar 4) -> 5; the exit needs SMA(3) for 3 bars -> 2 + 2.
    assert strategy_class(strategy_class.Params()).warmup_bars() == 5
