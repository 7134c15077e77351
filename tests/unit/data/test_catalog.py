"""Symbol catalog: persistence and search (Hangul, prefix, ranking)."""

from __future__ import annotations

from pathlib import Path

import pytest

from privatetrade.data.catalog import SymbolCatalog, normalize
from privatetrade.data.symbols import Market, SymbolInfo
from privatetrade.errors import DataError, InputError


def krx(code: str, name: str, name_en: str | None = None, **extra: object) -> SymbolInfo:
    return SymbolInfo(code=code, name=name, name_en=name_en, market=Market.KOSPI, **extra)  # type: ignore[arg-type]


@pytest.fixture
def catalog(tmp_path: Path) -> SymbolCatalog:
    catalog = SymbolCatalog(tmp_path)
    catalog.upsert(
        [
            krx("005930", "삼성전자", "Samsung Electronics", bar_count=10),
            krx("005935", "삼성전자우", "Samsung Electronics Pref"),
            krx("028260", "삼성물산", "Samsung C&T"),
            krx("207940", "삼성바이오로직스", "Samsung Biologics"),
            krx("000660", "SK하이닉스", "SK hynix"),
            SymbolInfo(code="MSFT", name="Microsoft Corporation", market=Market.NASDAQ),
            krx("900001", "옛삼성", status="delisted"),
        ]
    )
    return catalog


def codes(hits: list) -> list[str]:  # type: ignore[type-arg]
    return [hit.symbol.code for hit in hits]


def test_hangul_substring_finds_every_samsung(catalog: SymbolCatalog) -> None:
    found = codes(catalog.search("삼성"))
    assert set(found) == {"005930", "005935", "028260", "207940", "900001"}
    # Name prefix beats a match inside the name; shorter names first; delisted last.
    assert found[0] == "005930"
    assert found[-1] == "900001"


def test_code_prefix_and_exact_code(catalog: SymbolCatalog) -> None:
    assert codes(catalog.search("0059")) == ["005930", "005935"]
    assert codes(catalog.search("005930"))[0] == "005930"


def test_english_names_case_and_width_insensitive(catalog: SymbolCatalog) -> None:
    assert codes(catalog.search("micro")) == ["MSFT"]
    assert codes(catalog.search("ＭＩＣＲＯ"))[0] == "MSFT"  # full-width input
    assert codes(catalog.search("sk hynix"))[0] == "000660"


def test_market_filter_and_limit(catalog: SymbolCatalog) -> None:
    assert codes(catalog.search("s", market=Market.NASDAQ)) == ["MSFT"]
    assert len(catalog.search("삼성", limit=2)) == 2


def test_empty_query_and_no_match(catalog: SymbolCatalog) -> None:
    assert catalog.search("   ") == []
    assert catalog.search("없는회사") == []


def test_catalog_persists_and_reloads(tmp_path: Path, catalog: SymbolCatalog) -> None:
    again = SymbolCatalog(tmp_path)
    assert len(again) == len(catalog)
    assert again.get("005930") == catalog.get("005930")
    assert again.remove("005930")
    assert "005930" not in SymbolCatalog(tmp_path)


def test_unknown_code_and_broken_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown symbol"):
        SymbolCatalog(tmp_path).get("NOPE")
    (tmp_path / "catalog.json").write_text("{not json")
    with pytest.raises(DataError, match="unreadable"):
        SymbolCatalog(tmp_path)


def test_normalize() -> None:
    assert normalize(" Samsung  Elec ") == "samsungelec"
    assert normalize("ＡＢＣ") == "abc"


def test_a_reader_sees_another_processs_changes(tmp_path: Path) -> None:
    reader = SymbolCatalog(tmp_path)  # e.g. the running server
    writer = SymbolCatalog(tmp_path)  # e.g. `privatetrade data import`
    assert len(reader) == 0
    writer.upsert([krx("123450", "새종목", "New Co")])
    assert reader.get("123450").name == "새종목"
    assert codes(reader.search("새종목")) == ["123450"]
    assert [s.code for s in reader.all(Market.KOSPI)] == ["123450"]
    assert writer.remove("123450")
    assert "123450" not in reader
    with pytest.raises(InputError):
        reader.get("123450")
