"""Chunks of combinations: how they are evaluated, where, and where finished ones are kept.

A :class:`Problem` holds everything a chunk needs (bars, settings, the search space);
it is pickled once per run and shipped to wherever chunks run. A chunk's result is
only metrics (and the block statistics of the overfitting report), never equity
curves, so memory stays flat however many combinations run.

Runners:

- :class:`InProcessRunner`: chunks one after another in this process.
- :class:`DaskRunner`: chunks as tasks on a Dask ``distributed`` cluster. A worker
  that dies mid-chunk has its task run again by the scheduler; a chunk's result is
  taken once, by its key.

Stores keep finished chunks so a run interrupted (a server restart, a lost worker)
resumes from them: :class:`MemoryStore` (nothing kept) and :class:`DirectoryStore`
(one ``.npz`` file per chunk, written atomically).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from privatetrade.files import write_bytes_atomic
from privatetrade.research.space import Codes, SearchSpace

if TYPE_CHECKING:
    import pandas as pd

    from privatetrade.engine.settings import SimulationSettings

__all__ = [
    "ChunkResult",
    "ChunkRunner",
    "ChunkStore",
    "ChunkTask",
    "DaskRunner",
    "DirectoryStore",
    "InProcessRunner",
    "MemoryStore",
    "Problem",
    "evaluate_chunk",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Problem:
    """One optimization's fixed inputs: bars, strategy, settings, space.

    Attributes:
        bars: OHLCV bars (a frame as the engine takes them).
        space: The search space (strategy class, axes, fixed parameters).
        settings: Complete simulation settings.
        blocks: Blocks of the per-bar return statistics (0: none).
    """

    bars: pd.DataFrame
    space: SearchSpace
    settings: SimulationSettings
    blocks: int = 0


@dataclass(frozen=True)
class ChunkTask:
    """A chunk to evaluate: its key (unique within a run) and its combinations."""

    key: str
    codes: Codes


@dataclass(frozen=True)
class ChunkResult:
    """Metrics of one chunk's combinations, rows in the order of ``codes``.

    Attributes:
        codes: The combinations (axis indices).
        values: ``(n, len(SWEEP_METRICS))`` metrics.
        block_stats: ``(n, blocks, 2)`` sums and sums of squares of per-bar returns
            per block (float64), or an empty ``(n, 0, 2)`` array.
    """

    codes: Codes
    values: FloatArray
    block_stats: FloatArray = field(default_factory=lambda: np.empty((0, 0, 2)))

    def __len__(self) -> int:
        return len(self.codes)


def evaluate_chunk(problem: Problem, codes: Codes) -> ChunkResult:
    """Backtest one chunk of combinations (metrics only) with the engine's sweep path."""
    from privatetrade.engine.sweep import evaluate

    if len(codes) == 0:
        return ChunkResult(codes, np.empty((0, 0)), np.empty((0, problem.blocks, 2)))
    space = problem.space
    params = [space.params(row) for row in codes]
    result = evaluate(
        problem.bars, space.strategy, params, settings=problem.settings, blocks=problem.blocks
    )
    stats = result.block_stats
    if stats is None:
        stats = np.empty((len(codes), 0, 2))
    return ChunkResult(codes, result.values, stats)


class ChunkRunner(Protocol):
    """Evaluates chunks somewhere; yields each result as it is finished."""

    def run(
        self, problem: Problem, tasks: Sequence[ChunkTask]
    ) -> Iterator[tuple[ChunkTask, ChunkResult]]:
        """Evaluate ``tasks``; yield ``(task, result)`` in the order they finish."""
        ...

    def parallelism(self) -> int:
        """How many chunks can usefully run at once."""
        ...


class InProcessRunner:
    """Runs chunks in this process, in order."""

    def run(
        self, problem: Problem, tasks: Sequence[ChunkTask]
    ) -> Iterator[tuple[ChunkTask, ChunkResult]]:
        """Evaluate the chunks one after another."""
        for task in tasks:
            yield task, evaluate_chunk(problem, task.codes)

    def parallelism(self) -> int:
        """One chunk at a time."""
        return 1


class DaskRunner:
    """Runs chunks as tasks on a Dask cluster.

    Args:
        client: A ``distributed.Client``; None inside a Dask task, where the
            cluster's client is taken with ``worker_client`` (the task secedes from
            its worker's thread pool while it waits, so it occupies no thread).
        prefix: Prefix of the task keys (e.g. the job id and attempt), so tasks of
            different runs never share results.
    """

    def __init__(self, client: Any = None, prefix: str = "chunk") -> None:
        self._client = client
        self._prefix = prefix

    def run(
        self, problem: Problem, tasks: Sequence[ChunkTask]
    ) -> Iterator[tuple[ChunkTask, ChunkResult]]:
        """Submit every chunk; yield results as they finish (cancelled when abandoned)."""
        if not tasks:
            return
        if self._client is not None:
            yield from self._run_on(self._client, problem, tasks)
            return
        from distributed import worker_client

        with worker_client() as client:
            yield from self._run_on(client, problem, tasks)

    def _run_on(
        self, client: Any, problem: Problem, tasks: Sequence[ChunkTask]
    ) -> Iterator[tuple[ChunkTask, ChunkResult]]:
        from distributed import as_completed

        # On every worker (the problem is small: bars and settings), so the scheduler
        # places chunks by free threads, not by where the data sits.
        shared = client.scatter(problem, broadcast=True, hash=False)
        futures = {
            client.submit(
                evaluate_chunk, shared, task.codes, key=f"{self._prefix}-{task.key}", pure=False
            ): task
            for task in tasks
        }
        try:
            for future in as_completed(list(futures), loop=client.loop):  # type: ignore[no-untyped-call]
                yield futures[future], future.result()
        finally:
            pending = [future for future in futures if not future.done()]
            if pending:
                client.cancel(pending)

    def parallelism(self) -> int:
        """The cluster's threads (at least 1)."""
        client = self._client
        if client is None:
            from distributed import get_client

            client = get_client()
        try:
            info = client.scheduler_info(n_workers=-1)
        except TypeError:
            info = client.scheduler_info()
        threads = sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values())
        return max(threads, 1)


class ChunkStore(Protocol):
    """Keeps finished chunks of a run by key."""

    def load(self, key: str) -> ChunkResult | None:
        """Return the finished chunk ``key``, or None."""
        ...

    def save(self, key: str, result: ChunkResult) -> None:
        """Keep a finished chunk (atomically: a chunk is there whole or not at all)."""
        ...


class MemoryStore:
    """Keeps nothing: a run that stops starts over (the library's default)."""

    def load(self, key: str) -> ChunkResult | None:
        """Nothing is kept."""
        return None

    def save(self, key: str, result: ChunkResult) -> None:
        """Nothing is kept."""


_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


class DirectoryStore:
    """One ``<key>.npz`` file per finished chunk in a folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def load(self, key: str) -> ChunkResult | None:
        """Read a finished chunk (None when absent or unreadable: it is run again)."""
        path = self._path(key)
        try:
            with np.load(path) as data:
                return ChunkResult(data["codes"], data["values"], data["block_stats"])
        except (OSError, KeyError, ValueError):
            return None

    def save(self, key: str, result: ChunkResult) -> None:
        """Write the chunk's arrays to a temporary file and rename it into place."""
        buffer = io.BytesIO()
        np.savez(buffer, codes=result.codes, values=result.values, block_stats=result.block_stats)
        self.folder.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(self._path(key), buffer.getvalue())

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"bad chunk key {key!r}")
        return self.folder / f"{key}.npz"
