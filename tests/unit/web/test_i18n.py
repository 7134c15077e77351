"""Languages: negotiation, catalogs complete in both languages, every key used exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from starlette.requests import Request

from privatetrade.web.ui.i18n import Colors, Language, catalog, preferences, translate

WEB = Path(__file__).resolve().parents[3] / "src" / "privatetrade" / "web"


def request(headers: dict[str, str] | None = None, cookies: str = "") -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    if cookies:
        raw.append((b"cookie", cookies.encode()))
    return Request({"type": "http", "method": "GET", "path": "/", "headers": raw})


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", Language.KO),
        ("en-US,en;q=0.9,ko;q=0.8", Language.EN),
        ("fr-FR,fr;q=0.9,ko;q=0.5", Language.KO),
        ("fr-FR, de;q=0.5", Language.EN),
        ("en;q=0.2, ko;q=0.8", Language.KO),
        ("ko;q=bogus, en", Language.EN),
        ("", Language.EN),
    ],
)
def test_language_from_accept_language(header: str, language: Language) -> None:
    assert preferences(request({"Accept-Language": header})).language is language


def test_cookie_beats_the_browser_and_colours_follow_the_language() -> None:
    korean_browser = {"Accept-Language": "ko-KR"}
    assert preferences(request(korean_browser)).colors is Colors.RED_UP
    chosen = preferences(request(korean_browser, "pt_lang=en"))
    assert chosen.language is Language.EN
    assert chosen.colors is Colors.GREEN_UP
    both = preferences(request(korean_browser, "pt_lang=ko; pt_colors=green-up"))
    assert (both.language, both.colors) == (Language.KO, Colors.GREEN_UP)
    junk = preferences(request(korean_browser, "pt_lang=xx; pt_colors=purple"))
    assert (junk.language, junk.colors) == (Language.KO, Colors.RED_UP)


def test_translate_fills_placeholders_and_shows_unknown_keys() -> None:
    assert translate(Language.EN, "dashboard.welcome", name="kim") == "Welcome, kim"
    assert translate(Language.KO, "dashboard.welcome", name="kim") == "kim님, 환영합니다"
    assert translate(Language.KO, "no.such.key") == "no.such.key"


def _catalog_file(language: str) -> dict[str, str]:
    messages: dict[str, str] = json.loads(
        (WEB / "locales" / f"{language}.json").read_text(encoding="utf-8")
    )
    return messages


def test_both_catalogs_have_the_same_keys() -> None:
    english, korean = _catalog_file("en"), _catalog_file("ko")
    assert sorted(set(english) - set(korean)) == [], "missing in ko.json"
    assert sorted(set(korean) - set(english)) == [], "missing in en.json"


def test_no_message_is_empty() -> None:
    for language in ("en", "ko"):
        empty = [key for key, text in _catalog_file(language).items() if not text.strip()]
        assert empty == [], (language, empty)


def test_both_languages_fill_the_same_placeholders() -> None:
    english, korean = _catalog_file("en"), _catalog_file("ko")
    placeholders = re.compile(r"\{(\w+)\}")

    def names(text: str) -> list[str]:
        return sorted(set(placeholders.findall(text)))

    different = {
        key: (names(text), names(korean[key]))
        for key, text in english.items()
        if key in korean and names(text) != names(korean[key])
    }
    assert different == {}


def _static_keys() -> set[str]:
    pattern = re.compile(r"""\bt\(\s*["']([a-z_]+(?:\.[a-z_-]+)+)["']""")
    keys: set[str] = set()
    for path in [*WEB.glob("templates/*.html"), *WEB.glob("static/js/*.js"), *WEB.glob("ui/*.py")]:
        keys |= set(pattern.findall(path.read_text(encoding="utf-8")))
    return keys


def test_every_message_the_pages_use_exists() -> None:
    keys = _static_keys()
    assert len(keys) > 150  # the scan finds the pages' messages
    assert sorted(keys - set(catalog(Language.EN))) == []


@pytest.mark.parametrize(
    ("prefix", "values"),
    [
        ("state.", ["queued", "running", "succeeded", "failed", "cancelled"]),
        (
            "reason.",
            [
                "invalid_input",
                "data_error",
                "strategy_error",
                "worker_lost",
                "time_limit",
                "internal_error",
            ],
        ),
        ("exit.", ["entry", "signal", "stop_loss", "take_profit", "trailing_stop", "end_of_data"]),
        (
            "stage.",
            [
                "queued",
                "waiting_for_workers",
                "starting",
                "loading",
                "simulating",
                "saving",
                "done",
                "failed",
                "cancelled",
            ],
        ),
    ],
)
def test_messages_for_every_value_the_engine_and_jobs_produce(
    prefix: str, values: list[str]
) -> None:
    from privatetrade.domain.jobs import FailureReason, JobState

    known = {"state.": JobState, "reason.": FailureReason}.get(prefix)
    if known is not None:
        assert sorted(values) == sorted(member.value for member in known)
    for language in Language:
        for value in values:
            assert prefix + value in catalog(language), (language, prefix + value)


def _array_keys(script: str, name: str) -> list[str]:
    block = script.split(f"const {name} = [", 1)[1].split("];", 1)[0]
    return re.findall(r'\["(\w+)", "', block)


def test_every_strategy_and_metric_card_has_a_name() -> None:
    from privatetrade.engine.api import default_registry

    charts = (WEB / "static" / "js" / "charts.js").read_text(encoding="utf-8")
    cards = _array_keys(charts, "CARDS")
    tables = (WEB / "static" / "js" / "result_tables.js").read_text(encoding="utf-8")
    columns = _array_keys(tables, "TRADE_COLUMNS")
    assert "total_return" in cards
    assert "net_pnl" in columns
    assert len(cards) >= 20
    for language in Language:
        messages = catalog(language)
        for entry in default_registry().describe():
            assert "strategy." + entry["name"] in messages
        for key in cards:
            assert "metric." + key in messages
        for key in columns:
            assert "trade." + key in messages


def test_every_built_in_strategy_is_described_in_both_languages() -> None:
    """English mirrors the registry (the API's texts); Korean has its own for each."""
    from privatetrade.engine.api import default_registry

    english, korean = _catalog_file("en"), _catalog_file("ko")
    for entry in default_registry().describe():
        name = entry["name"]
        assert english[f"strategy_desc.{name}"] == entry["description"]
        assert korean[f"strategy_desc.{name}"] != entry["description"]
        for param, schema in entry["parameters_schema"]["properties"].items():
            for part in ("title", "description"):
                key = f"param.{name}.{param}.{part}"
                assert english[key] == schema[part], key
                assert korean[key] != schema[part], key


def _raised_codes() -> set[str]:
    """Every error code the source gives: ``code="..."``, ``no_{kind}_prices``, custom types."""
    source = WEB.parent
    codes: set[str] = set()
    for path in source.rglob("*.py"):
        if path.name == "findings.py":  # codes of research findings, told in both languages
            continue
        text = path.read_text(encoding="utf-8")
        codes |= set(re.findall(r"""\bcode=["']([a-z_]+)["']""", text))
        codes |= set(re.findall(r"""\bPydanticCustomError\(\s*["']([a-z_]+)["']""", text))
        codes |= set(re.findall(r"""["']code["']: ["']([a-z_]+)["']""", text))
        for template in re.findall(r"""\bcode=f["']([a-z_{}]+)["']""", text):
            codes |= {template.replace("{kind}", kind).replace("{wanted}", kind)
                      for kind in ("adjusted", "raw")}  # fmt: skip
    return codes


def test_every_error_code_has_a_message_in_both_languages() -> None:
    from privatetrade.web.problems import _CODES

    codes = _raised_codes() | set(_CODES.values())
    assert {"too_many_bars", "param_order", "start_after_end", "no_raw_prices"} <= codes
    for language in ("en", "ko"):
        messages = _catalog_file(language)
        missing = sorted(code for code in codes if f"problem.{code}" not in messages)
        assert missing == [], (language, missing)


def test_the_bound_errors_of_every_form_field_have_a_message() -> None:
    """Pydantic's error types for numbers, text, lists, dates and choices."""
    kinds = [
        "missing", "extra_forbidden", "greater_than_equal", "greater_than", "less_than_equal",
        "less_than", "int_parsing", "int_from_float", "float_parsing", "finite_number",
        "bool_parsing", "string_too_short", "string_too_long", "too_short", "too_long",
        "literal_error", "enum", "date_parsing", "date_from_datetime_parsing", "json_invalid",
        "invalid_type",
    ]  # fmt: skip
    korean = _catalog_file("ko")
    assert [kind for kind in kinds if f"problem.{kind}" not in korean] == []


def test_korean_messages_hold_no_english_words() -> None:
    """Every Korean message, its placeholders aside, is Korean (see tests/korean_text.py)."""
    from korean_text import latin_words

    examples = {"AAPL", "DEMOIDX"}  # symbol codes given as examples of what to type
    english = {
        key: words
        for key, text in _catalog_file("ko").items()
        if (words := latin_words(re.sub(r"\{\w+\}", " ", text), examples))
    }
    assert english == {}
