"""The smoke test's report: one result per step, and the step names."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from privatetrade.errors import PrivatetradeError

__all__ = ["STEP_TITLES", "SmokeReport", "SmokeUnreachableError", "Status", "StepResult"]

#: Step names, in order, with what each checks.
STEP_TITLES: dict[str, str] = {
    "health": "health is 200 and ok",
    "search": "symbol search finds the symbol",
    "submit": "backtest submitted (202)",
    "progress": "progress followed to succeeded",
    "download": "result document downloads",
    "trades_csv": "trades CSV downloads",
    "equity_csv": "equity CSV downloads",
    "not_found": "unknown id is a 404 problem",
    "cleanup": "smoke backtest deleted",
}

Status = Literal["pass", "fail", "skip"]


class SmokeUnreachableError(PrivatetradeError):
    """The deployment cannot be reached at all (bad URL, connection refused, DNS).

    Attributes:
        report: The report so far (every step failed or skipped), for ``--json``.
    """

    def __init__(self, message: str, report: SmokeReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class StepResult:
    """The outcome of one smoke step.

    Attributes:
        name: Step name (a key of :data:`STEP_TITLES`).
        status: ``pass``, ``fail`` or ``skip`` (a step it needs did not pass).
        ms: Wall-clock milliseconds the step took (0 when skipped).
        detail: What was seen, or why it failed or was skipped.
    """

    name: str
    status: Status
    ms: float
    detail: str

    @property
    def passed(self) -> bool:
        """Whether the step ran and every check held."""
        return self.status == "pass"

    def to_dict(self) -> dict[str, Any]:
        """Return the step as a JSON-ready dict."""
        return {
            "name": self.name,
            "passed": self.passed,
            "skipped": self.status == "skip",
            "ms": self.ms,
            "detail": self.detail,
        }


@dataclass
class SmokeReport:
    """Every step's outcome against one deployment.

    Attributes:
        url: The deployment's base URL.
        version: The server's version from ``/api/health`` (None if unknown).
        steps: One result per step, in order.
        backtest_id: The id of the smoke backtest, once submitted.
    """

    url: str
    version: str | None = None
    steps: list[StepResult] = field(default_factory=list)
    backtest_id: str | None = None

    @property
    def passed(self) -> bool:
        """Whether every step passed."""
        return bool(self.steps) and all(step.passed for step in self.steps)

    @property
    def failed_step(self) -> str | None:
        """The name of the first failed step, if any."""
        return next((step.name for step in self.steps if step.status == "fail"), None)

    @property
    def total_ms(self) -> float:
        """The sum of the steps' times."""
        return round(sum(step.ms for step in self.steps), 1)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict."""
        return {
            "url": self.url,
            "version": self.version,
            "passed": self.passed,
            "failed_step": self.failed_step,
            "failed_steps": [step.name for step in self.steps if step.status == "fail"],
            "backtest_id": self.backtest_id,
            "total_ms": self.total_ms,
            "steps": [step.to_dict() for step in self.steps],
        }

    def to_json(self) -> str:
        """Return the report as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)
