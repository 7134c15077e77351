"""The job service: check a spec, enforce limits, create the row, wake the dispatcher.

Everything a submission can get wrong is found here, before anything is queued.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from privatetrade.db.jobs import JobRepository
from privatetrade.domain.jobs import Job
from privatetrade.domain.specs import BacktestSpec
from privatetrade.errors import ConfigurationError, InputError, ParameterError, StrategyError

if TYPE_CHECKING:
    from privatetrade.data.market_data import MarketData

__all__ = ["JobService", "LimitExceededError", "Submission"]


class LimitExceededError(Exception):
    """The owner has too many jobs queued or running."""

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Submission:
    """The outcome of a submit: the job, and False when an idempotent repeat."""

    job: Job
    created: bool


class JobService:
    """Submits backtests after checking them completely."""

    def __init__(
        self,
        repository: JobRepository,
        market_data: MarketData,
        *,
        max_bars: int,
        max_active_jobs: int,
        on_submitted: Callable[[], None] = lambda: None,
    ) -> None:
        self.repository = repository
        self.market_data = market_data
        self.max_bars = max_bars
        self.max_active_jobs = max_active_jobs
        self.on_submitted = on_submitted

    def check(self, spec: BacktestSpec) -> int:
        """Check everything about a spec that can be checked without running it.

        Returns the number of bars the run will use.

        Raises:
            InputError: Naming the spec field (``symbol``, ``params.fast``, ``costs``...).
        """
        from privatetrade.engine.api import default_registry, make_settings
        from privatetrade.jobs.runner import prepare_run

        try:
            default_registry().build(spec.strategy, spec.params)
        except ParameterError as exc:
            field = f"params.{exc.field}" if exc.field else "params"
            raise ParameterError(str(exc), field=field) from exc
        except StrategyError as exc:
            raise InputError(str(exc), field="strategy") from exc
        run = prepare_run(spec, self.market_data, max_bars=self.max_bars)
        try:
            make_settings(
                market=run.market,
                cash=run.capital,
                costs=run.costs,
                sizing=spec.sizing,
                stops=spec.stops,
                fill_at=spec.fill_at,
            )
        except ConfigurationError as exc:
            where = "capital" if exc.field == "initial_cash" else exc.field
            raise ConfigurationError(str(exc), field=where) from exc
        return len(run.bars)

    def submit(
        self, owner: str, spec: BacktestSpec, *, idempotency_key: str | None = None
    ) -> Submission:
        """Check, enforce the owner's limits, and queue the backtest.

        Raises:
            InputError: The spec is invalid.
            LimitExceededError: Too many active jobs.
            IdempotencyConflictError: The key was used with another spec.
        """
        if idempotency_key is not None:
            existing = self.repository.find_idempotent(owner, idempotency_key, spec)
            if existing is not None:
                return Submission(existing, False)
        self.check(spec)
        if self.repository.count_active(owner) >= self.max_active_jobs:
            raise LimitExceededError(
                f"{self.max_active_jobs} jobs are already queued or running; "
                "wait for some to finish"
            )
        job, created = self.repository.create(
            uuid.uuid4().hex, owner, spec, idempotency_key=idempotency_key
        )
        if created:
            self.on_submitted()
        return Submission(job, created)
