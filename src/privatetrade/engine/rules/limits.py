"""Limits of a rule document: every document beyond them is refused with a RuleError."""

from __future__ import annotations

__all__ = [
    "MAX_ABS_NUMBER",
    "MAX_BARS",
    "MAX_BARS_HELD",
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "MAX_NODES",
    "MAX_PARAMETERS",
    "MAX_TITLE_LENGTH",
    "RULES_SCHEMA_ID",
    "RULES_STRATEGY",
]

RULES_STRATEGY = "rules"
"""The strategy name of every rule strategy (in specs, results and the registry)."""
RULES_SCHEMA_ID = "privatetrade.rules/1"
"""The value of a document's ``schema`` field."""
MAX_DEPTH = 12
"""Deepest nesting of conditions and series (the section's condition is level 1)."""
MAX_NODES = 64
"""Most conditions and series in one document, all sections together."""
MAX_BARS = 1000
"""Largest period, bar count or span (every lookback is at most this many bars)."""
MAX_BARS_HELD = 10_000
"""Largest ``exits.max_bars_held``."""
MAX_PARAMETERS = 8
"""Most declared parameters."""
MAX_DOCUMENT_BYTES = 32 * 1024
"""Largest document, as compact UTF-8 JSON."""
MAX_ABS_NUMBER = 1e15
"""Largest magnitude of a constant or a parameter bound."""
MAX_TITLE_LENGTH = 80
"""Longest parameter title."""
