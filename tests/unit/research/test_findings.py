"""Tests of privatetrade.research.findings: each detector fires when it should, in two languages."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from privatetrade.errors import InputError
from privatetrade.research.findings import (
    Finding,
    collect,
    edge_of_grid,
    high_pbo,
    low_dsr,
    oos_much_worse,
    peak_shape,
    too_few_trades,
)

AXES = {"fast": [5, 10, 20], "slow": [40, 60, 80]}


def assert_messages(finding: Finding, *fragments: str) -> None:
    """Both messages are non-empty and mention every fragment (names, values)."""
    assert finding.message_en.strip()
    assert finding.message_ko.strip()
    for fragment in fragments:
        assert fragment in finding.message_en, (fragment, finding.message_en)
        assert fragment in finding.message_ko, (fragment, finding.message_ko)
    json.dumps(finding.to_dict())  # JSON-ready


# --- edge of the grid ------------------------------------------------------------------------


def test_edge_of_grid_names_the_parameters_at_an_edge() -> None:
    finding = edge_of_grid({"fast": 5, "slow": 80}, AXES)
    assert finding is not None
    assert (finding.code, finding.severity) == ("edge_of_grid", "warning")
    assert finding.details["parameters"] == [
        {"name": "fast", "value": 5, "edge": "lowest", "lowest": 5, "highest": 20},
        {"name": "slow", "value": 80, "edge": "highest", "lowest": 40, "highest": 80},
    ]
    assert_messages(finding, "fast = 5", "slow = 80")
    assert "가장 작은" in finding.message_ko
    assert "가장 큰" in finding.message_ko


def test_edge_of_grid_ignores_inner_values_short_and_non_numeric_axes() -> None:
    assert edge_of_grid({"fast": 10, "slow": 60}, AXES) is None
    axes = {"fast": [5, 10], "mode": ["a", "b", "c"], "long_only": [False, True, True]}
    assert edge_of_grid({"fast": 5, "mode": "a", "long_only": False}, axes) is None


def test_edge_of_grid_reports_only_the_edge_parameter() -> None:
    finding = edge_of_grid({"fast": 10, "slow": 40}, AXES)
    assert finding is not None
    assert [edge["name"] for edge in finding.details["parameters"]] == ["slow"]
    assert "fast" not in finding.message_en
    assert "fast" not in finding.message_ko


# --- peak shape ------------------------------------------------------------------------------

ISOLATED = np.array(
    [
        [0.0, 0.1, 0.0],
        [0.1, 2.0, 0.2],
        [0.0, 0.1, 0.0],
    ]
)


def test_isolated_peak() -> None:
    # Lower quartile of the nine cells 0.0 (four zeros), best 2.0: spread 2.0. Neighbours 0.1,
    # 0.1, 0.1, 0.2, median 0.1: they fall (2.0 - 0.1) / 2.0 = 95% of the spread, more than half.
    finding = peak_shape(ISOLATED, (1, 1), axes=AXES)
    assert finding is not None
    assert (finding.code, finding.severity) == ("isolated_peak", "warning")
    assert finding.details["grid_reference"] == 0.0
    assert finding.details["neighbour_median_drop"] == pytest.approx(0.95)
    assert finding.details["best_params"] == {"fast": 10, "slow": 60}
    assert_messages(finding, "fast = 10", "slow = 60", "2.00", "0.10")


def test_plateau() -> None:
    # Sorted cells 0, 0, 0, 0.5, 1.9, 1.9, 1.95, 1.95, 2.0: lower quartile 0.0 (numpy's linear
    # quantile at position 0.25 · 8 = 2), best 2.0: spread 2.0. Neighbours 1.9, 1.95, 1.9, 1.95:
    # the worst falls 0.1 / 2.0 = 5% of the spread, within 10%. (Against the median, 1.9, the
    # spread would be 0.1 and this plateau would read as an isolated peak.)
    scores = np.array(
        [
            [0.0, 1.9, 0.0],
            [1.95, 2.0, 1.9],
            [0.0, 1.95, 0.5],
        ]
    )
    finding = peak_shape(scores, (1, 1), axes=AXES)
    assert finding is not None
    assert (finding.code, finding.severity) == ("plateau", "info")
    assert finding.details["worst_neighbour_drop"] == pytest.approx(0.05)
    assert_messages(finding, "fast = 10", "slow = 60", "1.90", "2.00")


def test_peak_shape_in_between_or_without_neighbours_says_nothing() -> None:
    # Lower quartile 0, best 2.0: spread 2.0. Neighbours 1.5 and 1.7 (median 1.6) fall 20% of the
    # spread (not isolated), the worst 25% (not a plateau).
    scores = np.array([0.0, 0.0, 0.0, 0.0, 1.5, 2.0, 1.7, 0.0, 0.0])
    assert peak_shape(scores, (5,)) is None
    lonely = np.array([[np.nan, np.nan], [np.nan, 3.0]])
    assert peak_shape(lonely, (1, 1)) is None  # the only neighbours are ineligible
    flat = np.full((3, 3), 1.0)
    assert peak_shape(flat, (1, 1)) is None  # no better than the lower quartile: no peak


def test_peak_shape_lower_is_better_and_nan_cells() -> None:
    # Negated isolated grid with a NaN neighbour: still an isolated minimum.
    scores = -ISOLATED.copy()
    scores[0, 1] = np.nan
    finding = peak_shape(scores, (1, 1), higher_is_better=False)
    assert finding is not None
    assert finding.code == "isolated_peak"
    assert finding.details["neighbours"] == 3
    assert finding.details["best_score"] == pytest.approx(-2.0)
    assert peak_shape(ISOLATED, (1, 1), higher_is_better=False) is None  # the worst cell


def test_peak_shape_rejects_an_index_outside_the_grid() -> None:
    with pytest.raises(InputError):
        peak_shape(ISOLATED, (3, 1))
    with pytest.raises(InputError):
        peak_shape(ISOLATED, (1, 1), axes={"fast": [1, 2]})


# --- trades, out of sample, DSR, PBO ---------------------------------------------------------


def test_too_few_trades() -> None:
    finding = too_few_trades(12, 30)
    assert finding is not None
    assert (finding.code, finding.details) == ("too_few_trades", {"trade_count": 12, "minimum": 30})
    assert_messages(finding, "12", "30")
    assert too_few_trades(30, 30) is None


def test_oos_much_worse_negative_and_less_than_half() -> None:
    negative = oos_much_worse(1.2, -0.3, "sharpe")
    assert negative is not None
    assert negative.code == "oos_much_worse"
    assert_messages(negative, "1.20", "-0.30")
    assert "Sharpe" in negative.message_en
    assert "샤프 지수" in negative.message_ko
    assert "음수" in negative.message_ko

    half = oos_much_worse(0.25, 0.05, "cagr")
    assert half is not None
    assert half.details["ratio"] == pytest.approx(0.2)
    assert_messages(half, "25%", "5%")
    assert "절반" in half.message_ko


def test_oos_much_worse_stays_quiet_when_oos_holds_up_or_is_has_nothing() -> None:
    assert oos_much_worse(1.2, 0.7, "sharpe") is None  # more than half
    assert oos_much_worse(-0.2, -0.5, "sharpe") is None  # nothing to lose in sample
    assert oos_much_worse(1.2, math.nan, "sharpe") is None


def test_low_dsr() -> None:
    finding = low_dsr(0.873, n_trials=120)
    assert finding is not None
    assert (finding.code, finding.details["dsr"]) == ("low_dsr", 0.873)
    assert_messages(finding, "0.87", "0.95", "120")
    assert low_dsr(0.97) is None
    assert low_dsr(0.97, threshold=0.99) is not None


def test_high_pbo() -> None:
    finding = high_pbo(0.625)
    assert finding is not None
    assert (finding.code, finding.details) == ("high_pbo", {"pbo": 0.625, "threshold": 0.5})
    assert_messages(finding, "62.5%", "50%")
    assert high_pbo(0.5) is not None  # a coin flip is already too much
    assert high_pbo(0.2) is None


def test_collect_keeps_the_findings_in_order() -> None:
    findings = collect(
        too_few_trades(3, 30), low_dsr(0.99), high_pbo(0.8), edge_of_grid({"fast": 10}, AXES)
    )
    assert [finding.code for finding in findings] == ["too_few_trades", "high_pbo"]
    assert collect() == []
