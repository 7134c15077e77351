"""The rule strategy pages: the caller's saved rule strategies and the rule builder.

``/rules`` lists the caller's rule strategies (edit, backtest, export, delete) and
imports an exported JSON file; ``/rules/new`` and ``/rules/{id}`` are the builder
(``static/js/rules_builder.js``), which edits the rule document (docs/rules.md),
previews its signals on a stock's chart and saves it through the JSON API
(``/api/rule-strategies``, ``/api/rules/preview``). Someone else's id, or one that
does not exist, is the same *Not found* page as every other owned thing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from privatetrade.web.auth import Caller
from privatetrade.web.context import system_of
from privatetrade.web.security import CHART_PAGE_POLICY, CSP_HEADER
from privatetrade.web.ui.pages import not_found
from privatetrade.web.ui.render import signed_in, to_login, user_page

__all__ = ["owned_rule", "router"]

router = APIRouter(include_in_schema=False)


def owned_rule(request: Request, caller: Caller, strategy_id: str) -> dict[str, Any] | None:
    """The caller's saved rule strategy as the builder starts from it, or None.

    None when it does not exist, was deleted or belongs to someone else.
    """
    found = system_of(request).rule_strategies.get(caller.user.id, strategy_id)
    if found is None:
        return None
    return {
        "id": found.id,
        "name": found.name,
        "description": found.description,
        "version": found.version,
        "document": found.document,
    }


def _builder(request: Request, caller: Caller, rule: dict[str, Any] | None) -> Response:
    response = user_page(request, caller, "rules_builder.html", rule=rule, js={"rule": rule})
    response.headers[CSP_HEADER] = CHART_PAGE_POLICY  # the preview's Plotly chart
    return response


@router.get("/rules")
def rule_list(request: Request) -> Response:
    """The caller's rule strategies; new, import, edit, backtest, export, delete."""
    caller = signed_in(request)
    if caller is None:
        return to_login(request)
    return user_page(request, caller, "rules.html")


@router.get("/rules/new")
def new_rule(request: Request) -> Response:
    """The builder with a new rule strategy (one condition to start from)."""
    caller = signed_in(request)
    if caller is None:
        return to_login(request)
    return _builder(request, caller, None)


@router.get("/rules/{strategy_id}")
def edit_rule(request: Request, strategy_id: str) -> Response:
    """The builder with the caller's saved rule strategy (its latest version)."""
    caller = signed_in(request)
    if caller is None:
        return to_login(request)
    rule = owned_rule(request, caller, strategy_id)
    if rule is None:
        return not_found(request, caller)
    return _builder(request, caller, rule)
