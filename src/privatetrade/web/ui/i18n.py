"""Languages and display preferences of the web pages.

The language comes from the ``pt_lang`` cookie (set by the switcher in the page header),
else from the browser's ``Accept-Language``; English is the fallback. The colour
convention for gains and losses follows the language (Korean: gains red, losses blue)
unless the ``pt_colors`` cookie says otherwise. Message catalogs are JSON files under
``web/locales/``; the same catalog is handed to the pages' JavaScript.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

from starlette.requests import Request

__all__ = [
    "COLORS_COOKIE",
    "LANGUAGE_COOKIE",
    "Colors",
    "Language",
    "Preferences",
    "catalog",
    "notices",
    "preferences",
    "tell",
    "translate",
]

LANGUAGE_COOKIE = "pt_lang"
COLORS_COOKIE = "pt_colors"
_LOCALES = Path(__file__).resolve().parent.parent / "locales"


class Language(StrEnum):
    """A language the pages are written in."""

    EN = "en"
    KO = "ko"

    @property
    def locale(self) -> str:
        """The BCP 47 locale used to format numbers and dates."""
        return {"en": "en-US", "ko": "ko-KR"}[self.value]


class Colors(StrEnum):
    """Which colour means a gain: red (the Korean convention) or green."""

    RED_UP = "red-up"
    GREEN_UP = "green-up"


@dataclass(frozen=True, slots=True)
class Preferences:
    """What one request's pages are shown in."""

    language: Language
    colors: Colors

    def t(self, key: str, **values: Any) -> str:
        """Translate ``key`` into this language, filling ``{name}`` placeholders."""
        return translate(self.language, key, **values)

    def notice(self, text: str) -> str:
        """Say a sentence of the server in this language (as it is when none matches)."""
        told = tell(self.language, text)
        return text if told is None else told


@cache
def catalog(language: Language) -> dict[str, str]:
    """All messages of ``language`` (missing keys fall back to English)."""
    english = _load(Language.EN)
    if language is Language.EN:
        return english
    return {**english, **_load(language)}


@cache
def notices() -> dict[str, str]:
    """The English templates of the server's sentences the pages translate (``notice.*``).

    Result warnings and a scan row's reason are English sentences in the stored
    documents; a page finds the template a sentence matches and shows the catalog's
    message of that key (``PTTranslator``'s ``t.notice`` in ``format.js``).
    """
    return {key: text for key, text in _load(Language.EN).items() if key.startswith("notice.")}


_PLACEHOLDER = re.compile(r"(\{\w+\})")


@cache
def _templates(parts: bool) -> list[tuple[str, list[str], re.Pattern[str]]]:
    """The notice templates as patterns, the most literal text first (the most specific)."""
    found = []
    for key, english in notices().items():
        if key.startswith("notice.part.") != parts:
            continue
        pieces = _PLACEHOLDER.split(english)
        names = [piece[1:-1] for piece in pieces if _PLACEHOLDER.fullmatch(piece)]
        # A value inside a part never spans a list's ", " (so "A (x), B (y)" is two items).
        value = "((?:(?!, ).)+?)" if parts else "(.+?)"
        source = "".join(
            value if _PLACEHOLDER.fullmatch(piece) else re.escape(piece) for piece in pieces
        )
        literal = len(_PLACEHOLDER.sub("", english))
        found.append((literal, key, names, re.compile(f"^{source}$")))
    found.sort(key=lambda template: -template[0])
    return [(key, names, pattern) for _, key, names, pattern in found]


def tell(language: Language, text: str, *, parts: bool = False) -> str | None:
    """Say an English sentence of the server in ``language``, or None if no template matches.

    The same as the pages' ``t.notice`` (``format.js``): the first ``notice.*`` template
    (most literal text first) the whole sentence matches gives the message; each value is
    told with the ``notice.part.*`` templates (whose values hold no ``", "``), else a list
    (``A, B``) item by item.
    """
    messages = catalog(language)
    for key, names, pattern in _templates(parts):
        match = pattern.match(text)
        if match is not None:
            values = {name: _part(language, match.group(i + 1)) for i, name in enumerate(names)}
            return messages[key].format(**values)
    return None


def _part(language: Language, value: str) -> str:
    told = tell(language, value, parts=True)
    if told is not None:
        return told
    if ", " in value:
        return ", ".join(_part(language, item) for item in value.split(", "))
    return value


def _load(language: Language) -> dict[str, str]:
    messages: dict[str, str] = json.loads(
        (_LOCALES / f"{language.value}.json").read_text(encoding="utf-8")
    )
    return messages


def translate(language: Language, key: str, **values: Any) -> str:
    """Translate ``key``; an unknown key is shown as itself, so it is noticed."""
    text = catalog(language).get(key, key)
    return text.format(**values) if values else text


def _from_accept_language(header: str) -> Language:
    ranked: list[tuple[float, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, f"{position:04d}{tag.strip().lower()}"))
    for _, keyed in sorted(ranked):
        primary = keyed[4:].split("-")[0]
        if primary in Language._value2member_map_:
            return Language(primary)
    return Language.EN


def preferences(request: Request) -> Preferences:
    """Resolve the language and colour convention of a request."""
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    if chosen in Language._value2member_map_:
        language = Language(chosen)
    else:
        language = _from_accept_language(request.headers.get("accept-language", ""))
    colors_cookie = request.cookies.get(COLORS_COOKIE, "")
    if colors_cookie in Colors._value2member_map_:
        colors = Colors(colors_cookie)
    else:
        colors = Colors.RED_UP if language is Language.KO else Colors.GREEN_UP
    return Preferences(language, colors)
