"""The self-contained HTML report of a result: charts, metrics and trades in one file.

Everything the report needs is inside it (Plotly's JavaScript from the ``plotly``
package, our chart script, the styles, the result document and the price bars), so it
opens offline, without the server, years later.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from privatetrade import __version__
from privatetrade.domain.jobs import Job
from privatetrade.web.security import report_policy, script_hash
from privatetrade.web.ui.i18n import Preferences, catalog, notices
from privatetrade.web.ui.render import templates

__all__ = ["Report", "plotly_js", "plotly_js_path", "render_report"]

# Inlined in this order: Plotly, then our scripts (Plotly's Korean locale, PTFormat,
# PTCharts, the report's own).
_OUR_SCRIPTS = (
    "js/plotly_locale.js",
    "js/format.js",
    "js/charts.js",
    "js/price_chart.js",
    "js/result_tables.js",
    "js/table_cards.js",
    "js/report.js",
)

_STATIC = Path(__file__).resolve().parent / "static"


def plotly_js_path() -> Path:
    """Where the installed ``plotly`` package keeps its minified JavaScript."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise RuntimeError("the plotly package is not installed")
    return Path(spec.origin).resolve().parent / "package_data" / "plotly.min.js"


@cache
def plotly_js() -> str:
    """Plotly's JavaScript, read once."""
    return plotly_js_path().read_text(encoding="utf-8")


@cache
def _static_text(name: str) -> str:
    return (_STATIC / name).read_text(encoding="utf-8")


@cache
def _inline_scripts() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The report's scripts and their CSP hashes (Plotly's 4 MB are hashed once)."""
    scripts = (plotly_js(), *(_static_text(name) for name in _OUR_SCRIPTS))
    return scripts, tuple(script_hash(script) for script in scripts)


@dataclass(frozen=True, slots=True)
class Report:
    """A rendered report and the Content-Security-Policy to serve it with.

    The document carries the same policy in a ``<meta>`` element (it applies when the
    file is opened from disk); the header adds ``frame-ancestors``.
    """

    html: str
    content_security_policy: str


def _script_json(value: Any) -> str:
    """JSON that is safe inside a ``<script>`` element (no ``</script>`` can appear)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).replace(
        "<", "\\u003c"
    )


def render_report(
    *,
    job: Job,
    document: bytes,
    bars: dict[str, Any] | None,
    analysis: dict[str, Any] | None,
    symbol_name: str,
    currency: str,
    prefs: Preferences,
) -> Report:
    """Render the report of a succeeded job as one HTML document.

    Its inline scripts are allowed by their hashes (no ``'unsafe-inline'`` scripts, no
    ``'unsafe-eval'``), by a ``<meta>`` policy inside the document and by the header.

    Args:
        job: The job the result belongs to.
        document: The result document (JSON, with its ``run`` section).
        bars: The price bars the run used, as columns (``time``, ``open``, ...), or
            None to chart the closes stored in the result.
        analysis: The result's analysis (indicators, trade levels, drawdown periods,
            years; ``plans.result_analysis``), or None to leave those out.
        symbol_name: The stock's name for the title.
        currency: The quote currency (``KRW``, ``USD``).
        prefs: Language and colour convention of the reader.
    """
    language = prefs.language
    config = {
        "locale": language.locale,
        "colors": prefs.colors.value,
        "currency": currency,
        "messages": catalog(language),
        "notices": notices(),
    }
    # The document is JSON already; only "<" needs escaping to be safe in a script element.
    document_json = document.decode("utf-8").replace("<", "\\u003c")
    scripts, hashes = _inline_scripts()
    html = templates.get_template("report.html").render(
        t=prefs.t,
        lang=language.value,
        colors=prefs.colors.value,
        version=__version__,
        job=job,
        symbol_name=symbol_name,
        currency=currency,
        spec=job.spec.model_dump(mode="json"),
        styles=_static_text("site.css") + "\n" + _static_text("result.css"),
        scripts=scripts,
        content_security_policy=report_policy(hashes, header=False),
        config_json=_script_json(config),
        bars_json=_script_json(bars),
        analysis_json=_script_json(analysis),
        document_json=document_json,
    )
    return Report(html, report_policy(hashes, header=True))
