"""Tests of privatetrade.research.overfitting against hand computations and plain references."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from privatetrade.errors import InputError
from privatetrade.research.overfitting import (
    MAX_PBO_SPLITS,
    deflated_sharpe_ratio,
    expected_maximum_sharpe,
    half_splits,
    kurtosis,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_from_sums,
    skewness,
    walk_forward_efficiency,
)


def normal_cdf(z: float) -> float:
    """Φ through math.erf, independent of statistics.NormalDist used by the module."""
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def block_statistics(
    returns: np.ndarray, lengths: list[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-block sums and sums of squares of a (trials, bars) matrix cut at ``lengths``."""
    edges = np.cumsum([0, *lengths])
    sums = np.stack([returns[:, a:b].sum(axis=1) for a, b in itertools.pairwise(edges)], axis=1)
    squares = np.stack(
        [(returns[:, a:b] ** 2).sum(axis=1) for a, b in itertools.pairwise(edges)], axis=1
    )
    return sums, squares, np.asarray(lengths)


# --- moments ---------------------------------------------------------------------------------


def test_moments_of_a_bernoulli_sample() -> None:
    # [0, 0, 0, 1] is a Bernoulli(1/4) sample: skewness (1 - 2p) / sqrt(p q) = 2/√3,
    # kurtosis (1 - 6 p q) / (p q) + 3 = 7/3 with p q = 3/16.
    sample = [0.0, 0.0, 0.0, 1.0]
    assert skewness(sample) == pytest.approx(2 / math.sqrt(3), rel=1e-12)
    assert kurtosis(sample) == pytest.approx(7 / 3, rel=1e-12)


def test_moments_of_constant_returns_are_undefined_and_short_samples_rejected() -> None:
    assert math.isnan(skewness([0.01, 0.01, 0.01]))
    assert math.isnan(kurtosis([0.01, 0.01, 0.01]))
    with pytest.raises(InputError):
        skewness([0.01])
    with pytest.raises(InputError):
        kurtosis([0.01, math.nan])


# --- PSR and DSR -----------------------------------------------------------------------------


def test_psr_by_hand() -> None:
    # SR = 0.1, SR* = 0, T = 250, γ3 = -1, γ4 = 6:
    # variance term 1 - (-1)(0.1) + (6 - 1)/4 · 0.01 = 1.1125
    # z = 0.1 · √249 / √1.1125 = 1.577973 / 1.054751 = 1.496063
    z = 0.1 * math.sqrt(249) / math.sqrt(1.1125)
    assert z == pytest.approx(1.496063, abs=1e-6)
    expected = normal_cdf(z)
    assert expected == pytest.approx(0.93269, abs=1e-5)
    assert probabilistic_sharpe_ratio(0.1, 0.0, 250, -1.0, 6.0) == pytest.approx(
        expected, abs=1e-12
    )


def test_psr_is_one_half_at_the_benchmark_and_falls_with_fat_tails() -> None:
    assert probabilistic_sharpe_ratio(0.1, 0.1, 100, 0.0, 3.0) == pytest.approx(0.5)
    normal = probabilistic_sharpe_ratio(0.1, 0.0, 250, 0.0, 3.0)
    fat_left_tail = probabilistic_sharpe_ratio(0.1, 0.0, 250, -2.0, 9.0)
    assert fat_left_tail < normal


def test_psr_rejects_impossible_moments_and_short_samples() -> None:
    # 1 - 0 · 3 + (0 - 1)/4 · 9 = -1.25: no distribution has kurtosis 0.
    with pytest.raises(InputError):
        probabilistic_sharpe_ratio(3.0, 0.0, 100, 0.0, 0.0)
    with pytest.raises(InputError):
        probabilistic_sharpe_ratio(0.1, 0.0, 1, 0.0, 3.0)
    with pytest.raises(InputError):
        probabilistic_sharpe_ratio(math.nan, 0.0, 100, 0.0, 3.0)


