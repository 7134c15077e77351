"""Parameter optimization: grid, random or TPE search over a space, in chunks.

:func:`run_optimization` drives one search on a :class:`~privatetrade.research.chunks.Problem`:
it cuts the combinations into chunks, hands them to a runner (this process, a Dask
cluster), keeps finished chunks in a store (so an interrupted run resumes), reports
progress with the best combination so far, and assembles the table in chunk order:
the result does not depend on where or in which order chunks ran.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from privatetrade.engine.columns import SWEEP_METRICS
from privatetrade.errors import CancelledError
from privatetrade.research.chunks import (
    ChunkResult,
    ChunkRunner,
    ChunkStore,
    ChunkTask,
    InProcessRunner,
    MemoryStore,
    Problem,
)
from privatetrade.research.space import Codes, SearchSpace

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_SAMPLES",
    "METRICS",
    "TPE_BATCH",
    "CancelCheck",
    "OptimizationResult",
    "ProgressCallback",
    "chunk_size_for",
    "combination_count",
    "run_optimization",
]

METRICS = SWEEP_METRICS  # the engine's sweep columns (light module: no kernels loaded)
DEFAULT_SAMPLES = 100
TPE_BATCH = 16  # trials asked per round; fixed, so results do not depend on the executor
_BAR_EVALUATIONS_PER_CHUNK = 2_000_000
_MIN_CHUNK, _MAX_CHUNK = 16, 4_096
CHUNKS_PER_WORKER = 4
_TPE_TRIES_PER_TRIAL = 20
_INELIGIBLE_SCORE = -1e12  # what TPE is told about a combination that cannot be chosen

FloatArray = npt.NDArray[np.float64]
ProgressCallback = Callable[[int, int, "dict[str, Any] | None"], None]
CancelCheck = Callable[[], bool]


def chunk_size_for(n_bars: int, combinations: int = 0, parallelism: int = 1) -> int:
    """Combinations per chunk: about two million bar evaluations, 16 to 4,096.

    With several workers, smaller where needed so each gets at least
    :data:`CHUNKS_PER_WORKER` chunks (the work spreads evenly).
    """
    size = min(max(_BAR_EVALUATIONS_PER_CHUNK // max(n_bars, 1), _MIN_CHUNK), _MAX_CHUNK)
    if parallelism > 1 and combinations:
        even = -(-combinations // (parallelism * CHUNKS_PER_WORKER))
        size = max(min(size, even), _MIN_CHUNK)
    return size


def combination_count(space: SearchSpace, method: str, samples: int | None, cap: int) -> int:
    """Return how many combinations a search runs (above ``cap`` means: too many).

    A grid runs every valid combination; random and TPE run ``samples`` (at most
    the valid grid).
    """
    if method == "grid":
        return space.count_grid(cap)
    wanted = samples or DEFAULT_SAMPLES
    if space.grid_size() <= 4 * cap:
        return min(wanted, space.valid_count())
    return wanted


@dataclass
class _Best:
    """The best eligible combination seen so far."""

    objective: str
    min_trades: int
    score: float = -math.inf
    codes: Codes | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    def offer(self, result: ChunkResult) -> None:
        scores = _scores(result.values, self.objective, self.min_trades)
        if len(scores) == 0:
            return
        index = int(np.argmax(scores))
        if scores[index] > self.score:
            self.score = float(scores[index])
            self.codes = result.codes[index].copy()
            self.metrics = dict(zip(METRICS, result.values[index].tolist(), strict=True))

    def describe(self, space: SearchSpace) -> dict[str, Any] | None:
        if self.codes is None:
            return None
        return {
            "params": space.searched(self.codes),
            "objective": self.objective,
            "value": _finite_or_none(self.metrics.get(self.objective, math.nan)),
            "trades": int(self.metrics.get("trade_count", 0)),
        }


def _scores(values: FloatArray, objective: str, min_trades: int) -> FloatArray:
    """The objective per row; -inf where not eligible (too few trades, undefined)."""
    if values.size == 0:
        return np.empty(0)
    score = values[:, METRICS.index(objective)]
    eligible = np.isfinite(score) & (values[:, METRICS.index("trade_count")] >= min_trades)
    return np.where(eligible, score, -np.inf)


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class OptimizationResult:
    """Every combination's metrics, the best one, and how they were found.

    Attributes:
        space: The search space.
        method: ``grid``, ``random`` or ``tpe``.
        objective: The metric maximized.
        min_trades: Fewer trades make a combination ineligible.
        codes: ``(n, len(space.axes))`` axis indices per combination, in run order.
        values: ``(n, len(METRICS))`` metrics per combination.
        block_stats: ``(n, blocks, 2)`` per-block return sums (for PBO).
        n_bars: Bars each combination ran on.
        seconds: Wall time of the search.
        resumed: Chunks taken from the store instead of run.
    """

    space: SearchSpace
    method: str
    objective: str
    min_trades: int
    codes: Codes
    values: FloatArray
    block_stats: FloatArray
    n_bars: int
    seconds: float = 0.0
    resumed: int = 0

    def __len__(self) -> int:
        return len(self.codes)

    def column(self, metric: str) -> FloatArray:
        """One metric for every combination."""
        return self.values[:, METRICS.index(metric)]

    @property
    def scores(self) -> FloatArray:
        """The objective per combination; -inf where not eligible."""
        return _scores(self.values, self.objective, self.min_trades)

    @property
    def eligible(self) -> npt.NDArray[np.bool_]:
        """Which combinations may be chosen (enough trades, objective defined)."""
        return np.isfinite(self.scores)

    @property
    def best_index(self) -> int | None:
        """Row of the best eligible combination (the first of equals), or None."""
        scores = self.scores
        if len(scores) == 0 or not np.isfinite(scores).any():
            return None
        return int(np.argmax(scores))

    def row(self, index: int) -> dict[str, Any]:
        """One combination: its searched parameters, all parameters and metrics."""
        codes = self.codes[index]
        metrics = {
            name: _finite_or_none(float(v))
            for name, v in zip(METRICS, self.values[index], strict=True)
        }
        metrics["trade_count"] = int(self.values[index, METRICS.index("trade_count")])
        return {
            "params": self.space.searched(codes),
            "all_params": self.space.params(codes),
            "metrics": metrics,
        }

    @property
    def best(self) -> dict[str, Any] | None:
        """The best eligible combination (see :meth:`row`), or None when none is eligible."""
        index = self.best_index
        return None if index is None else self.row(index)

    def ranking(self) -> npt.NDArray[np.intp]:
        """Row indices of eligible combinations, best first (stable among equals)."""
        scores = self.scores
        order = np.argsort(-scores, kind="stable")
        return order[np.isfinite(scores[order])]

    def top(self, count: int) -> list[dict[str, Any]]:
        """The ``count`` best eligible combinations, best first, with their rank."""
        return [
            {"rank": rank, **self.row(int(index))}
            for rank, index in enumerate(self.ranking()[:count], start=1)
        ]

    def to_frame(self) -> pd.DataFrame:
        """One row per combination: searched parameters, metrics, eligible, rank."""
        import pandas as pd

        data: dict[str, Any] = {}
        for position, (name, axis) in enumerate(self.space.axes.items()):
            data[name] = (
                pd.Series(axis, dtype=_dtype(axis)).take(self.codes[:, position]).to_numpy()
            )
        for position, name in enumerate(METRICS):
            data[name] = self.values[:, position]
        data["trade_count"] = self.values[:, METRICS.index("trade_count")].astype(np.int64)
        data["eligible"] = self.eligible
        rank = np.zeros(len(self), dtype=np.int64)
        rank[self.ranking()] = np.arange(1, int(self.eligible.sum()) + 1)
        data["rank"] = rank
        return pd.DataFrame(data)


def _dtype(axis: Sequence[Any]) -> str:
    if all(isinstance(v, bool) for v in axis):
        return "bool"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in axis):
        return "int64"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in axis):
        return "float64"
    return "object"


def run_optimization(
    problem: Problem,
    *,
    method: str = "grid",
    samples: int | None = None,
    seed: int = 0,
    objective: str = "sharpe",
    min_trades: int = 1,
    runner: ChunkRunner | None = None,
    store: ChunkStore | None = None,
    key_prefix: str = "",
    chunk_size: int | None = None,
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
) -> OptimizationResult:
    """Search ``problem.space`` and return every combination's metrics.

    Args:
        problem: Bars, space, settings.
        method: ``grid``, ``random`` or ``tpe``.
        samples: Combinations (random) or trials (tpe); :data:`DEFAULT_SAMPLES` if None.
        seed: Seed of random and TPE.
        objective: Metric maximized (a name of :data:`METRICS`).
        min_trades: Fewer trades make a combination ineligible.
        runner: Where chunks run (this process by default).
        store: Where finished chunks are kept (nowhere by default).
        key_prefix: Prefix of chunk keys in the store (e.g. a walk-forward window).
        chunk_size: Combinations per chunk (grid, random); by bar count if None.
        progress: Called with (combinations done, total, best so far) after each chunk.
        cancelled: Checked between chunks; True stops the search (CancelledError).

    Raises:
        CancelledError: ``cancelled`` said so.
    """
    if objective not in METRICS:
        raise ValueError(f"unknown objective {objective!r}")
    started = time.perf_counter()
    runner = runner or InProcessRunner()
    search = _Search(
        problem,
        runner,
        store or MemoryStore(),
        key_prefix,
        _Best(objective, min_trades),
        progress,
        cancelled or (lambda: False),
    )
    if method == "tpe":
        results = search.tpe(samples or DEFAULT_SAMPLES, seed)
    else:
        codes = (
            problem.space.grid()
            if method == "grid"
            else problem.space.sample(samples or DEFAULT_SAMPLES, seed)
        )
        size = chunk_size or chunk_size_for(len(problem.bars), len(codes), runner.parallelism())
        results = search.batch(codes, size)
    return _assemble(problem, method, objective, min_trades, results, started, search.resumed)


def _assemble(
    problem: Problem,
    method: str,
    objective: str,
    min_trades: int,
    results: list[ChunkResult],
    started: float,
    resumed: int,
) -> OptimizationResult:
    axes = len(problem.space.axes)
    parts = [r for r in results if len(r)]
    codes = np.concatenate([r.codes for r in parts]) if parts else np.empty((0, axes), np.int32)
    values = np.concatenate([r.values for r in parts]) if parts else np.empty((0, len(METRICS)))
    blocks = (
        np.concatenate([r.block_stats for r in parts])
        if parts
        else np.empty((0, problem.blocks, 2))
    )
    return OptimizationResult(
        problem.space,
        method,
        objective,
        min_trades,
        codes.astype(np.int32, copy=False),
        values,
        blocks,
        len(problem.bars),
        time.perf_counter() - started,
        resumed,
    )


class _Search:
    """One search's chunks: resumed from the store, run, saved, reported."""

    def __init__(
        self,
        problem: Problem,
        runner: ChunkRunner,
        store: ChunkStore,
        prefix: str,
        best: _Best,
        progress: ProgressCallback | None,
        cancelled: CancelCheck,
    ) -> None:
        self.problem = problem
        self.runner = runner
        self.store = store
        self.prefix = prefix
        self.best = best
        self.progress = progress
        self.cancelled = cancelled
        self.done = 0
        self.total = 0
        self.resumed = 0

    def batch(self, codes: Codes, size: int) -> list[ChunkResult]:
        """Run fixed chunks of ``codes`` (grid, random); results in chunk order."""
        self.total = len(codes)
        tasks = [
            ChunkTask(f"{self.prefix}c{index:06d}", codes[start : start + size])
            for index, start in enumerate(range(0, len(codes), size))
        ]
        finished: dict[str, ChunkResult] = {}
        pending = []
        for task in tasks:
            stored = self.store.load(task.key)
            if stored is not None and np.array_equal(stored.codes, task.codes):
                finished[task.key] = stored
                self.resumed += 1
                self._finished(stored, save=None)
            else:
                pending.append(task)
        self._check_cancel()
        for task, result in self.runner.run(self.problem, pending):
            finished[task.key] = result
            self._finished(result, save=task.key)
            self._check_cancel()
        return [finished[task.key] for task in tasks]

    def _finished(self, result: ChunkResult, save: str | None) -> None:
        if save is not None:
            self.store.save(save, result)
        self.done += len(result)
        self.best.offer(result)
        if self.progress is not None:
            self.progress(self.done, self.total, self.best.describe(self.problem.space))

    def _check_cancel(self) -> None:
        if self.cancelled():
            raise CancelledError("cancelled")

    def tpe(self, trials: int, seed: int) -> list[ChunkResult]:
        """Run TPE rounds of :data:`TPE_BATCH` trials (rounds kept in the store)."""
        tuner = _Tpe(self.problem.space, seed, self.best.objective, self.best.min_trades)
        self.total = min(trials, tuner.capacity)
        results: list[ChunkResult] = []
        round_index = 0
        while self.done < self.total:
            key = f"{self.prefix}t{round_index:06d}"
            stored = self.store.load(key)
            if stored is not None:
                self.resumed += 1
                tuner.replay(stored)
                result, save = stored, None
            else:
                codes = tuner.ask(min(TPE_BATCH, self.total - self.done))
                if len(codes) == 0:
                    break  # every valid combination was tried
                _, result = next(iter(self.runner.run(self.problem, [ChunkTask(key, codes)])))
                tuner.tell(result)
                save = key
            results.append(result)
            self._finished(result, save)
            self._check_cancel()
            round_index += 1
        return results


