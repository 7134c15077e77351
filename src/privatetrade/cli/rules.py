"""The ``--rules FILE`` option: a rule strategy's document (JSON) from a file.

Shared by ``backtest``, ``optimize``, ``walkforward`` and ``scan``. The file holds a
rule document (docs/rules.md) or a strategy exported from the web service
(``{"name", "description", "document"}``). Giving it makes the strategy ``rules``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from privatetrade.errors import InputError

__all__ = ["RULES_OPTION", "RulesFile", "in_rules_words", "read_rules_file", "rules_choice"]

RULES_OPTION = "--rules"
RulesFile = Annotated[
    Path | None,
    typer.Option(
        RULES_OPTION,
        metavar="FILE",
        help="A rule strategy (JSON document, or a file exported by the web service); "
        "the strategy becomes `rules`, --param sets its parameters.",
    ),
]


def read_rules_file(path: Path) -> dict[str, Any]:
    """Return the rule document in ``path`` (an exported strategy's ``document``).

    Raises:
        OSError: The file cannot be read.
        InputError: Not JSON, or no JSON object (``field`` is ``rules``).
    """
    text = path.read_bytes()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{RULES_OPTION}: {path} is not JSON: {exc.msg} (line {exc.lineno}, column "
            f"{exc.colno})",
            field="rules",
        ) from None
    except UnicodeDecodeError:
        raise InputError(f"{RULES_OPTION}: {path} is not UTF-8 text", field="rules") from None
    if isinstance(data, dict) and "schema" not in data and isinstance(data.get("document"), dict):
        data = data["document"]  # an exported strategy: {name, description, document}
    if not isinstance(data, dict):
        raise InputError(
            f"{RULES_OPTION}: {path} holds no rule document (a JSON object)", field="rules"
        )
    return data


def rules_choice(strategy: str, path: Path | None) -> tuple[str, dict[str, Any] | None]:
    """Return the strategy and the spec's ``rules`` for ``--strategy`` and ``--rules``.

    Raises:
        InputError: ``--rules`` with another strategy than ``rules`` (the default
            ``sma_cross`` aside), or ``--strategy rules`` without ``--rules``.
    """
    if path is None:
        if strategy == "rules":
            raise InputError(
                f"--strategy rules needs {RULES_OPTION} FILE (a rule document)", field="rules"
            )
        return strategy, None
    if strategy not in ("rules", "sma_cross"):
        raise InputError(
            f"{RULES_OPTION} makes the strategy `rules`; leave out --strategy {strategy}",
            field="strategy",
        )
    return "rules", {"document": read_rules_file(path)}


def in_rules_words(exc: InputError) -> InputError | None:
    """A rule document's error named by the option (``--rules: $.long.entry: ...``).

    None when the error is not about the rule document.
    """
    field = exc.field or ""
    if not field.startswith("rules"):
        return None
    message = str(exc)
    if message.startswith("rules.document"):
        message = "$" + message.removeprefix("rules.document")
    elif message.startswith(f"{field}: "):
        message = message.removeprefix(f"{field}: ")
    if not message.startswith(RULES_OPTION):
        message = f"{RULES_OPTION}: {message}"
    return InputError(message, field=field, code=exc.code, params=exc.params)
