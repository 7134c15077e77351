"""Job kinds and their specs: a job row holds a kind and that kind's spec document.

The kind is the discriminator of the spec union: :func:`parse_spec` reads a stored
spec with the model registered for its kind. Adding a kind adds its spec model here
and its module under ``privatetrade.jobs.kinds`` (see docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel

from privatetrade.domain.data_updates import DataUpdateSpec
from privatetrade.domain.portfolio import PortfolioSpec
from privatetrade.domain.research import SweepSpec, WalkForwardSpec
from privatetrade.domain.scan import ScanSpec
from privatetrade.domain.specs import BacktestSpec
from privatetrade.errors import InputError

__all__ = ["SPEC_TYPES", "JobKind", "JobLabels", "JobSpec", "parse_spec"]


class JobKind(StrEnum):
    """What a job does; stored in the job row."""

    BACKTEST = "backtest"
    DATA_UPDATE = "data_update"
    SWEEP = "sweep"
    WALKFORWARD = "walkforward"
    SCAN = "scan"
    PORTFOLIO = "portfolio"


@dataclass(frozen=True, slots=True)
class JobLabels:
    """What job listings show and filter by, whatever the kind.

    Attributes:
        symbol: The stock (or the first of several), as the catalog spells it.
        strategy: The strategy's registry name (or the kind's own label).
    """

    symbol: str
    strategy: str


# The union of every kind's spec. A research spec is a backtest spec plus a search:
# tell kinds apart by the job's kind, not by isinstance on BacktestSpec.
JobSpec = BacktestSpec | DataUpdateSpec | SweepSpec | WalkForwardSpec | ScanSpec | PortfolioSpec

SPEC_TYPES: Mapping[JobKind, type[BaseModel]] = {
    JobKind.BACKTEST: BacktestSpec,
    JobKind.DATA_UPDATE: DataUpdateSpec,
    JobKind.SWEEP: SweepSpec,
    JobKind.WALKFORWARD: WalkForwardSpec,
    JobKind.SCAN: ScanSpec,
    JobKind.PORTFOLIO: PortfolioSpec,
}


def parse_spec(kind: str, text: str | bytes) -> JobSpec:
    """Rebuild a stored spec with the model of its kind.

    Raises:
        InputError: Unknown kind (``field`` is ``kind``).
    """
    try:
        model = SPEC_TYPES[JobKind(kind)]
    except ValueError as exc:
        raise InputError(f"unknown job kind {kind!r}", field="kind") from exc
    spec: JobSpec = model.model_validate_json(text)  # type: ignore[assignment]
    return spec
