"""The privatetrade command line, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from privatetrade.data.sample import load_sample_bars

Cli = Callable[..., subprocess.CompletedProcess[str]]


def run_cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRIVATETRADE_DATA_DIR": str(data_dir)}
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
    """The commands' data directory (the first one installs the sample data)."""
    return tmp_path_factory.mktemp("cli-data")


@pytest.fixture
def cli(data_dir: Path) -> Cli:
    """Run ``privatetrade ARGS...`` on the module's data directory."""
    return partial(run_cli, data_dir=data_dir)


def test_backtest_on_sample_symbol_prints_report_and_writes_files(tmp_path: Path, cli: Cli) -> None:
    out_json = tmp_path / "result.json"
    out_trades = tmp_path / "trades.csv"
    out_equity = tmp_path / "equity.csv"
    done = cli(
        "backtest", "GOOG", "--strategy", "sma_cross", "-p", "fast=5", "-p", "slow=20",
        "--costs", "us", "--stop-loss", "0.08",
        "--json", str(out_json), "--trades-csv", str(out_trades), "--equity-csv", str(out_equity),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "sma_cross" in done.stdout
    assert "Sharpe" in done.stdout
    document = json.loads(out_json.read_text())
    assert document["spec"]["params"] == {"fast": 5, "slow": 20}
    assert document["spec"]["settings"]["stops"]["stop_loss"] == 0.08
    assert document["data"]["symbol"] == "GOOG"
    trades = out_trades.read_text().splitlines()
    assert len(trades) == 1 + document["metrics"]["trade_count"]
    assert len(out_equity.read_text().splitlines()) == 1 + document["data"]["bar_count"]


def test_backtest_from_csv_with_date_range(tmp_path: Path, cli: Cli) -> None:
    frame = load_sample_bars("IBM")
    csv_path = tmp_path / "ibm.csv"
    frame.tz_localize(None).rename_axis("Date").to_csv(csv_path)
    out_json = tmp_path / "r.json"
    done = cli(
        "backtest", "--csv", str(csv_path), "--tz", "America/New_York",
        "--start", "2010-01-01", "--end", "2012-12-31", "--json", str(out_json),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(out_json.read_text())
    assert document["data"]["first_bar"].startswith("2010-01-04")
    assert document["data"]["last_bar"].startswith("2012-12-31")
    assert document["data"]["source"] == "csv"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("backtest", "GOOG", "-p", "fast=40", "-p", "slow=20"), "fast"),
        (("backtest", "GOOG", "--strategy", "nope"), "unknown strategy"),
        (("backtest", "NOPE"), "unknown symbol"),
        (("backtest", "GOOG", "--costs", "mars"), "cost preset"),
        (("backtest", "GOOG", "-p", "fast"), "NAME=VALUE"),
        (("backtest", "GOOG", "--no-such-option"), "no such option"),
        (("backtest", "--csv", "/does/not/exist.csv"), "exist"),
        (("backtest", "GOOG", "--start", "2030-01-01"), "no bars"),
        (
            ("backtest", "GOOG", "--start", "2020-01-01"),
            "no bars of GOOG between 2020-01-01 and the last bar; stored: 2004-08-19 to 2013-03-01",
        ),
        (
            ("backtest", "GOOG", "--costs", "kr"),
            "unknown cost preset 'kr'; use auto, krx, us, zero",
        ),
        (("backtest", "GOOG", "--start", "2020-1-1"), "--start: a date must be written YYYY-MM-DD"),
        (("backtest", "GOOG", "--end", "20200101"), "--end: a date must be written YYYY-MM-DD"),
        (("backtest", "GOOG", "--commission", "0.5"), "--commission: input should be less"),
        (("backtest", "GOOG", "--tax", "-0.1"), "--tax: input should be greater"),
        (("backtest", "GOOG", "--slippage", "1", "--slippage-ticks", "1"), "not both"),
        (("backtest", "GOOG", "--stop-loss", "2"), "--stop-loss: "),
    ],
)
def test_bad_input_gives_one_line_and_nonzero_exit(
    args: tuple[str, ...], needle: str, cli: Cli
) -> None:
    done = cli(*args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert needle.lower() in lines[0].lower()
    assert "Traceback" not in done.stderr
    assert "CostModel" not in done.stderr


def test_cost_overrides_give_the_api_result_for_the_same_cost_model(
    tmp_path: Path, data_dir: Path, cli: Cli
) -> None:
    from privatetrade.data.market_data import MarketData
    from privatetrade.domain.specs import BacktestSpec
    from privatetrade.plans.backtest import execute_plan, plan_backtest

    out_json = tmp_path / "result.json"
    done = cli(
        "backtest", "DEMO02", "--commission", "0.001", "--min-commission", "500",
        "--slippage", "4", "--tax", "0.003", "--json", str(out_json),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(out_json.read_text())
    costs = document["spec"]["settings"]["costs"]
    assert (costs["preset"], costs["market"], costs["tick_table"]) == ("krx", "KOSDAQ", "krx")
    assert (costs["commission_rate"], costs["min_commission"]) == (0.001, 500.0)
    assert (costs["slippage"], costs["slippage_unit"]) == (4.0, "bps")
    assert costs["sell_tax"] == [{"since": "1900-01-01", "rate": 0.003}]
    # What the API runs when it is sent that cost model as the request's costs.
    spec = BacktestSpec.model_validate({"symbol": "DEMO02", "costs": costs})
    from_api = execute_plan(plan_backtest(spec, MarketData(data_dir))).to_dict()
    assert from_api["metrics"] == document["metrics"]
    assert from_api["metrics"]["total_commission"] > 0


def test_broken_csv_names_the_bad_row(tmp_path: Path, cli: Cli) -> None:
    csv_path = tmp_path / "bad.csv"
    csv_path.write_text(
        "date,open,high,low,close,volume\n"
        "2024-01-02,100,110,95,105,1000\n"
        "2024-01-03,105,104,100,103,1000\n",
        encoding="utf-8",
    )
    done = cli("backtest", "--csv", str(csv_path), "--json", str(tmp_path / "out.json"))
    assert done.returncode == 2
    assert "bad.csv: line 3: high is below the open" in done.stderr
    assert not (tmp_path / "out.json").exists()


def test_strategies_lists_every_builtin(cli: Cli) -> None:
    done = cli("strategies")
    assert done.returncode == 0
    for name in ("buy_and_hold", "sma_cross", "volatility_breakout", "bollinger_reversion"):
        assert name in done.stdout


@pytest.mark.parametrize("group", [(), ("data",), ("db",), ("users",), ("tokens",)])
def test_a_bare_command_prints_usage_and_full_help(group: tuple[str, ...], cli: Cli) -> None:
    done = cli(*group)
    assert done.returncode == 2
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0] == f"Usage: {' '.join(('privatetrade', *group))} [OPTIONS] COMMAND [ARGS]..."
    commands = lines[lines.index("Commands:") + 1 :]
    assert len(commands) >= 3
    assert not [line for line in commands if line.rstrip().endswith("...")]  # nothing cut


def test_a_piped_report_is_not_cut(cli: Cli) -> None:
    done = cli("backtest", "DEMO05", "--strategy", "sma_cross")
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout
    header = done.stdout.splitlines()[0]
    assert header.startswith("sma_cross(fast=10, slow=30) on DEMO05")
    assert header.endswith("(2,452 bars, costs: krx)")


def test_version(cli: Cli) -> None:
    done = cli("--version")
    assert done.returncode == 0
    assert done.stdout.startswith("privatetrade ")
