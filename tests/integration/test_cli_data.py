"""``privatetrade data ...`` and backtests by symbol, as real subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_cli import run_cli


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


def test_offline_samples_show_up_in_search(data_dir: Path) -> None:
    korean = run_cli("data", "search", "합성데모", data_dir=data_dir)
    assert korean.returncode == 0, korean.stderr
    assert "DEMO01" in korean.stdout
    assert "합성데모전자" in korean.stdout
    english = run_cli("data", "search", "microsoft", data_dir=data_dir)
    assert english.returncode == 0
    assert "MSFT" in english.stdout
    listed = run_cli("data", "list", "--market", "NYSE", data_dir=data_dir)
    assert "IBM" in listed.stdout
    assert "AAPL" not in listed.stdout


def test_no_match_exits_non_zero(data_dir: Path) -> None:
    done = run_cli("data", "search", "없는회사", data_dir=data_dir)
    assert done.returncode == 1
    assert "no symbol matches" in done.stdout


@pytest.mark.parametrize(("query", "code"), [("005930", "005930"), ("삼성전자", "CODE")])
def test_no_match_lists_the_offline_symbols_and_how_to_fetch(
    data_dir: Path, query: str, code: str
) -> None:
    done = run_cli("data", "search", query, data_dir=data_dir)
    assert done.returncode == 1
    assert done.stdout.startswith(f"no symbol matches {query!r}")
    for offline in ("AAPL", "GOOG", "DEMO01", "합성데모전자", "DEMO06", "합성데모로보틱스"):
        assert offline in done.stdout, offline
    assert "pip install 'privatetrade[providers]'" in done.stdout
    assert f"privatetrade data fetch {code} --provider fdr" in done.stdout


def test_piped_tables_are_not_cut(data_dir: Path) -> None:
    done = run_cli("data", "list", data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout
    rows = [line for line in done.stdout.splitlines() if line.startswith("│")]
    # one line per symbol (5 US samples, 6 synthetic stocks, the synthetic index): no wrap
    assert len(rows) == 12
    names = ("Facebook, Inc. (now Meta Platforms)", "합성데모로보틱스", "합성데모금융지주")
    for name in (*names, "합성 KOSPI 데모지수"):
        assert any(name in row for row in rows), name
    assert all(row.rstrip().endswith("│") for row in rows)  # the source column too


def test_fetch_dates_are_read_as_the_api_reads_them(data_dir: Path) -> None:
    for wrong in ("20200101", "2020-1-1"):
        done = run_cli("data", "fetch", "AAPL", "--start", wrong, data_dir=data_dir)
        assert done.returncode == 2
        assert done.stderr == f"error: --start: a date must be written YYYY-MM-DD, got {wrong!r}\n"


def test_backtest_a_synthetic_krx_symbol_with_krx_costs(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    done = run_cli(
        "backtest", "DEMO01", "--strategy", "sma_cross", "--json", str(out), data_dir=data_dir
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(out.read_text())
    assert document["spec"]["settings"]["costs"]["preset"] == "krx"
    assert document["data"]["symbol"] == "DEMO01"
    assert document["data"]["source"] == "synthetic"
    assert document["data"]["adjusted"] is True  # no corporate actions: raw = adjusted
    assert not [w for w in document["warnings"] if "no adjusted prices" in w]
    assert document["data"]["timezone"] == "Asia/Seoul"
    assert document["metrics"]["total_tax"] > 0


def test_adjusted_prices_are_a_separate_series(data_dir: Path, tmp_path: Path) -> None:
    raw, adjusted = tmp_path / "raw.json", tmp_path / "adj.json"
    assert run_cli("backtest", "AAPL", "--json", str(adjusted), data_dir=data_dir).returncode == 0
    done = run_cli("backtest", "AAPL", "--raw", "--json", str(raw), data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    raw_doc, adjusted_doc = json.loads(raw.read_text()), json.loads(adjusted.read_text())
    assert adjusted_doc["data"]["adjusted"] is True  # the default
    assert raw_doc["data"]["adjusted"] is False
    assert raw_doc["data"]["sha256"] != adjusted_doc["data"]["sha256"]


def test_import_show_and_delete(data_dir: Path, tmp_path: Path) -> None:
    csv_path = tmp_path / "mine.csv"
    csv_path.write_text(
        "날짜,시가,고가,저가,종가,거래량\n"
        "2024-01-02,1000,1010,990,1005,100\n"
        "2024-01-03,1005,1020,1000,1015,120\n",
        encoding="cp949",
    )
    done = run_cli(
        "data", "import", str(csv_path), "--symbol", "MINE", "--name", "내종목",
        "--market", "KOSDAQ", data_dir=data_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "imported 2 bars of MINE" in done.stdout
    shown = run_cli("data", "show", "MINE", data_dir=data_dir)
    assert "내종목" in shown.stdout
    assert '"missing_sessions"' in shown.stdout
    assert run_cli("data", "delete", "MINE", data_dir=data_dir).returncode == 0
    gone = run_cli("data", "show", "MINE", data_dir=data_dir)
    assert gone.returncode == 2
    assert "unknown symbol" in gone.stderr


def test_broken_import_is_one_line_and_stores_nothing(data_dir: Path, tmp_path: Path) -> None:
    csv_path = tmp_path / "bad.csv"
    csv_path.write_text("date,open,high,low,close\n2024-01-02,10,9,8,9.5\n")
    done = run_cli("data", "import", str(csv_path), "--symbol", "BAD", data_dir=data_dir)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "high is below" in done.stderr
    assert run_cli("data", "show", "BAD", data_dir=data_dir).returncode == 2
