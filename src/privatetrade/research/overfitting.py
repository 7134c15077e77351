"""How much of a backtest's edge survives the search that found it.

Pure numpy and the standard library (``statistics.NormalDist`` for the normal distribution):

- :func:`probabilistic_sharpe_ratio` (PSR, Bailey & López de Prado 2012, "The Sharpe Ratio
  Efficient Frontier"): the probability that the true Sharpe ratio exceeds a benchmark, given
  the estimate, the sample length and the returns' skewness and kurtosis;
- :func:`expected_maximum_sharpe` and :func:`deflated_sharpe_ratio` (DSR, Bailey & López de
  Prado 2014, "The Deflated Sharpe Ratio"): the PSR against the best Sharpe ratio that luck
  alone would produce among ``n_trials`` tries;
- :func:`probability_of_backtest_overfitting` (PBO by combinatorially symmetric
  cross-validation, Bailey, Borwein, López de Prado & Zhu 2015, "The Probability of Backtest
  Overfitting"), computed from each trial's per-block sums and sums of squares;
- :func:`walk_forward_efficiency`: out-of-sample over in-sample annualized return.

All Sharpe ratios here are per period (per bar), not annualized, and kurtosis is the plain
fourth standardized moment (3 for a normal distribution), not the excess kurtosis.

Example:
    >>> round(probabilistic_sharpe_ratio(0.1, 0.0, 250, 0.0, 3.0), 4)
    0.9423
    >>> expected_maximum_sharpe(0.01, 1)
    0.0
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import numpy.typing as npt

from privatetrade.errors import InputError

FloatArray = npt.NDArray[np.float64]

EULER_MASCHERONI = 0.5772156649015329
"""γ in the expected maximum of ``N`` standard normal draws (DSR paper, eq. for E[max SR])."""

MAX_TRIALS = 10**12
"""Largest ``n_trials`` accepted (beyond it ``1 - 1/N`` is no longer exact in a float)."""

MIN_BLOCKS = 2
MAX_BLOCKS = 64
"""Bounds of ``S``, the number of contiguous blocks the CSCV splits the bars into."""

MAX_PBO_SPLITS = 5_000
"""At most this many in-sample/out-of-sample partitions are evaluated (see :func:`half_splits`)."""

PBO_SAMPLE_SEED = 20150101
"""Seed of the deterministic sample of partitions when there are more than ``MAX_PBO_SPLITS``."""

PBO_BATCH_VALUES = 1 << 21
"""Half-values (trials × splits × blocks) computed at once: 16 MiB per float64 array."""

ZERO_VARIANCE_TOLERANCE = 1e-10
"""A half's variance counts as zero when its sum of squared deviations is at most this share of
its sum of squares (the difference is then rounding noise, and the Sharpe ratio meaningless)."""

_NORMAL = NormalDist()


def skewness(returns: npt.ArrayLike) -> float:
    """Return the sample skewness ``m3 / m2**1.5`` (population moments, as in the PSR paper).

    Args:
        returns: Per-period returns, at least two, all finite.

    Returns:
        The skewness, NaN when the returns do not vary.

    Raises:
        InputError: Fewer than two returns, or a non-finite one.
    """
    m2, m3, _ = _central_moments(returns)
    return m3 / m2**1.5 if m2 > 0 else math.nan


def kurtosis(returns: npt.ArrayLike) -> float:
    """Return the sample kurtosis ``m4 / m2**2``, not excess (a normal distribution gives 3).

    Args:
        returns: Per-period returns, at least two, all finite.

    Returns:
        The kurtosis, NaN when the returns do not vary.

    Raises:
        InputError: Fewer than two returns, or a non-finite one.
    """
    m2, _, m4 = _central_moments(returns)
    return m4 / m2**2 if m2 > 0 else math.nan


def _central_moments(returns: npt.ArrayLike) -> tuple[float, float, float]:
    values = np.asarray(returns, dtype=np.float64).ravel()
    if values.size < 2:
        raise InputError("at least two returns are needed for their moments", field="returns")
    if not np.all(np.isfinite(values)):
        raise InputError("returns must be finite", field="returns")
    deviations = values - values.mean()
    squared = deviations * deviations
    return (
        float(squared.mean()),
        float((squared * deviations).mean()),
        float((squared * squared).mean()),
    )


def probabilistic_sharpe_ratio(
    sharpe: float,
    benchmark_sharpe: float,
    n_observations: int,
    skewness: float,
    kurtosis: float,
) -> float:
    """Return the probability that the true Sharpe ratio exceeds ``benchmark_sharpe``.

    ``PSR = Φ((SR - SR*) · √(T - 1) / √(1 - γ3·SR + (γ4 - 1)/4 · SR²))`` (Bailey & López de
    Prado 2012), where ``Φ`` is the standard normal distribution function.

    Args:
        sharpe: The estimated Sharpe ratio ``SR``, per period (not annualized).
        benchmark_sharpe: The benchmark ``SR*``, per period.
        n_observations: ``T``, the number of returns the estimate used (at least 2).
        skewness: ``γ3`` of the returns.
        kurtosis: ``γ4`` of the returns, not excess (3 for normal returns).

    Returns:
        A probability in [0, 1].

    Raises:
        InputError: A non-finite argument, fewer than two observations, or a skewness and
            kurtosis that no distribution has (the variance term is not positive).
    """
    _require_finite(
        sharpe=sharpe, benchmark_sharpe=benchmark_sharpe, skewness=skewness, kurtosis=kurtosis
    )
    if n_observations < 2:
        raise InputError("at least two observations are needed", field="n_observations")
    variance_term = 1.0 - skewness * sharpe + (kurtosis - 1.0) / 4.0 * sharpe * sharpe
    if not variance_term > 0:
        raise InputError(
            "skewness and kurtosis are inconsistent (kurtosis must exceed 1 + skewness²)",
            field="kurtosis",
        )
    z = (sharpe - benchmark_sharpe) * math.sqrt(n_observations - 1) / math.sqrt(variance_term)
    return _NORMAL.cdf(z)


def expected_maximum_sharpe(sharpe_variance: float, n_trials: int) -> float:
    """Return the expected best Sharpe ratio of ``n_trials`` tries that all have no edge.

    ``E[max SR] = √V · ((1 - γ) · Φ⁻¹(1 - 1/N) + γ · Φ⁻¹(1 - 1/(N·e)))`` (Bailey & López de
    Prado 2014), with ``γ`` the Euler–Mascheroni constant, ``V`` the variance of the trials'
    Sharpe ratios and ``N`` independent trials whose true Sharpe ratio is zero. One trial gives 0.

    Args:
        sharpe_variance: ``V``, the variance of the estimated Sharpe ratios across the trials,
            per period (not annualized), at least 0.
        n_trials: ``N``, the number of independent trials, from 1 to ``MAX_TRIALS``.

    Returns:
        The expected maximum Sharpe ratio, per period.

    Raises:
        InputError: A negative or non-finite variance, or ``n_trials`` out of range.
    """
    _require_finite(sharpe_variance=sharpe_variance)
    if sharpe_variance < 0:
        raise InputError("the variance of the Sharpe ratios cannot be negative", field="variance")
    if not 1 <= n_trials <= MAX_TRIALS:
        raise InputError(f"n_trials must be between 1 and {MAX_TRIALS}", field="n_trials")
    if n_trials == 1:
        return 0.0
    z_max = _NORMAL.inv_cdf(1.0 - 1.0 / n_trials)
    z_max_e = _NORMAL.inv_cdf(1.0 - 1.0 / (n_trials * math.e))
    return math.sqrt(sharpe_variance) * (
        (1.0 - EULER_MASCHERONI) * z_max + EULER_MASCHERONI * z_max_e
    )


def deflated_sharpe_ratio(
    sharpe: float,
    sharpe_variance: float,
    n_trials: int,
    n_observations: int,
    skewness: float,
    kurtosis: float,
) -> float:
    """Return the PSR of ``sharpe`` against the best Sharpe ratio luck gives in ``n_trials``.

    ``DSR = PSR(SR* = E[max SR])``: the probability that the selected strategy's true Sharpe
    ratio is above what the best of ``n_trials`` edgeless tries would show.

    Args:
        sharpe: The selected trial's Sharpe ratio, per period.
        sharpe_variance: The variance of the Sharpe ratios across all trials, per period.
        n_trials: The number of independent trials tried.
        n_observations: The number of returns behind ``sharpe``.
        skewness: Skewness of the selected trial's returns.
        kurtosis: Kurtosis of the selected trial's returns, not excess.

    Returns:
        A probability in [0, 1].

    Raises:
        InputError: As :func:`probabilistic_sharpe_ratio` and :func:`expected_maximum_sharpe`.
    """
    benchmark = expected_maximum_sharpe(sharpe_variance, n_trials)
    return probabilistic_sharpe_ratio(sharpe, benchmark, n_observations, skewness, kurtosis)


def walk_forward_efficiency(
    in_sample_annual_return: float, out_of_sample_annual_return: float
) -> float | None:
    """Return the out-of-sample annualized return as a share of the in-sample one.

    1.0 means the out-of-sample periods earned as much per year as the optimization periods;
    values near 0 or negative mean the optimized edge did not carry over.

    Args:
        in_sample_annual_return: Annualized return over the in-sample (optimization) periods.
        out_of_sample_annual_return: Annualized return over the out-of-sample periods.

    Returns:
        ``out / in``, or None when either is not finite or the in-sample return is not positive
        (a ratio to a loss or to zero has no meaning as an efficiency).
    """
    if not (math.isfinite(in_sample_annual_return) and math.isfinite(out_of_sample_annual_return)):
        return None
    if in_sample_annual_return <= 0:
        return None
    return out_of_sample_annual_return / in_sample_annual_return


@dataclass(frozen=True, eq=False)
class PboResult:
    """The outcome of combinatorially symmetric cross-validation (CSCV).

    Attributes:
        pbo: Share of the evaluated partitions whose in-sample winner ranked at or below the
            out-of-sample median (logit <= 0): the probability of backtest overfitting.
        logits: ``λ = ln(ω / (1 - ω))`` of each evaluated partition, ``ω`` the winner's
            relative out-of-sample rank.
        n_splits: Number of in-sample/out-of-sample partitions evaluated (those where at least
            one trial has an in-sample Sharpe ratio).
        n_trials: Number of trials (parameter combinations) compared.
        n_blocks: ``S``, the number of blocks the bars were split into.
        exhaustive: True when every one of the ``C(S, S/2)`` partitions was evaluated, False
            when a deterministic sample of ``MAX_PBO_SPLITS`` was (see :func:`half_splits`).
        performance_degradation: Least-squares slope of the winner's out-of-sample Sharpe ratio
            on its in-sample one across partitions (negative: the better it looked in sample,
            the worse it did out of sample); None with fewer than two partitions or no spread.
        oos_loss_rate: Share of the evaluated partitions whose in-sample winner lost money
            out of sample (negative mean return; positive when lower is better).
    """

    pbo: float
    logits: FloatArray
    n_splits: int
    n_trials: int
    n_blocks: int
    exhaustive: bool
    performance_degradation: float | None
    oos_loss_rate: float

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary (the logits as a list of floats)."""
        return {
            "pbo": self.pbo,
            "logits": [float(value) for value in self.logits],
            "n_splits": self.n_splits,
            "n_trials": self.n_trials,
            "n_blocks": self.n_blocks,
            "exhaustive": self.exhaustive,
            "performance_degradation": self.performance_degradation,
            "oos_loss_rate": self.oos_loss_rate,
        }