class _Tpe:
    """Optuna's TPE sampler over axis indices (ordered for numbers, categories otherwise).

    Proposals that break the strategy's rules or repeat a tried combination are told
    back at once and replaced (bounded tries), so every evaluated row is new and valid.
    """

    def __init__(self, space: SearchSpace, seed: int, objective: str, min_trades: int) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.space = space
        self.objective = objective
        self.min_trades = min_trades
        self.study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=seed, multivariate=True),
        )
        self.distributions = {name: _distribution(axis) for name, axis in space.axes.items()}
        self.tried: dict[tuple[int, ...], float] = {}
        self._pending: list[Any] = []  # asked trials awaiting their values
        self.capacity = space.valid_count() if space.grid_size() <= 4_000_000 else 2**62

    def ask(self, count: int) -> Codes:
        import optuna

        rows: list[tuple[int, ...]] = []
        for _ in range(count * _TPE_TRIES_PER_TRIAL):
            if len(rows) == count:
                break
            trial = self.study.ask(self.distributions)
            row = tuple(int(trial.params[name]) for name in self.space.axes)
            if row in self.tried or row in rows:
                self.study.tell(trial, self.tried.get(row, _INELIGIBLE_SCORE))
                continue
            if not self.space.valid(np.array([row], dtype=np.int32))[0]:
                self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
                continue
            rows.append(row)
            self._pending.append(trial)
        return np.array(rows, dtype=np.int32).reshape(len(rows), len(self.space.axes))

    def tell(self, result: ChunkResult) -> None:
        scores = _scores(result.values, self.objective, self.min_trades)
        for trial, row, score in zip(self._pending, result.codes, scores, strict=True):
            value = float(score) if math.isfinite(score) else _INELIGIBLE_SCORE
            self.study.tell(trial, value)
            self.tried[tuple(int(c) for c in row)] = value
        self._pending.clear()

    def replay(self, result: ChunkResult) -> None:
        """Add a stored round's trials to the study (a resumed run)."""
        import optuna

        scores = _scores(result.values, self.objective, self.min_trades)
        for row, score in zip(result.codes, scores, strict=True):
            value = float(score) if math.isfinite(score) else _INELIGIBLE_SCORE
            params = {name: int(code) for name, code in zip(self.space.axes, row, strict=True)}
            self.study.add_trial(
                optuna.trial.create_trial(
                    params=params, distributions=self.distributions, value=value
                )
            )
            self.tried[tuple(int(c) for c in row)] = value


def _distribution(axis: Sequence[Any]) -> Any:
    from optuna.distributions import CategoricalDistribution, IntDistribution

    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in axis)
    if numeric and list(axis) == sorted(axis):
        return IntDistribution(0, max(len(axis) - 1, 0))
    return CategoricalDistribution(list(range(len(axis))))
