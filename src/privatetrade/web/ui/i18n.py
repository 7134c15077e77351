"""Languages and display preferences of the web pages.

The language comes from the ``pt_lang`` cookie (set by the switcher in the page header),
else from the browser's ``Accept-Language``; English is the fallback. The colour
convention for gains and losses follows the language (Korean: gains red, losses blue)
unless the ``pt_colors`` cookie says otherwise. Message catalogs are JSON files under
``web/locales/``; the same catalog is handed to the pages' JavaScript.
"""

from __future__ import annotations

import json
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
