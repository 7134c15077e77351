"""``privatetrade backtest`` on adjusted prices by default, and the data warnings it prints.

Real subprocesses on the offline sample data: AAPL's 2:1 split of 2005-02-28, and CSV
files with a split or a bar on a KRX holiday.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_cli import run_cli

from privatetrade.data.sample import load_sample_bars

AROUND_SPLIT = ["--start", "2005-01-03", "--end", "2005-12-30"]
HOLD_WITH_STOP = ["--strategy", "buy_and_hold", "--stop-loss", "0.2"]
SPLIT_WARNING = "possible 2:1 split on 2005-02-28 in raw prices"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("adjusted-cli")


def backtest(data_dir: Path, out: Path, *args: str) -> tuple[str, dict[str, Any]]:
    """Run ``privatetrade backtest ARGS --json OUT``; return its output (one line per
    paragraph, whatever the console width) and the result document."""
    done = run_cli("backtest", *args, "--json", str(out), data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    return " ".join(done.stdout.split()), json.loads(out.read_text())


def exits_on(document: dict[str, Any], day: str) -> list[str]:
    return [t["exit_reason"] for t in document["trades"] if t["exit_time"].startswith(day)]


def test_the_default_run_uses_adjusted_prices(data_dir: Path, tmp_path: Path) -> None:
    output, document = backtest(
        data_dir, tmp_path / "a.json", "AAPL", *HOLD_WITH_STOP, *AROUND_SPLIT
    )
    closes = load_sample_bars("AAPL").loc["2005-01-03":"2005-12-30", "adj_close"]
    assert document["data"]["adjusted"] is True
    assert document["metrics"]["buy_and_hold_return"] == pytest.approx(
        closes.iloc[-1] / closes.iloc[0] - 1, rel=1e-9
    )
    assert exits_on(document, "2005-02-28") == []
    assert "split" not in output
    assert not [w for w in document["warnings"] if "split" in w]


def test_a_raw_run_prints_the_split_warning(data_dir: Path, tmp_path: Path) -> None:
    output, document = backtest(
        data_dir, tmp_path / "r.json", "AAPL", "--raw", *HOLD_WITH_STOP, *AROUND_SPLIT
    )
    assert document["data"]["adjusted"] is False
    assert exits_on(document, "2005-02-28") == ["stop_loss"]
    assert document["warnings"][0].startswith(SPLIT_WARNING)
    assert f"warning: {SPLIT_WARNING}" in output
    assert "use adjusted prices" in output


def test_adjusted_is_the_flag_of_the_default(data_dir: Path, tmp_path: Path) -> None:
    _, flagged = backtest(data_dir, tmp_path / "f.json", "AAPL", "--adjusted", *AROUND_SPLIT)
    _, default = backtest(data_dir, tmp_path / "d.json", "AAPL", *AROUND_SPLIT)
    assert flagged["data"] == default["data"]
    help_text = run_cli("backtest", "--help", data_dir=data_dir).stdout
    assert "--adjusted / --raw" in help_text


def test_data_show_reports_the_detected_splits(data_dir: Path) -> None:
    done = run_cli("data", "show", "AAPL", data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout[done.stdout.index("{") :])
    assert report["detected_splits"] == {
        "count": 2,
        "examples": ["2000-06-21", "2005-02-28"],
        "ratios": ["2:1", "2:1"],
    }
    assert report["unexplained_jumps"]["examples"] == ["2000-09-29"]


# ---------------------------------------------------------------------- CSV files

# KRX sessions of September 2024 around Chuseok (09-16 to 09-18 closed) ...
KRX_DAYS = ["2024-09-10", "2024-09-11", "2024-09-12", "2024-09-13", "2024-09-19", "2024-09-20"]


def write_csv(path: Path, days: list[str], closes: list[float]) -> Path:
    rows = [f"{day},{c},{c},{c},{c},1000" for day, c in zip(days, closes, strict=True)]
    path.write_text("date,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    return path


def test_a_csv_bar_on_a_holiday_is_a_warning(data_dir: Path, tmp_path: Path) -> None:
    days = [*KRX_DAYS[:4], "2024-09-16", *KRX_DAYS[4:]]  # ... and a bar on Chuseok
    csv = write_csv(tmp_path / "holiday.csv", days, [10_000.0] * len(days))
    output, document = backtest(
        data_dir,
        tmp_path / "h.json",
        "--csv",
        str(csv),
        "--costs",
        "krx",
        "--strategy",
        "buy_and_hold",
    )
    expected = "1 bar on days the exchange was closed (XKRX calendar): 2024-09-16; check the data"
    assert expected in document["warnings"]
    assert f"warning: {expected}" in output
    clean = write_csv(tmp_path / "clean.csv", KRX_DAYS, [10_000.0] * len(KRX_DAYS))
    _, without = backtest(
        data_dir,
        tmp_path / "c.json",
        "--csv",
        str(clean),
        "--costs",
        "krx",
        "--strategy",
        "buy_and_hold",
    )
    assert not [w for w in without["warnings"] if "exchange was closed" in w]


@pytest.mark.parametrize(
    ("flag", "warning"),
    [
        ([], "possible 2:1 split on 2024-09-12 in the prices"),
        (["--raw"], "possible 2:1 split on 2024-09-12 in raw prices"),
        (["--adjusted"], None),  # the file is said to be adjusted: a split would be its error
    ],
)
def test_a_csv_split_is_named_unless_the_file_is_adjusted(
    data_dir: Path, tmp_path: Path, flag: list[str], warning: str | None
) -> None:
    closes = [20_000.0, 20_000.0, 10_000.0, 10_050.0, 10_100.0, 10_000.0]
    csv = write_csv(tmp_path / "split.csv", KRX_DAYS, closes)
    _, document = backtest(
        data_dir, tmp_path / "s.json", "--csv", str(csv), "--costs", "krx", *flag
    )
    splits = [w for w in document["warnings"] if "split" in w]
    assert [w[: len(warning)] for w in splits] == ([] if warning is None else [warning])
    assert document["data"]["adjusted"] is (None if not flag else flag == ["--adjusted"])
