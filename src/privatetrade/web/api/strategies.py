"""``GET /api/strategies``: the registry, with each strategy's parameter schema."""

from __future__ import annotations

from fastapi import APIRouter

from privatetrade.web.problems import ProblemError, problem_responses
from privatetrade.web.schemas import StrategyOut

router = APIRouter(prefix="/api/strategies", tags=["strategies"])


def _all() -> list[StrategyOut]:
    from privatetrade.engine.api import default_registry

    return [StrategyOut.model_validate(entry) for entry in default_registry().describe()]


@router.get("", response_model=list[StrategyOut])
def list_strategies() -> list[StrategyOut]:
    """List the installed strategies with their parameters' JSON Schema and defaults."""
    return _all()


@router.get(
    "/{name}",
    response_model=StrategyOut,
    responses=problem_responses({404: "No such strategy", 422: "Invalid input"}),
)
def get_strategy(name: str) -> StrategyOut:
    """Describe one strategy."""
    for strategy in _all():
        if strategy.name == name:
            return strategy
    raise ProblemError(404, f"no strategy named {name!r}")
