"""What every job kind provides: ``check`` at submit time and ``run`` in the worker."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from privatetrade.domain.artifacts import Artifact
from privatetrade.domain.kinds import JobKind, JobLabels, JobSpec

if TYPE_CHECKING:
    from privatetrade.data.market_data import MarketData
    from privatetrade.engine.simulation import CancelToken

__all__ = ["JobKindHandler", "KindContext", "RunOutput", "StageCallback"]

SpecT = TypeVar("SpecT", bound=JobSpec)


class StageCallback(Protocol):
    """Reports a running job's stage and progress (0..1), and optionally live figures.

    ``summary`` (e.g. a search's best combination so far) is shown with the job's
    progress while it runs; the finished job's summary replaces it.
    """

    def __call__(
        self, stage: str, fraction: float, summary: Mapping[str, Any] | None = None
    ) -> None:
        """Record the stage."""
        ...


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class KindContext:
    """What a kind may use to check and run a spec.

    Attributes:
        market_data: The market data of the data directory.
        max_bars: Most bars one backtest (or one leg of a larger job) may use.
        data_provider: The configured data provider (None: offline), the default of
            data updates at submission.
        clock: The current time (UTC), e.g. the last closed session of a data update.
        max_combinations: Most combinations one optimization (or walk-forward, over
            all windows) of the submitting user may run (None: no limit).
        scratch: A folder of the job that outlives its attempts (None: none, e.g. at
            submit time): finished chunks are kept there so a new attempt resumes.
        run_key: Unique per job attempt (job id and attempt), e.g. for task names.
        max_symbols: Most symbols one universe (a scan, a portfolio) may hold
            (None: the specs' own bound, 2,000).
    """

    market_data: MarketData
    max_bars: int | None = None
    data_provider: str | None = None
    clock: Callable[[], dt.datetime] = _utc_now
    max_combinations: int | None = None
    scratch: Path | None = None
    run_key: str = ""
    max_symbols: int | None = None


@dataclass(frozen=True)
class RunOutput:
    """What a finished run leaves: named artifacts and a few key figures for listings."""

    artifacts: tuple[Artifact, ...]
    summary: dict[str, Any] = field(default_factory=dict)


class JobKindHandler(Protocol[SpecT]):
    """One kind of job. Implementations live in ``privatetrade.jobs.kinds.<kind>``.

    ``SpecT`` is the kind's spec model; the worker hands each handler only specs of its
    kind (the job row's kind chooses both the model and the handler).
    """

    kind: JobKind

    def check(self, spec: SpecT, context: KindContext) -> SpecT:
        """Check everything that can be checked without running; return the normalized spec.

        Raises:
            InputError: ``field`` names the offending spec field.
        """
        ...

    def labels(self, spec: SpecT) -> JobLabels:
        """What job listings show and filter by for this spec."""
        ...

    def run(
        self, spec: SpecT, context: KindContext, stage: StageCallback, cancel: CancelToken
    ) -> RunOutput:
        """Run the spec (in a worker process), reporting stages; stop when ``cancel`` is set."""
        ...
