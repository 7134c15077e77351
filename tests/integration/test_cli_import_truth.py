"""``privatetrade data import`` as a subprocess: the quality summary, modes, line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_cli import run_cli

from krx_files import HOLIDAYS_2024, krx_sessions_2024, write_krx_csv
from privatetrade.data.market_data import MarketData


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def stored(data_dir: Path, code: str) -> tuple[list[str], list[float]]:
    frame = MarketData(data_dir).store.read(code)
    return [stamp.date().isoformat() for stamp in frame.index], frame["open"].tolist()


def summary_line(stdout: str, label: str) -> str:
    return next(line for line in stdout.splitlines() if line.strip().startswith(label))


def test_an_import_shows_holiday_bars_and_off_tick_prices(tmp_path: Path, data_dir: Path) -> None:
    made = write_krx_csv(
        tmp_path / "krx.csv", krx_sessions_2024(112), holidays=HOLIDAYS_2024, off_tick_every=10
    )
    done = run_cli(
        "data", "import", str(made.path), "--symbol", "MINE", "--market", "KOSPI",
        data_dir=data_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (f"imported 120 bars of MINE (raw, {made.days[0]} → {made.days[-1]})")
    assert lines[1].startswith("quality (KOSPI, XKRX): problems: bars outside the sessions")
    holidays = summary_line(done.stdout, "bars outside the sessions")
    assert holidays.split()[4] == "8"
    assert ", ".join(day.isoformat() for day in HOLIDAYS_2024[:5]) in holidays
    assert holidays.endswith("…")  # more than the five shown
    off_tick = summary_line(done.stdout, "off-tick prices")
    assert off_tick.split()[2] == str(len(made.off_tick_days))
    assert made.off_tick_days[0].isoformat() in off_tick
    for label in ("jumps beyond the daily limit", "zero-volume days", "gaps (missing sessions)"):
        assert summary_line(done.stdout, label).split()[-1] == "0", label


def test_a_reimport_needs_replace_or_merge(tmp_path: Path, data_dir: Path) -> None:
    sessions = krx_sessions_2024(60)
    first = write_krx_csv(tmp_path / "a.csv", sessions[:40], base=50_000)
    assert run_cli(
        "data", "import", str(first.path), "-s", "MINE", "--market", "KOSDAQ", data_dir=data_dir
    ).returncode == 0  # fmt: skip
    before = stored(data_dir, "MINE")
    later = write_krx_csv(tmp_path / "b.csv", sessions[30:], base=80_000)

    refused = run_cli("data", "import", str(later.path), "-s", "MINE", data_dir=data_dir)
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert len(refused.stderr.splitlines()) == 1
    assert "MINE already has 40 raw bars" in refused.stderr
    assert "nothing was changed" in refused.stderr
    assert "add --replace" in refused.stderr
    assert "or --merge" in refused.stderr
    assert stored(data_dir, "MINE") == before

    both = run_cli(
        "data", "import", str(later.path), "-s", "MINE", "--replace", "--merge", data_dir=data_dir
    )
    assert both.returncode == 2
    assert stored(data_dir, "MINE") == before

    merged = run_cli("data", "import", str(later.path), "-s", "MINE", "--merge", data_dir=data_dir)
    assert merged.returncode == 0, merged.stderr
    assert "merged: 20 new, 10 overwritten; now 60 stored" in merged.stdout
    days, opens = stored(data_dir, "MINE")
    assert days == [day.isoformat() for day in sessions]
    assert opens[:30] == before[1][:30]
    assert opens[30] == 80_000

    replaced = run_cli(
        "data", "import", str(first.path), "-s", "MINE", "--replace", data_dir=data_dir
    )
    assert replaced.returncode == 0, replaced.stderr
    assert "replacing the 60 stored" in replaced.stdout
    assert stored(data_dir, "MINE") == before


def test_errors_cite_the_line_and_store_nothing(tmp_path: Path, data_dir: Path) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_text(
        "date,open,high,low,close,volume\n"
        "2024-01-02,100,110,95,105,10\n"
        "\n"
        "2024-01-03,100,110,95,105,10\n"
        "2024-01-03,100,110,95,105,10\n",
        encoding="utf-8",
    )
    done = run_cli("data", "import", str(broken), "-s", "BROKEN", data_dir=data_dir)
    assert done.returncode == 2
    assert done.stderr == (f"error: {broken}: line 5: duplicate date 2024-01-03 (also on line 4)\n")

    american = tmp_path / "us.csv"
    american.write_text("date,open,high,low,close\n01/02/2010,10,11,9,10\n", encoding="utf-8")
    refused = run_cli("data", "import", str(american), "-s", "USA", data_dir=data_dir)
    assert refused.returncode == 2
    assert f"{american}: line 2: date '01/02/2010' is not in a recognized form" in refused.stderr
    assert not MarketData(data_dir).store.exists("BROKEN")
    assert not MarketData(data_dir).store.exists("USA")

    dated = run_cli(
        "data", "import", str(american), "-s", "USA", "--market", "NYSE",
        "--date-format", "%m/%d/%Y", data_dir=data_dir,
    )  # fmt: skip
    assert dated.returncode == 0, dated.stderr
    assert dated.stdout.startswith("imported 1 bar of USA (raw, 2010-01-02 → 2010-01-02)\n")
    assert "bars outside the sessions" in dated.stdout  # 2010-01-02 was a Saturday