def probability_of_backtest_overfitting(
    block_sums: npt.ArrayLike,
    block_squares: npt.ArrayLike,
    block_lengths: npt.ArrayLike,
    *,
    higher_is_better: bool = True,
) -> PboResult:
    """Estimate the probability of backtest overfitting by CSCV from sufficient statistics.

    The bars are split into ``S`` contiguous blocks. For each way to pick ``S/2`` blocks as
    in-sample (IS; the other half is out-of-sample, OOS), every trial's Sharpe ratio (mean over
    sample standard deviation) is computed on both halves from the block sums; the IS winner
    ``n*`` gets its OOS relative rank ``ω = rank / (N + 1)`` (rank 1 = worst of ``N``), and
    ``λ = ln(ω / (1 - ω))``. PBO is the share of partitions with ``λ <= 0``.

    Ties and undefined Sharpe ratios:

    - a half whose returns are all exactly zero (a trial that stayed out) has Sharpe ratio 0;
    - a half with zero variance otherwise (see ``ZERO_VARIANCE_TOLERANCE``) has no Sharpe ratio
      (NaN): such a trial is never the IS winner, and ranks below every defined Sharpe ratio
      OOS (a winner without an OOS Sharpe ratio counts as a failure);
    - a partition where no trial has an IS Sharpe ratio is skipped (not in ``n_splits``);
    - among trials tied for the best IS Sharpe ratio the lowest index wins (as ``argmax``);
    - OOS ties share their ranks (mid-rank), so a winner tied with everyone has ``ω = 1/2``,
      ``λ = 0``, and counts as overfit.

    Args:
        block_sums: ``(N, S)`` array: ``[i, j]`` is the sum of trial ``i``'s per-bar returns in
            block ``j``.
        block_squares: ``(N, S)`` array of the sums of the squared per-bar returns.
        block_lengths: ``(S,)`` array: the number of bars in each block (each half must hold
            at least two bars).
        higher_is_better: False when the series is a cost, so the lowest Sharpe ratio wins.

    Returns:
        The :class:`PboResult`.

    Raises:
        InputError: Fewer than two trials, ``S`` odd or outside 2..64, shapes that disagree,
            non-finite values, negative squares, sums that no returns could have, halves of
            fewer than two bars, or no partition with an in-sample Sharpe ratio.
    """
    sums, squares, lengths = _validated_blocks(block_sums, block_squares, block_lengths)
    n_trials, n_blocks = sums.shape
    masks, exhaustive = half_splits(n_blocks)
    sign = 1.0 if higher_is_better else -1.0
    winners, evaluated = _in_sample_winners(sums, squares, lengths, masks, sign)
    if not evaluated.any():
        raise InputError(
            "no partition has a trial with an in-sample Sharpe ratio (all returns constant)",
            field="block_squares",
        )
    columns = np.flatnonzero(evaluated)
    winners = winners[columns]
    chosen = masks[columns]
    is_sharpe = _winner_sharpes(sums, squares, lengths, chosen, winners)[0]
    oos_sharpe, oos_mean = _winner_sharpes(sums, squares, lengths, ~chosen, winners)
    omega = _oos_rank(sums, squares, lengths, ~chosen, sign * oos_sharpe, sign) / (n_trials + 1)
    logits = np.log(omega / (1.0 - omega))
    return PboResult(
        pbo=float(np.mean(logits <= 0)),
        logits=logits,
        n_splits=int(columns.size),
        n_trials=n_trials,
        n_blocks=n_blocks,
        exhaustive=exhaustive,
        performance_degradation=_slope(is_sharpe, oos_sharpe),
        oos_loss_rate=float(np.mean(sign * oos_mean < 0)),
    )


