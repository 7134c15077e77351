"""Drawdown periods: every stretch below the running peak, the deepest one as the metrics say."""

from __future__ import annotations

import numpy as np
import pytest

from privatetrade.engine.drawdowns import (
    DrawdownPeriod,
    drawdown_periods,
    drawdown_ratio,
    drawdown_stats,
)


def periods_of(equity: list[float], initial: float = 100.0) -> list[DrawdownPeriod]:
    return drawdown_periods(drawdown_ratio(np.array(equity), initial))


def test_periods_by_hand() -> None:
    found = periods_of([100, 110, 99, 88, 110, 120, 108, 114, 90, 95])
    assert found == [
        DrawdownPeriod(start=1, trough=3, recovery=4, depth=pytest.approx(88 / 110 - 1), bars=3),
        DrawdownPeriod(start=5, trough=8, recovery=None, depth=pytest.approx(90 / 120 - 1), bars=4),
    ]


def test_below_the_initial_cash_from_the_first_bar() -> None:
    assert periods_of([90, 95, 100, 101]) == [
        DrawdownPeriod(start=0, trough=0, recovery=2, depth=pytest.approx(-0.1), bars=2)
    ]


def test_no_drawdown_no_period() -> None:
    assert periods_of([100, 100, 101, 105]) == []


@pytest.mark.parametrize("seed", range(20))
def test_random_equity_periods_cover_every_underwater_bar_and_the_deepest_is_the_metric(
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    equity = 100.0 * np.exp(np.cumsum(rng.normal(0.0005, 0.02, 500)))
    ratio = drawdown_ratio(equity, 100.0)
    found = drawdown_periods(ratio)
    covered = np.zeros(500, dtype=bool)
    for period in found:
        end = 500 if period.recovery is None else period.recovery
        first_under = period.start if ratio[period.start] < 1.0 else period.start + 1
        assert (ratio[first_under:end] < 1.0).all()
        assert not covered[first_under:end].any()
        covered[first_under:end] = True
        assert period.depth == ratio[first_under:end].min() - 1.0
        assert ratio[period.trough] - 1.0 == period.depth
        if period.recovery is not None:
            assert ratio[period.recovery] == 1.0
    assert np.array_equal(covered, ratio < 1.0)
    stats = drawdown_stats(ratio)
    deepest = min(found, key=lambda period: (period.depth, period.start))
    assert (deepest.start, deepest.trough, deepest.recovery) == (
        stats.start,
        stats.end,
        stats.recovery,
    )
    assert deepest.bars == stats.duration
