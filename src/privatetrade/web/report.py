"""The self-contained HTML report of a result: charts, metrics and trades in one file.

Everything the report needs is inside it (Plotly's JavaScript from the ``plotly``
package, our chart script, the styles, the result document and the price bars), so it
opens offline, without the server, years later.
"""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path
from typing import Any

from privatetrade import __version__
from privatetrade.domain.jobs import Job
from privatetrade.web.ui.i18n import Preferences, catalog
from privatetrade.web.ui.render import templates

__all__ = ["plotly_js", "plotly_js_path", "render_report"]

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
    symbol_name: str,
    currency: str,
    prefs: Preferences,
) -> str:
    """Render the report of a succeeded job as one HTML document.

    Args:
        job: The job the result belongs to.
        document: The result document (JSON, with its ``run`` section).
        bars: The price bars the run used, as columns (``time``, ``open``, ...), or
            None to chart the closes stored in the result.
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
    }
    # The document is JSON already; only "<" needs escaping to be safe in a script element.
    document_json = document.decode("utf-8").replace("<", "\\u003c")
    return templates.get_template("report.html").render(
        t=prefs.t,
        lang=language.value,
        colors=prefs.colors.value,
        version=__version__,
        job=job,
        symbol_name=symbol_name,
        currency=currency,
        spec=job.spec.model_dump(mode="json"),
        styles=_static_text("site.css"),
        scripts=[plotly_js(), _static_text("js/format.js"), _static_text("js/charts.js")],
        config_json=_script_json(config),
        bars_json=_script_json(bars),
        document_json=document_json,
    )