def _trial_batches(n_trials: int, n_splits: int, n_blocks: int) -> list[slice]:
    """Trials in batches of about ``PBO_BATCH_VALUES`` half-values (trials × splits × blocks).

    Memory stays bounded however many trials there are.
    """
    size = max(PBO_BATCH_VALUES // (n_splits * n_blocks), 1)
    return [slice(start, start + size) for start in range(0, n_trials, size)]


def _in_sample_winners(
    sums: FloatArray,
    squares: FloatArray,
    lengths: FloatArray,
    masks: npt.NDArray[np.bool_],
    sign: float,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """Per partition: the trial with the best in-sample score, and whether any has one.

    Among equal scores the lowest index wins (as ``argmax`` over all trials would).
    """
    best = np.full(len(masks), -np.inf)
    winners = np.zeros(len(masks), dtype=np.intp)
    evaluated = np.zeros(len(masks), dtype=np.bool_)
    for batch in _trial_batches(*sums.shape[:1], *masks.shape):
        score = sign * _half_sharpes(sums[batch], squares[batch], lengths, masks)[0]
        evaluated |= np.isfinite(score).any(axis=0)
        score = np.where(np.isnan(score), -np.inf, score)
        local = score.argmax(axis=0)
        local_best = score[local, np.arange(len(masks))]
        better = local_best > best
        best = np.where(better, local_best, best)
        winners = np.where(better, local + batch.start, winners)
    return winners, evaluated


def _winner_sharpes(
    sums: FloatArray,
    squares: FloatArray,
    lengths: FloatArray,
    masks: npt.NDArray[np.bool_],
    winners: npt.NDArray[np.intp],
) -> tuple[FloatArray, FloatArray]:
    """Each partition's winner's Sharpe ratio and mean on the half ``masks`` selects.

    Summed exactly as :func:`_half_sharpes` sums them, so the winner ties with itself.
    """
    weights = masks.astype(np.float64)
    count = (lengths[None, :] * weights).sum(axis=1)
    total = (sums[winners] * weights).sum(axis=1)
    total_squares = (squares[winners] * weights).sum(axis=1)
    return sharpe_from_sums(count, total, total_squares)


def half_splits(n_blocks: int) -> tuple[npt.NDArray[np.bool_], bool]:
    """Return the in-sample masks of the CSCV partitions of ``n_blocks`` blocks.

    When ``C(S, S/2) <= MAX_PBO_SPLITS`` (``S <= 14``) every partition is returned, in
    ``itertools.combinations`` order. Otherwise a deterministic sample: ``MAX_PBO_SPLITS / 2``
    distinct half-sets that contain block 0, each followed by its complement (so the sample
    stays symmetric: every block is in sample exactly as often as out of sample). The half-sets
    are drawn by a partial Fisher–Yates shuffle of blocks ``1..S-1`` driven by
    ``random.Random(PBO_SAMPLE_SEED).random()`` (whose sequence Python keeps stable across
    versions), skipping repeats.

    Args:
        n_blocks: ``S``, even, from 2 to 64.

    Returns:
        ``(masks, exhaustive)``: a ``(splits, S)`` boolean array (True = in sample) and whether
        it holds every partition.
    """
    half = n_blocks // 2
    if math.comb(n_blocks, half) <= MAX_PBO_SPLITS:
        chosen = list(itertools.combinations(range(n_blocks), half))
        return _masks(chosen, n_blocks), True
    generator = random.Random(PBO_SAMPLE_SEED)
    seen: dict[tuple[int, ...], None] = {}
    while len(seen) < MAX_PBO_SPLITS // 2:
        pool = list(range(1, n_blocks))
        for i in range(half - 1):
            j = i + int(generator.random() * (len(pool) - i))
            pool[i], pool[j] = pool[j], pool[i]
        seen.setdefault((0, *sorted(pool[: half - 1])), None)
    everything = set(range(n_blocks))
    paired = [split for first in seen for split in (first, tuple(sorted(everything - set(first))))]
    return _masks(paired, n_blocks), False


def _masks(splits: list[tuple[int, ...]], n_blocks: int) -> npt.NDArray[np.bool_]:
    masks = np.zeros((len(splits), n_blocks), dtype=np.bool_)
    for row, blocks in enumerate(splits):
        masks[row, list(blocks)] = True
    return masks


def _half_sharpes(
    sums: FloatArray, squares: FloatArray, lengths: FloatArray, masks: npt.NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray]:
    """Return the ``(N, splits)`` Sharpe ratios and means on the halves that ``masks`` select.

    Each half's sums add a row's block values in block order, so a trial's figures are the
    same bits whichever batch computes them (see :func:`_winner_sharpes`).
    """
    weights = masks.astype(np.float64)
    count = (lengths[None, :] * weights).sum(axis=1)
    total = (sums[:, None, :] * weights[None]).sum(axis=2)
    total_squares = (squares[:, None, :] * weights[None]).sum(axis=2)
    return sharpe_from_sums(count, total, total_squares)


def sharpe_from_sums(
    count: npt.ArrayLike, total: npt.ArrayLike, total_squares: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Return the Sharpe ratio (mean over sample std) and mean from a sample's sums.

    Args:
        count: Number of returns (at least 2), broadcast with the others.
        total: Sum of the returns.
        total_squares: Sum of the squared returns.

    Returns:
        ``(sharpe, mean)``; the Sharpe ratio is 0 where every return is zero and NaN where the
        returns do not otherwise vary (see ``ZERO_VARIANCE_TOLERANCE``).
    """
    n = np.asarray(count, dtype=np.float64)
    s = np.asarray(total, dtype=np.float64)
    q = np.asarray(total_squares, dtype=np.float64)
    mean = s / n
    deviations = q - s * mean
    degenerate = deviations <= ZERO_VARIANCE_TOLERANCE * q
    with np.errstate(invalid="ignore", divide="ignore"):
        sharpe = mean / np.sqrt(np.where(degenerate, np.nan, deviations) / (n - 1))
    sharpe = np.where(q == 0, 0.0, np.where(degenerate, np.nan, sharpe))
    return sharpe, np.broadcast_to(mean, sharpe.shape).astype(np.float64)


def _oos_rank(
    sums: FloatArray,
    squares: FloatArray,
    lengths: FloatArray,
    masks: npt.NDArray[np.bool_],
    winner_scores: FloatArray,
    sign: float,
) -> FloatArray:
    """Each partition's winner's out-of-sample mid-rank (1 = worst) among all trials.

    Undefined scores rank lowest; counted batch by batch of trials.
    """
    target = np.where(np.isnan(winner_scores), -np.inf, winner_scores)
    below = np.zeros(len(masks))
    tied = np.full(len(masks), -1.0)  # the winner ties with itself
    for batch in _trial_batches(*sums.shape[:1], *masks.shape):
        score = sign * _half_sharpes(sums[batch], squares[batch], lengths, masks)[0]
        score = np.where(np.isnan(score), -np.inf, score)
        below += np.sum(score < target, axis=0)
        tied += np.sum(score == target, axis=0)
    rank: FloatArray = 1.0 + below + 0.5 * tied
    return rank


def _slope(x: FloatArray, y: FloatArray) -> float | None:
    finite = np.isfinite(x) & np.isfinite(y)
    if np.count_nonzero(finite) < 2:
        return None
    dx = x[finite] - x[finite].mean()
    spread = float(np.dot(dx, dx))
    if spread <= 0:
        return None
    return float(np.dot(dx, y[finite] - y[finite].mean()) / spread)


def _validated_blocks(
    block_sums: npt.ArrayLike, block_squares: npt.ArrayLike, block_lengths: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    sums = np.asarray(block_sums, dtype=np.float64)
    squares = np.asarray(block_squares, dtype=np.float64)
    lengths = np.asarray(block_lengths, dtype=np.float64)
    if sums.ndim != 2:
        raise InputError("block_sums must be a (trials, blocks) array", field="block_sums")
    n_trials, n_blocks = sums.shape
    if n_trials < 2:
        raise InputError("at least two trials are needed to compare them", field="block_sums")
    if n_blocks % 2 or not MIN_BLOCKS <= n_blocks <= MAX_BLOCKS:
        raise InputError(
            f"the number of blocks must be even, from {MIN_BLOCKS} to {MAX_BLOCKS}",
            field="block_sums",
        )
    if squares.shape != sums.shape:
        raise InputError("block_squares must have the shape of block_sums", field="block_squares")
    if lengths.shape != (n_blocks,):
        raise InputError("block_lengths needs one length per block", field="block_lengths")
    _require_finite_arrays(block_sums=sums, block_squares=squares, block_lengths=lengths)
    if np.any(lengths < 1) or np.any(lengths != np.round(lengths)):
        raise InputError("block lengths must be whole numbers of bars", field="block_lengths")
    if np.sort(lengths)[: n_blocks // 2].sum() < 2:
        raise InputError("each half needs at least two bars", field="block_lengths")
    if np.any(squares < 0):
        raise InputError("sums of squares cannot be negative", field="block_squares")
    if np.any(sums * sums > lengths * squares * (1 + 1e-9) + 1e-300):
        raise InputError(
            "a block's sum is too large for its sum of squares (sum² <= length · squares)",
            field="block_sums",
        )
    return sums, squares, lengths


def _require_finite(**values: float) -> None:
    for name, value in values.items():
        if not math.isfinite(value):
            raise InputError(f"{name} must be a finite number", field=name)


def _require_finite_arrays(**arrays: FloatArray) -> None:
    for name, array in arrays.items():
        if not np.all(np.isfinite(array)):
            raise InputError(f"{name} must hold finite numbers", field=name)
