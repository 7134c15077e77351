"""No look-ahead in the allocation rules: weights at s do not depend on bars after s.

Hypothesis draws a random portfolio calendar (gaps, late starts, delistings, flat
prices and ties) and a rule; the weights at every signal bar ``s`` must be identical,
bit for bit, when the calendar is cut right after ``s``. The schedule must keep every
signal bar ``<= s`` on the cut calendar, except ``s`` itself as the *last* session of
its period: the cut makes it the data's last bar, whose period is not known to end.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocation_builders import random_aligned, truncated
from privatetrade.engine.portfolio.rules import PortfolioRule
from privatetrade.engine.portfolio.schedule import signal_bars
from privatetrade.engine.portfolio.targets import long_state, target_weights

EXAMPLES = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def rules(draw: st.DrawFn) -> PortfolioRule:
    name = draw(
        st.sampled_from(
            [
                "equal_weight",
                "fixed_weights",
                "inverse_volatility",
                "top_n_momentum",
                "top_n_low_volatility",
                "top_n_signal",
            ]
        )
    )
    fields: dict[str, Any] = {
        "rule": name,
        "rebalance": draw(st.sampled_from(["daily", "weekly", "monthly", "quarterly"])),
        "rebalance_on": draw(st.sampled_from(["first", "last"])),
    }
    absolute = draw(st.booleans())
    if absolute:
        fields |= {
            "absolute_momentum": True,
            "momentum_threshold": draw(st.sampled_from([-0.05, 0.0, 0.02])),
        }
    reads_lookback = absolute or name not in ("equal_weight", "fixed_weights")
    if reads_lookback:
        fields["lookback"] = draw(st.integers(2, 30))
    if name.startswith("top_n_"):
        fields["top"] = draw(st.integers(1, 6))
        fields["weighting"] = draw(st.sampled_from(["equal", "inverse_volatility"]))
    if name == "top_n_signal":
        fields["strategy"] = "sma_cross"
    if name == "fixed_weights":
        fields["weights"] = {"S00": 0.3, "S01": 0.25, "S03": 0.2, "S99": 0.25}
    return PortfolioRule(**fields)


def random_long(seed: int, shape: tuple[int, int]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return long_state(rng.random(shape) < 0.15, rng.random(shape) < 0.1)


@EXAMPLES
@given(
    rule=rules(),
    seed=st.integers(0, 2**32 - 1),
    bars=st.integers(2, 160),
    symbols=st.integers(1, 7),
    first=st.integers(0, 40),
)
def test_weights_at_s_do_not_depend_on_later_bars(
    rule: PortfolioRule, seed: int, bars: int, symbols: int, first: int
) -> None:
    rng = np.random.default_rng(seed)
    full = random_aligned(rng, bars, symbols)
    long = random_long(seed, full.close.shape)
    signals = signal_bars(full.local_time_ns, rule.rebalance, rule.rebalance_on, first)
    weights = target_weights(full, rule, signals, long)
    assert weights.shape == (signals.size, symbols)
    assert (weights >= 0.0).all()
    assert (weights.sum(axis=1) <= 1.0 + 1e-12).all()
    assert (weights[~full.present[signals]] == 0.0).all()
    for row, s in enumerate(signals.tolist()):
        cut = truncated(full, s + 1)
        cut_signals = signal_bars(cut.local_time_ns, rule.rebalance, rule.rebalance_on, first)
        expected = signals[signals <= s]
        if rule.rebalance_on == "last" and s > max(first, 0):
            expected = expected[expected < s]  # s is the cut data's last bar now
        assert cut_signals.tolist() == expected.tolist()
        alone = target_weights(cut, rule, np.array([s]), long[: s + 1])
        assert np.array_equal(alone[0], weights[row]), (s, alone[0], weights[row])


@EXAMPLES
@given(seed=st.integers(0, 2**32 - 1), bars=st.integers(1, 120))
def test_long_state_at_t_does_not_depend_on_later_signals(seed: int, bars: int) -> None:
    rng = np.random.default_rng(seed)
    entries = rng.random((bars, 3)) < 0.3
    exits = rng.random((bars, 3)) < 0.3
    state = long_state(entries, exits)
    cut = int(rng.integers(1, bars + 1))
    assert np.array_equal(long_state(entries[:cut], exits[:cut]), state[:cut])
    # Reference: the plain loop of the rule.
    reference = np.zeros_like(state)
    held = np.zeros(3, dtype=bool)
    for t in range(bars):
        held = np.where(held, ~exits[t], entries[t])
        reference[t] = held
    assert np.array_equal(state, reference)