def test_dsr_reproduces_the_papers_numerical_example() -> None:
    # Bailey & López de Prado (2014), "The Deflated Sharpe Ratio", numerical example:
    # N = 100 trials, annualized SR 2.5 over T = 1250 daily returns, variance of the trials'
    # annualized Sharpe ratios 0.5, γ3 = -3, γ4 = 10; the paper reports E[max SR] ≈ 0.1132
    # (daily) and DSR ≈ 0.9004. Daily: SR = 2.5/√250, V = 0.5/250.
    sharpe, variance = 2.5 / math.sqrt(250), 0.5 / 250
    # Φ⁻¹(1 - 1/100) and Φ⁻¹(1 - 1/(100 e)), checked through erf below:
    z_max, z_max_e = 2.3263478740408408, 2.680210444966887
    assert normal_cdf(z_max) == pytest.approx(0.99, abs=1e-12)
    assert normal_cdf(z_max_e) == pytest.approx(1 - 1 / (100 * math.e), abs=1e-12)
    gamma = 0.5772156649015329
    expected_max = math.sqrt(variance) * ((1 - gamma) * z_max + gamma * z_max_e)
    assert expected_max == pytest.approx(0.1132, abs=5e-5)
    assert expected_maximum_sharpe(variance, 100) == pytest.approx(expected_max, rel=1e-12)
    variance_term = 1 + 3 * sharpe + (10 - 1) / 4 * sharpe**2
    dsr_by_hand = normal_cdf((sharpe - expected_max) * math.sqrt(1249) / math.sqrt(variance_term))
    assert dsr_by_hand == pytest.approx(0.9004, abs=5e-5)
    dsr = deflated_sharpe_ratio(sharpe, variance, 100, 1250, -3.0, 10.0)
    assert dsr == pytest.approx(dsr_by_hand, abs=1e-12)


def test_one_trial_expects_no_maximum_and_dsr_equals_psr_against_zero() -> None:
    assert expected_maximum_sharpe(0.01, 1) == 0.0
    assert deflated_sharpe_ratio(0.08, 0.01, 1, 500, 0.0, 3.0) == pytest.approx(
        probabilistic_sharpe_ratio(0.08, 0.0, 500, 0.0, 3.0)
    )


def test_dsr_falls_with_more_trials_and_with_more_dispersed_trials() -> None:
    by_trials = [deflated_sharpe_ratio(0.1, 0.001, n, 750, 0.0, 3.0) for n in (1, 10, 100, 1000)]
    assert all(a > b for a, b in itertools.pairwise(by_trials))
    by_variance = [deflated_sharpe_ratio(0.1, v, 50, 750, 0.0, 3.0) for v in (0.0, 1e-4, 1e-3)]
    assert all(a > b for a, b in itertools.pairwise(by_variance))
    assert by_variance[0] == pytest.approx(probabilistic_sharpe_ratio(0.1, 0.0, 750, 0.0, 3.0))


def test_dsr_passes_a_clear_edge_and_fails_a_mediocre_one_among_many() -> None:
    # Three years of days. A daily Sharpe ratio of 0.15 (about 2.4 a year) found in one try:
    # z = 0.15 · √749 / √(1 + 0.5 · 0.0225) ≈ 4.08 → DSR ≈ 1.
    assert deflated_sharpe_ratio(0.15, 1 / 750, 1, 750, 0.0, 3.0) > 0.95
    # 0.05 a day (0.8 a year) as the best of 1,000 tries whose Sharpe ratios scatter like
    # noise (variance 1/T): luck alone is expected to give √(1/750) · 3.25 ≈ 0.12.
    mediocre = deflated_sharpe_ratio(0.05, 1 / 750, 1000, 750, 0.0, 3.0)
    assert mediocre < 0.95
    assert mediocre < 0.05  # not even close
    # The same mediocre result found in a single try passes PSR > 0.9 (z = 0.05·√749 ≈ 1.37).
    assert deflated_sharpe_ratio(0.05, 1 / 750, 1, 750, 0.0, 3.0) > 0.9


def test_expected_maximum_rejects_bad_arguments() -> None:
    with pytest.raises(InputError):
        expected_maximum_sharpe(-0.1, 10)
    with pytest.raises(InputError):
        expected_maximum_sharpe(0.1, 0)


# --- walk-forward efficiency -----------------------------------------------------------------


def test_walk_forward_efficiency() -> None:
    assert walk_forward_efficiency(0.20, 0.10) == pytest.approx(0.5)
    assert walk_forward_efficiency(0.20, -0.05) == pytest.approx(-0.25)
    assert walk_forward_efficiency(0.0, 0.10) is None
    assert walk_forward_efficiency(-0.10, 0.05) is None
    assert walk_forward_efficiency(math.nan, 0.05) is None
    assert walk_forward_efficiency(0.10, math.inf) is None


# --- PBO -------------------------------------------------------------------------------------

