"""``privatetrade scan`` and ``privatetrade portfolio``, run as real subprocesses.

On the offline sample data: three KOSPI and three KOSDAQ synthetic stocks, five US
stocks. Bad input ends with one line on stderr and exit code 2.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

import privatetrade as pt
from privatetrade.data.market_data import MarketData

Cli = Callable[..., subprocess.CompletedProcess[str]]


def run_cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRIVATETRADE_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "privatetrade", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-universe") / "data"
    MarketData(path).ensure_samples()
    return path


@pytest.fixture
def cli(data_dir: Path) -> Cli:
    return partial(run_cli, data_dir=data_dir)


def test_scan_of_a_market_prints_the_ranking_and_writes_csv_and_json(
    tmp_path: Path, cli: Cli, data_dir: Path
) -> None:
    out_csv, out_json = tmp_path / "ranking.csv", tmp_path / "ranking.json"
    done = cli(
        "scan", "--market", "KOSDAQ", "--strategy", "sma_cross", "--params", "fast=5,slow=20",
        "--sort", "cagr", "--csv", str(out_csv), "--json", str(out_json),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "ranked by cagr" in done.stdout
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text())))
    assert {row["symbol"] for row in rows} == {"DEMO02", "DEMO04", "DEMO06"}
    cagrs = [float(row["cagr"]) for row in rows]
    assert cagrs == sorted(cagrs, reverse=True)
    document = json.loads(out_json.read_text())
    assert document["kind"] == "scan"
    assert document["executor"] == "local"
    assert [row["symbol"] for row in document["rows"]] == [row["symbol"] for row in rows]
    assert [row["rank"] for row in document["rows"]] == [1, 2, 3]
    # The first row is the full backtest's figures.
    best = document["rows"][0]
    bars = MarketData(data_dir).bars(best["symbol"])
    full = pt.run_backtest(
        bars, "sma_cross", {"fast": 5, "slow": 20}, costs="krx", market="KOSDAQ"
    ).metrics
    assert best["cagr"] == pytest.approx(full.cagr, rel=1e-9)
    assert best["trades"] == full.trade_count


def test_portfolio_writes_its_document_and_csvs(tmp_path: Path, cli: Cli) -> None:
    out_json, folder = tmp_path / "portfolio.json", tmp_path / "csv"
    done = cli(
        "portfolio", "--symbols", "DEMO01,DEMO02,DEMO03", "--rule", "top_n_momentum",
        "--top", "2", "--rebalance", "monthly", "--lookback", "40", "--benchmark", "DEMOIDX",
        "--start", "2019-01-01", "--json", str(out_json), "--csv-dir", str(folder),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "top_n_momentum portfolio of 3 symbols" in done.stdout
    document = json.loads(out_json.read_text())
    assert document["kind"] == "portfolio"
    assert document["spec"]["rule"]["top"] == 2
    assert document["spec"]["benchmark"] == "DEMOIDX"
    assert sorted(path.name for path in folder.iterdir()) == [
        "contribution.csv", "equity.csv", "fills.csv", "holdings.csv", "trades.csv",
    ]  # fmt: skip
    holdings = list(csv.reader(io.StringIO((folder / "holdings.csv").read_text())))
    assert holdings[0] == ["time", "DEMO01", "DEMO02", "DEMO03"]
    assert len(holdings) == 1 + document["data"]["bars"]
    for row in holdings[1:]:  # at most two held, weights of equity
        assert sum(float(w) > 0 for w in row[1:]) <= 2


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["scan", "--symbols", "DEMO01,AAPL"], "--symbols: one quote currency"),
        (["scan", "--symbols", "DEMO01,NOPE99"], "--symbols: unknown symbol 'NOPE99'"),
        (["scan", "--market", "KONEX"], "--market: no KONEX stock"),
        (["scan"], "--symbols: give either symbols or a market"),
        (["scan", "--market", "KOSPI", "--params", "fast=0"], "--params fast:"),
        (["scan", "--market", "KOSPI", "--params", "fast"], "--params: expected NAME=VALUE"),
        (["scan", "--market", "KOSPI", "--sort", "luck"], "--sort:"),
        (["scan", "--market", "KOSPI", "--executor", "moon"], "--executor: use local or dask"),
        (["portfolio", "--symbols", "DEMO01,DEMO02", "--rule", "top_n_momentum"], "--top:"),
        (["portfolio", "--symbols", "DEMO01,DEMO02", "--top", "1"], "--top: only the top_n_*"),
        (["portfolio", "--symbols", "DEMO01", "--lookback", "20"], "--lookback: only"),
        (["portfolio", "--symbols", "DEMO01", "--stop-loss", "0.1"], "only the signals rule"),
        (
            ["portfolio", "--symbols", "DEMO01", "--rule", "fixed_weights", "--weights", "X=0.5"],
            "--weights: X not in the universe",
        ),
        (
            ["portfolio", "--symbols", "DEMO01", "--rule", "signals", "--strategy", "nope"],
            "--strategy:",
        ),
        (["portfolio", "--symbols", "DEMO01", "--benchmark", "NOPE99"], "--benchmark:"),
        (["portfolio", "--market", "KOSPI", "--rule", "luck"], "--rule:"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(cli: Cli, args: list[str], words: str) -> None:
    done = cli(*args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: "), lines
    assert words in lines[0], lines[0]
    assert "Traceback" not in done.stderr


def test_output_paths_are_checked_before_running(tmp_path: Path, cli: Cli) -> None:
    missing = tmp_path / "nope" / "ranking.csv"
    done = cli("scan", "--market", "KOSPI", "--csv", str(missing))
    assert done.returncode == 2
    assert "--csv: folder" in done.stderr
    a_file = tmp_path / "file"
    a_file.write_text("x")
    done = cli("portfolio", "--symbols", "DEMO01", "--csv-dir", str(a_file))
    assert done.returncode == 2
    assert "--csv-dir:" in done.stderr
