"""Search spaces: ranges, choices, the strategy's bounds and rules, grid and random draws."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from pydantic import ValidationError

from privatetrade.domain.research import ParamRange, SweepSpec, WalkForwardSpec, parse_axis
from privatetrade.engine.api import default_registry
from privatetrade.errors import ParameterError
from privatetrade.research.space import build_space, default_axes

SMA = default_registry().get("sma_cross")
RSI = default_registry().get("rsi_reversion")


def test_ranges_include_their_stop_and_keep_decimal_steps_exact() -> None:
    assert ParamRange(start=5, stop=20, step=5).values() == [5, 10, 15, 20]
    assert ParamRange(start=5, stop=22, step=5).values() == [5, 10, 15, 20]
    assert ParamRange(start=0.1, stop=0.5, step=0.1).values() == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert parse_axis("5:50:15").values() == [5, 20, 35, 50]
    assert parse_axis("3:5").values() == [3, 4, 5]
    assert parse_axis("5, 10,20") == [5, 10, 20]
    assert parse_axis("true,false") == [True, False]


@pytest.mark.parametrize(
    "bad",
    [
        {"start": 9, "stop": 1, "step": 1},
        {"start": 1, "stop": 9, "step": 0},
        {"start": 0, "stop": 1e9, "step": 1},
        {"start": float("nan"), "stop": 1, "step": 1},
    ],
)
def test_bad_ranges_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        ParamRange(**bad)


def test_a_parameter_cannot_be_fixed_and_searched() -> None:
    with pytest.raises(ValidationError, match="both fixed"):
        SweepSpec(symbol="X", params={"fast": 5}, space={"fast": [5, 10]})


def test_walk_forward_lengths_read_months_and_bars() -> None:
    spec = WalkForwardSpec(symbol="X", in_sample="24m", out_of_sample="500b", step="500b")
    assert (spec.in_sample.count, spec.in_sample.unit) == (24, "months")
    assert (spec.out_of_sample.count, spec.out_of_sample.unit) == (500, "bars")
    with pytest.raises(ValidationError):
        WalkForwardSpec(symbol="X", in_sample="two years")
    with pytest.raises(ValidationError, match="overlap"):
        WalkForwardSpec(symbol="X", out_of_sample="6m", step="3m")


def test_grid_keeps_exactly_the_combinations_the_rules_accept() -> None:
    space = build_space(SMA, {"fast": range(5, 51, 5), "slow": range(20, 201, 10)})
    grid = space.grid()
    by_hand = [(f, s) for f, s in itertools.product(range(5, 51, 5), range(20, 201, 10)) if f < s]
    assert [tuple(space.searched(row).values()) for row in grid] == by_hand
    assert space.grid_size() == 10 * 19
    assert space.count_grid(cap=10_000) == len(by_hand)


def test_fixed_parameters_take_part_in_the_rules() -> None:
    space = build_space(SMA, {"fast": [5, 10, 40, 60]}, {"slow": 30})
    assert [space.params(row) for row in space.grid()] == [
        {"fast": 5, "slow": 30},
        {"fast": 10, "slow": 30},
    ]


def test_rules_that_are_not_declared_as_data_are_checked_per_combination() -> None:
    space = build_space(RSI, {"lower": [20, 40, 60], "upper": [50, 70]})
    accepted = [space.searched(row) for row in space.grid()]
    assert accepted == [
        {"lower": 20, "upper": 50},
        {"lower": 20, "upper": 70},
        {"lower": 40, "upper": 50},
        {"lower": 40, "upper": 70},
        {"lower": 60, "upper": 70},
    ]


@pytest.mark.parametrize(
    ("space", "fixed", "field"),
    [
        ({"fast": [0, 5]}, None, "space.fast"),
        ({"fast": [5.5]}, None, "space.fast"),
        ({"speed": [5]}, None, "space.speed"),
        ({"fast": [5]}, {"slow": 0}, "params.slow"),
        ({"fast": [50, 60]}, {"slow": 20}, "space"),
    ],
)
def test_bad_spaces_name_the_field(
    space: dict[str, list[float]], fixed: dict[str, int] | None, field: str
) -> None:
    with pytest.raises(ParameterError) as raised:
        build_space(SMA, space, fixed)
    assert raised.value.field == field


def test_random_draws_are_distinct_valid_and_repeatable() -> None:
    space = build_space(SMA, {"fast": range(1, 201), "slow": range(2, 401)})
    first = space.sample(500, seed=7)
    assert len(first) == 500
    assert len({tuple(row) for row in first.tolist()}) == 500
    assert space.valid(first).all()
    assert np.array_equal(first, space.sample(500, seed=7))
    assert not np.array_equal(first, space.sample(500, seed=8))


def test_asking_for_more_samples_than_exist_gives_the_whole_grid() -> None:
    space = build_space(SMA, {"fast": [5, 10], "slow": [20, 30]})
    assert len(space.sample(100, seed=1)) == 4


def test_default_axes_stay_within_the_declared_bounds() -> None:
    for strategy in default_registry():
        axes = default_axes(strategy)
        for name, values in axes.items():
            assert values == sorted(set(values))
            default = strategy.Params.model_fields[name].default
            assert min(values) <= default <= max(values)
        if axes:
            space = build_space(strategy, axes)  # every value passes the field's bounds
            assert space.grid().shape[0] >= 1


def test_an_empty_space_searches_the_default_grid_of_the_parameters_not_fixed() -> None:
    space = build_space(SMA, {}, {"slow": 200})
    assert space.defaulted
    assert list(space.axes) == ["fast"]
    assert all(space.params(row)["slow"] == 200 for row in space.grid())