# Three trials, four blocks of one bar each (returns in %). A half holds two bars a, b; their
# sample std is |a - b| / √2, so the Sharpe ratio is (a + b) / (√2 · |a - b|) and trials order
# by r = (a + b) / |a - b|.
HAND_RETURNS = np.array(
    [
        [0.0, -2.0, 1.0, 2.0],  # trial 0
        [2.0, 0.0, 3.0, -1.0],  # trial 1
        [4.0, 1.0, 2.0, 3.0],  # trial 2
    ]
)
# IS blocks | r IS (t0, t1, t2) | winner | OOS blocks | r OOS (t0, t1, t2) | OOS rank | λ
# {0, 1}    | -1,   1,   5/3    | t2     | {2, 3}     | 3,    1/2, 5       | 3        | ln 3
# {0, 2}    | 1,    5,   3      | t1     | {1, 3}     | 0,    -1,  2       | 1        | ln(1/3)
# {0, 3}    | 1,    1/3, 7      | t2     | {1, 2}     | -1/3, 1,   3       | 3        | ln 3
# {1, 2}    | -1/3, 1,   3      | t2     | {0, 3}     | 1,    1/3, 7       | 3        | ln 3
# {1, 3}    | 0,    -1,  2      | t2     | {0, 2}     | 1,    5,   3       | 2        | 0
# {2, 3}    | 3,    1/2, 5      | t2     | {0, 1}     | -1,   1,   5/3     | 3        | ln 3
# ω = rank / 4, λ = ln(ω / (1 - ω)). λ <= 0 in 2 of 6 partitions: PBO = 1/3.
HAND_LOGITS = [math.log(3), math.log(1 / 3), math.log(3), math.log(3), 0.0, math.log(3)]
# The winners' (IS, OOS) ratios r; Sharpe ratios are r / √2.
HAND_WINNER_RATIOS = [(5 / 3, 5.0), (5.0, -1.0), (7.0, 3.0), (3.0, 7.0), (2.0, 3.0), (5.0, 5 / 3)]


def test_pbo_of_the_hand_computed_case() -> None:
    returns = HAND_RETURNS / 100
    result = probability_of_backtest_overfitting(returns, returns**2, [1, 1, 1, 1])
    assert result.pbo == pytest.approx(1 / 3)
    np.testing.assert_allclose(result.logits, HAND_LOGITS, atol=1e-12)
    assert (result.n_splits, result.n_trials, result.n_blocks) == (6, 3, 4)
    assert result.exhaustive
    # Only the {0, 2} winner (trial 1) lost money out of sample: bars 0 and -1.
    assert result.oos_loss_rate == pytest.approx(1 / 6)
    x, y = np.array(HAND_WINNER_RATIOS).T / math.sqrt(2)
    assert result.performance_degradation == pytest.approx(np.polyfit(x, y, 1)[0], rel=1e-9)
    document = result.to_dict()
    assert document["pbo"] == pytest.approx(1 / 3)
    assert document["logits"] == pytest.approx(HAND_LOGITS)


def test_pbo_lower_is_better_mirrors_negated_returns() -> None:
    rng = np.random.default_rng(7)
    sums, squares, lengths = block_statistics(rng.normal(0, 0.01, (6, 120)), [20] * 6)
    higher = probability_of_backtest_overfitting(sums, squares, lengths)
    lower = probability_of_backtest_overfitting(-sums, squares, lengths, higher_is_better=False)
    assert lower.pbo == higher.pbo
    np.testing.assert_allclose(lower.logits, higher.logits)
    assert lower.oos_loss_rate == higher.oos_loss_rate


def test_pbo_of_tied_trials_puts_every_winner_at_the_median() -> None:
    rng = np.random.default_rng(3)
    one = rng.normal(0, 0.01, (1, 40))
    sums, squares, lengths = block_statistics(np.repeat(one, 3, axis=0), [10] * 4)
    result = probability_of_backtest_overfitting(sums, squares, lengths)
    # Every trial ties in and out of sample: mid-rank 2 of 3, ω = 1/2, λ = 0 → overfit.
    np.testing.assert_array_equal(result.logits, np.zeros(6))
    assert result.pbo == 1.0


