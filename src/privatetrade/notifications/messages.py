"""What a message says: title, text and link, in the channel's language.

The sentences come from the pages' message catalogs (``web/locales/<lang>.json``, keys
``notify.*`` plus the pages' names of kinds, metrics and failure reasons), so a message
reads like the result page. The files are read as data; nothing of the web layer is
imported.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from privatetrade.domain.jobs import Job
from privatetrade.domain.kinds import JobKind
from privatetrade.domain.notifications import NotificationEvent, OutboxMessage

__all__ = ["LANGUAGES", "Rendered", "job_path", "render", "translate"]

LANGUAGES = ("en", "ko")
_LOCALES = Path(__file__).resolve().parent.parent / "web" / "locales"
_PAGES = {
    JobKind.BACKTEST: "/backtests/{id}",
    JobKind.SWEEP: "/research/{id}",
    JobKind.WALKFORWARD: "/research/{id}",
    JobKind.SCAN: "/scans/{id}",
    JobKind.PORTFOLIO: "/portfolios/{id}",
    JobKind.DATA_UPDATE: "/api/jobs/{id}",
}
_PERCENT = ("total_return", "cagr", "max_drawdown")
_RATIO = ("sharpe",)


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message ready to send.

    Attributes:
        title: One line (an e-mail's subject).
        text: The body (plain text, lines).
        link: Absolute URL of the result (or what the alert points at), if any.
        data: The facts in machine form (the webhook's ``run`` or ``alert`` object).
    """

    title: str
    text: str
    link: str | None
    data: dict[str, Any] = field(default_factory=dict)


@cache
def _catalog(language: str) -> dict[str, str]:
    english: dict[str, str] = json.loads((_LOCALES / "en.json").read_text(encoding="utf-8"))
    if language == "en":
        return english
    own: dict[str, str] = json.loads((_LOCALES / f"{language}.json").read_text(encoding="utf-8"))
    return {**english, **own}


def translate(language: str, key: str, **values: Any) -> str:
    """The catalog's message ``key`` in ``language`` (English, then the key, as fallbacks)."""
    text = _catalog(language if language in LANGUAGES else "en").get(key, key)
    return text.format(**values) if values else text


def job_path(job: Job) -> str:
    """The path of the job's result page."""
    return _PAGES.get(job.kind, "/api/jobs/{id}").format(id=job.id)


def absolute(base_url: str, link: str | None) -> str | None:
    """``link`` joined to the public base URL (absolute links stay as they are)."""
    if link is None or "://" in link:
        return link
    return base_url.rstrip("/") + "/" + link.lstrip("/")


def render(
    message: OutboxMessage,
    job: Job | None,
    *,
    language: str,
    base_url: str,
    channel_name: str,
) -> Rendered:
    """Compose the message of an outbox row (its run read now, or its payload)."""
    if message.event in (
        NotificationEvent.RUN_SUCCEEDED,
        NotificationEvent.RUN_FAILED,
        NotificationEvent.RUN_CANCELLED,
    ):
        return _run_message(message, job, language, base_url)
    payload = message.payload or {}
    if message.event is NotificationEvent.TEST:
        return Rendered(
            translate(language, "notify.test.title"),
            translate(language, "notify.test.text", name=channel_name),
            None,
            {"test": True},
        )
    title = _localized(payload.get("title"), language) or message.event.value
    text = _localized(payload.get("text"), language) or ""
    link = absolute(base_url, payload.get("link"))
    return Rendered(title, text, link, {"alert": {**payload, "title": title, "text": text}})


def _localized(value: Any, language: str) -> str | None:
    if isinstance(value, dict):
        chosen = value.get(language) or value.get("en") or next(iter(value.values()), None)
        return None if chosen is None else str(chosen)
    return None if value is None else str(value)


def _run_message(message: OutboxMessage, job: Job | None, language: str, base_url: str) -> Rendered:
    state = message.event.value.removeprefix("run_")
    if job is None:  # deleted since it ended
        title = translate(language, f"notify.title.{message.event.value}", kind="", label="")
        text = translate(language, "notify.deleted", id=message.job_id or "")
        return Rendered(title.strip(), text, None, {"run": {"id": message.job_id, "state": state}})
    kind = translate(language, f"notify.kind.{job.kind.value}")
    label = _label(job)
    title = translate(language, f"notify.title.{message.event.value}", kind=kind, label=label)
    lines = [_figures(job, language)] if message.event is NotificationEvent.RUN_SUCCEEDED else []
    if message.event is NotificationEvent.RUN_FAILED:
        reason = job.reason.value if job.reason is not None else "internal_error"
        lines.append(
            translate(language, "notify.reason", reason=translate(language, f"reason.{reason}"))
        )
        if job.error:
            lines.append(translate(language, "notify.detail", detail=job.error[:500]))
    link = absolute(base_url, job_path(job))
    lines.append(translate(language, "notify.link", url=link))
    run = {
        "id": job.id,
        "kind": job.kind.value,
        "state": job.state.value,
        "symbol": getattr(job.spec, "symbol", None),
        "strategy": getattr(job.spec, "strategy", None),
        "reason": None if job.reason is None else job.reason.value,
        "error": job.error,
        "summary": job.summary,
        "created_at": job.created_at.isoformat(),
        "finished_at": None if job.finished_at is None else job.finished_at.isoformat(),
    }
    return Rendered(title, "\n".join(line for line in lines if line), link, {"run": run})


def _label(job: Job) -> str:
    spec = job.spec
    symbol = getattr(spec, "symbol", None)
    strategy = getattr(spec, "strategy", None)
    parts = [str(part) for part in (symbol, strategy) if part]
    return " · ".join(parts) if parts else job.id[:8]


def _figures(job: Job, language: str) -> str:
    summary = job.summary or {}
    lines = []
    for name in ("total_return", "sharpe", "max_drawdown"):
        value = summary.get(name)
        if isinstance(value, int | float) and math.isfinite(value):
            shown = _number(name, float(value))
            lines.append(
                translate(
                    language,
                    "notify.figure",
                    name=translate(language, f"metric.{name}"),
                    value=shown,
                )
            )
    best = summary.get("best")
    if isinstance(best, dict) and isinstance(best.get("params"), dict):
        params = ", ".join(f"{key}={value}" for key, value in best["params"].items())
        lines.append(translate(language, "notify.best_params", params=params))
        objective, value = summary.get("objective"), best.get("value")
        if objective and isinstance(value, int | float) and math.isfinite(value):
            lines.append(
                translate(
                    language,
                    "notify.figure",
                    name=translate(language, f"metric.{objective}"),
                    value=_number(str(objective), float(value)),
                )
            )
    elif isinstance(best, list) and best:
        symbols = ", ".join(str(row.get("symbol")) for row in best if isinstance(row, dict))
        lines.append(translate(language, "notify.best_symbols", symbols=symbols))
    if job.kind is JobKind.DATA_UPDATE:
        counts = {name: summary.get(name, 0) for name in ("updated", "up_to_date", "failed")}
        lines.append(translate(language, "notify.update_counts", **counts))
    return "\n".join(lines)


def _number(name: str, value: float) -> str:
    if name in _PERCENT:
        return f"{value * 100:+.2f}%" if name != "max_drawdown" else f"{value * 100:.2f}%"
    if name in _RATIO:
        return f"{value:.2f}"
    return f"{value:.4g}"