def test_pbo_never_picks_an_undefined_sharpe_and_ranks_it_lowest() -> None:
    returns = np.array(
        [
            [0.01, 0.01, 0.01, 0.01, 0.01, 0.01],  # constant: no Sharpe ratio (NaN)
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # flat: Sharpe ratio 0
            [0.01, 0.02, 0.03, -0.01, -0.02, -0.03],  # Sharpe 2 in block 0, -2 in block 1
        ]
    )
    sums, squares, lengths = block_statistics(returns, [3, 3])
    result = probability_of_backtest_overfitting(sums, squares, lengths)
    # IS {0}: scores (NaN, 0, 2) → trial 2; OOS (lowest, 0, -2) → rank 2 of 3 → λ = 0.
    # IS {1}: scores (NaN, 0, -2) → trial 1; OOS (lowest, 0, 2) → rank 2 of 3 → λ = 0.
    np.testing.assert_allclose(result.logits, [0.0, 0.0], atol=1e-12)
    assert result.pbo == 1.0
    assert result.oos_loss_rate == 0.5  # trial 2 lost out of sample, flat trial 1 did not


def test_pbo_skips_partitions_without_any_in_sample_sharpe() -> None:
    returns = np.array(
        [
            [0.01, 0.01, 0.01, 0.02, -0.01, 0.03],
            [0.02, 0.02, 0.02, -0.01, 0.02, 0.01],
        ]
    )
    sums, squares, lengths = block_statistics(returns, [3, 3])
    result = probability_of_backtest_overfitting(sums, squares, lengths)
    assert result.n_splits == 1  # block 0 is constant for both trials
    with pytest.raises(InputError):
        probability_of_backtest_overfitting(sums[:, [0, 0]], squares[:, [0, 0]], lengths)


def test_pbo_of_pure_noise_is_near_one_half() -> None:
    # Ten trials of pure noise: the in-sample winner's out-of-sample rank is uniform on 1..10,
    # and λ <= 0 for ranks 1..5, so PBO is 1/2 in expectation. One data set's PBO scatters
    # widely (its 70 partitions reuse the same bars; measured sd ≈ 0.24 over 300 seeds), so
    # the test averages 100 independent seeded data sets: sd ≈ 0.024, and ±0.1 is 4 sd.
    pbos = []
    for seed in range(100):
        rng = np.random.default_rng(seed)
        sums, squares, lengths = block_statistics(rng.normal(0, 0.01, (10, 480)), [60] * 8)
        pbos.append(probability_of_backtest_overfitting(sums, squares, lengths).pbo)
    assert np.mean(pbos) == pytest.approx(0.5, abs=0.1)
    assert 0.15 < np.std(pbos) < 0.35  # the scatter the tolerance was derived from


def test_pbo_of_a_trial_better_in_every_block_is_near_zero() -> None:
    rng = np.random.default_rng(11)
    returns = rng.normal(0, 0.01, (10, 480))
    returns[4] += 0.003  # per-bar Sharpe 0.3, ~4.6 standard errors above noise on 240 bars
    sums, squares, lengths = block_statistics(returns, [60] * 8)
    result = probability_of_backtest_overfitting(sums, squares, lengths)
    assert result.pbo <= 0.02
    assert np.median(result.logits) == pytest.approx(math.log(10))  # rank 10 of 10: ω = 10/11


def test_sufficient_statistics_give_the_sharpe_of_the_concatenated_returns() -> None:
    rng = np.random.default_rng(5)
    lengths = [5, 10, 7, 8, 12, 18]
    returns = rng.normal(0.001, 0.02, (4, sum(lengths)))
    sums, squares, block_lengths = block_statistics(returns, lengths)
    edges = np.cumsum([0, *lengths])
    masks, exhaustive = half_splits(6)
    assert exhaustive
    assert masks.shape == (20, 6)
    for mask in masks:
        bars = np.concatenate([np.arange(edges[j], edges[j + 1]) for j in range(6) if mask[j]])
        direct = returns[:, bars].mean(axis=1) / returns[:, bars].std(axis=1, ddof=1)
        sharpe, mean = sharpe_from_sums(
            block_lengths[mask].sum(), sums[:, mask].sum(axis=1), squares[:, mask].sum(axis=1)
        )
        np.testing.assert_allclose(sharpe, direct, rtol=1e-9)
        np.testing.assert_allclose(mean, returns[:, bars].mean(axis=1), rtol=1e-12)


def test_pbo_matches_a_direct_computation_on_the_returns() -> None:
    # Reference: CSCV written out on the raw returns (concatenate the halves, Sharpe with
    # numpy, argmax, rank among the OOS Sharpe ratios), compared partition by partition.
    rng = np.random.default_rng(9)
    lengths = [9, 11, 10, 12, 8, 10]
    returns = rng.normal(0.0005, 0.01, (7, sum(lengths)))
    edges = np.cumsum([0, *lengths])
    expected = []
    for in_sample in itertools.combinations(range(6), 3):
        halves = []
        for blocks in (in_sample, tuple(j for j in range(6) if j not in in_sample)):
            bars = np.concatenate([np.arange(edges[j], edges[j + 1]) for j in blocks])
            halves.append(returns[:, bars].mean(axis=1) / returns[:, bars].std(axis=1, ddof=1))
        winner = int(np.argmax(halves[0]))
        rank = 1 + np.sum(halves[1] < halves[1][winner])
        expected.append(math.log(rank / (8 - rank)))
    result = probability_of_backtest_overfitting(*block_statistics(returns, lengths))
    np.testing.assert_allclose(result.logits, expected, atol=1e-12)
    assert result.pbo == pytest.approx(np.mean(np.array(expected) <= 0))


def test_many_blocks_use_a_deterministic_symmetric_sample_of_partitions() -> None:
    masks, exhaustive = half_splits(16)
    assert not exhaustive
    assert masks.shape == (MAX_PBO_SPLITS, 16)
    assert np.all(masks.sum(axis=1) == 8)
    assert len({row.tobytes() for row in masks}) == MAX_PBO_SPLITS  # no partition twice
    np.testing.assert_array_equal(masks[1::2], ~masks[0::2])  # each followed by its complement
    np.testing.assert_array_equal(masks.sum(axis=0), np.full(16, MAX_PBO_SPLITS // 2))
    again, _ = half_splits(16)
    np.testing.assert_array_equal(again, masks)
    assert half_splits(14)[0].shape == (math.comb(14, 7), 14)
    assert half_splits(14)[1]

    rng = np.random.default_rng(2)
    sums, squares, lengths = block_statistics(rng.normal(0, 0.01, (3, 128)), [2] * 64)
    result = probability_of_backtest_overfitting(sums, squares, lengths)
    assert (result.n_splits, result.n_blocks, result.exhaustive) == (MAX_PBO_SPLITS, 64, False)


@pytest.mark.parametrize(
    ("sums", "squares", "lengths"),
    [
        ([[0.1, 0.2]], [[0.1, 0.1]], [2, 2]),  # one trial
        ([[0.1, 0.2, 0.1], [0.1, 0.2, 0.1]], [[0.1] * 3] * 2, [2, 2, 2]),  # odd S
        ([[0.1] * 66] * 2, [[0.1] * 66] * 2, [2] * 66),  # S > 64
        ([[0.1, 0.2], [0.1, 0.2]], [[0.1, 0.1]], [2, 2]),  # shapes differ
        ([[0.1, 0.2], [0.1, 0.2]], [[0.1, -0.1], [0.1, 0.1]], [2, 2]),  # negative squares
        ([[1.0, 0.2], [0.1, 0.2]], [[0.1, 0.1], [0.1, 0.1]], [2, 2]),  # sum² > n · squares
        ([[0.1, 0.2], [0.1, 0.2]], [[0.1, 0.1], [0.1, 0.1]], [2.5, 2]),  # fractional bars
        ([[0.1, 0.2], [0.1, 0.2]], [[0.1, 0.1], [0.1, 0.1]], [1, 2]),  # a half of one bar
        ([[0.1, math.nan], [0.1, 0.2]], [[0.1, 0.1], [0.1, 0.1]], [2, 2]),  # NaN
    ],
)
def test_pbo_rejects_bad_inputs(
    sums: list[list[float]], squares: list[list[float]], lengths: list[float]
) -> None:
    with pytest.raises(InputError):
        probability_of_backtest_overfitting(sums, squares, lengths)


def test_pbo_batches_of_trials_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trials are ranked batch by batch (bounded memory): any batch size, the same answer."""
    from privatetrade.research import overfitting

    rng = np.random.default_rng(11)
    returns = rng.normal(0.0002, 0.01, (600, 8, 50))
    returns[17] += 0.002  # one clearly better trial, so the winners are not all ties
    sums, squares = returns.sum(axis=2), (returns**2).sum(axis=2)
    lengths = np.full(8, 50.0)
    whole = probability_of_backtest_overfitting(sums, squares, lengths)
    monkeypatch.setattr(overfitting, "PBO_BATCH_VALUES", 70 * 8 * 7)  # 7 trials per batch
    batched = probability_of_backtest_overfitting(sums, squares, lengths)
    assert np.array_equal(whole.logits, batched.logits)
    assert whole.pbo == batched.pbo
    assert whole.performance_degradation == batched.performance_degradation
