"""``privatetrade optimize`` and ``privatetrade walkforward``, run in process.

Successful runs go through Typer's test runner; bad input goes through ``main()``, the
entry point that turns errors into one line on stderr and an exit code. The data
directory holds the offline sample data (synthetic KRX stocks such as DEMO01).
"""

from __future__ import annotations

import csv
import io
import json
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from rich.console import Console
from typer.testing import CliRunner

from privatetrade.cli import research as research_cli
from privatetrade.cli.context import system
from privatetrade.cli.main import app, main
from privatetrade.data.market_data import MarketData

# DEMO01 over two years: 496 bars, a few seconds for a small grid.
TWO_YEARS = ("DEMO01", "--start", "2020-01-01", "--end", "2021-12-31")
# fast 10, 20, 30 x slow 20, 40, 80 = 9 pairs; sma_cross needs fast < slow, which
# drops (20, 20) and (30, 20): 7 combinations.
SMALL_GRID = ("-p", "fast=10:30:10", "-p", "slow=20,40,80")
SMALL_GRID_PAIRS = {(10, 20), (10, 40), (10, 80), (20, 40), (20, 80), (30, 40), (30, 80)}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with the sample data installed."""
    folder = tmp_path_factory.mktemp("research-cli-data")
    MarketData(folder).ensure_samples()
    return folder


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Iterator[None]:
    """The commands' settings: this data directory, the local executor, default limits."""
    monkeypatch.setenv("PRIVATETRADE_DATA_DIR", str(data_dir))
    for name in ("EXECUTOR", "DASK_SCHEDULER", "MAX_COMBINATIONS"):
        monkeypatch.delenv(f"PRIVATETRADE_{name}", raising=False)
    system.cache_clear()
    yield
    system.cache_clear()


def invoke(*args: str) -> str:
    """Run a command that must succeed; return its standard output."""
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None, result.exception
    assert result.exit_code == 0, result.output
    return result.output


def run_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str]:
    """Run ``privatetrade ARGS`` through the entry point; return (exit code, stderr)."""
    monkeypatch.setattr(sys, "argv", ["privatetrade", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    return code, capsys.readouterr().err


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def without_timing(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "seconds"}


# ----------------------------------------------------------------------------- optimize


def test_optimize_a_small_grid_writes_every_combination_and_the_best_eligible(
    tmp_path: Path,
) -> None:
    out_json, out_csv = tmp_path / "result.json", tmp_path / "table.csv"
    printed = invoke(
        "optimize", *TWO_YEARS, *SMALL_GRID, "--min-trades", "5",
        "--json", str(out_json), "--csv", str(out_csv),
    )  # fmt: skip
    document = json.loads(out_json.read_text(encoding="utf-8"))
    rows = read_rows(out_csv)
    assert document["kind"] == "sweep"
    assert document["symbol"] == "DEMO01"
    assert document["combinations"] == len(SMALL_GRID_PAIRS) == len(rows)
    assert {(int(r["fast"]), int(r["slow"])) for r in rows} == SMALL_GRID_PAIRS
    assert document["space"]["axes"] == {"fast": [10, 20, 30], "slow": [20, 40, 80]}
    # Eligible: at least 5 trades; the best is the highest Sharpe ratio among those.
    for row in rows:
        assert (row["eligible"] == "True") == (int(row["trade_count"]) >= 5)
    eligible = [row for row in rows if row["eligible"] == "True"]
    best_row = max(eligible, key=lambda row: float(row["sharpe"]))
    best = document["best"]
    assert best["params"] == {"fast": int(best_row["fast"]), "slow": int(best_row["slow"])}
    assert best["metrics"]["sharpe"] == pytest.approx(float(best_row["sharpe"]), rel=1e-12)
    assert document["eligible"] == len(eligible)
    # The data has a higher Sharpe ratio on too few trades: the rule is what chose.
    assert max(float(row["sharpe"]) for row in rows) > float(best_row["sharpe"])
    assert f"Best: fast={best_row['fast']}, slow={best_row['slow']}" in printed
    assert "Deflated Sharpe ratio" in printed
    assert document["report"]["deflated_sharpe"] is not None


def test_the_document_and_table_are_the_sweep_jobs(tmp_path: Path, data_dir: Path) -> None:
    from privatetrade.domain.research import SweepSpec
    from privatetrade.jobs.kinds.base import KindContext
    from privatetrade.jobs.kinds.research import SWEEP

    out_json, out_csv = tmp_path / "result.json", tmp_path / "table.csv"
    invoke(
        "optimize", *TWO_YEARS, *SMALL_GRID, "--min-trades", "5",
        "--json", str(out_json), "--csv", str(out_csv),
    )  # fmt: skip
    spec = SweepSpec.model_validate(
        {
            "symbol": "DEMO01",
            "start": "2020-01-01",
            "end": "2021-12-31",
            "space": {"fast": {"start": 10, "stop": 30, "step": 10}, "slow": [20, 40, 80]},
            "min_trades": 5,
        }
    )
    job = SWEEP.run(
        spec, KindContext(MarketData(data_dir)), lambda *_a, **_k: None, threading.Event()
    )
    artifacts = {artifact.name: artifact.content for artifact in job.artifacts}
    from_job = json.loads(artifacts["result.json"])
    from_cli = json.loads(out_json.read_text(encoding="utf-8"))
    assert without_timing(from_cli) == without_timing(from_job)
    assert out_csv.read_bytes() == artifacts["table.csv"]


@pytest.mark.parametrize("method", ["random", "tpe"])
def test_random_and_tpe_with_a_seed_give_the_same_document_twice(
    method: str, tmp_path: Path
) -> None:
    # fast 5..30 step 5 x slow 20..60 step 10: 30 pairs, 26 with fast < slow; 5 drawn.
    args = (
        "optimize", *TWO_YEARS, "-p", "fast=5:30:5", "-p", "slow=20:60:10",
        "--method", method, "--samples", "5", "--seed", "7",
    )  # fmt: skip
    documents = []
    for run in ("first", "second"):
        out = tmp_path / f"{run}.json"
        invoke(*args, "--json", str(out))
        documents.append(json.loads(out.read_text(encoding="utf-8")))
    first, second = documents
    assert without_timing(first) == without_timing(second)
    assert first["method"] == method
    assert first["combinations"] == 5
    drawn = {(row["params"]["fast"], row["params"]["slow"]) for row in first["top"]}
    assert all(fast < slow for fast, slow in drawn)
    assert all(fast in range(5, 31, 5) and slow in range(20, 61, 10) for fast, slow in drawn)


def test_without_param_the_default_grid_is_searched(tmp_path: Path) -> None:
    from privatetrade.engine.api import default_registry
    from privatetrade.research.space import build_space

    out = tmp_path / "default.json"
    invoke("optimize", *TWO_YEARS, "--json", str(out))
    document = json.loads(out.read_text(encoding="utf-8"))
    space = build_space(default_registry().get("sma_cross"), {})
    assert document["space"]["defaulted"] is True
    assert document["space"]["axes"] == space.axes
    assert document["combinations"] == space.valid_count()


# ----------------------------------------------------------------------------- walkforward


def test_walkforward_writes_its_windows_and_the_stitched_equity(tmp_path: Path) -> None:
    out_json, out_csv, out_equity = (tmp_path / name for name in ("wf.json", "w.csv", "e.csv"))
    printed = invoke(
        "walkforward", "DEMO01", "--start", "2016-01-01", "--end", "2019-12-31",
        "-p", "fast=5,10,20", "-p", "slow=30,60",
        "--in-sample", "12m", "--out-of-sample", "6m",
        "--json", str(out_json), "--csv", str(out_csv), "--equity-csv", str(out_equity),
    )  # fmt: skip
    document = json.loads(out_json.read_text(encoding="utf-8"))
    # Bars from 2016-01-04: out-of-sample parts start 12, 18, ... 42 months later.
    starts = ["2017-01", "2017-07", "2018-01", "2018-07", "2019-01", "2019-07"]
    windows = document["windows"]
    assert [w["out_of_sample"]["start"][:7] for w in windows] == starts
    assert windows[0]["in_sample"]["start"] == "2016-01-04"
    assert all(w["combinations"] == 6 for w in windows)  # 3 x 2, every fast < slow
    rows = read_rows(out_csv)
    assert [int(row["window"]) for row in rows] == [1, 2, 3, 4, 5, 6]
    assert [row["out_of_sample_start"] for row in rows] == [
        w["out_of_sample"]["start"] for w in windows
    ]
    equity = read_rows(out_equity)
    assert len(equity) == sum(w["out_of_sample"]["bars"] for w in windows)
    assert equity[0]["time"] == windows[0]["out_of_sample"]["start"]
    assert equity[-1]["time"] == "2019-12-30"  # the last bar of the range
    assert document["equity"]["values"][-1] == pytest.approx(float(equity[-1]["equity"]))
    assert "6 windows (12m in-sample, 6m out-of-sample, rolling)" in printed
    assert "Walk-forward efficiency" in printed


# ----------------------------------------------------------------------------- bad input

OUT = "out.json"
BAD_INPUTS = [
    (("optimize", "NOPE"), "unknown symbol 'NOPE'"),
    (("optimize", *TWO_YEARS, "-p", "fast=a:b"), "--param fast=a:b: expected NAME=START:STOP"),
    (("optimize", *TWO_YEARS, "-p", "fast"), "--param expects NAME="),
    (("optimize", *TWO_YEARS, "-p", "speed=1:5"), "--param speed: unknown parameter 'speed'"),
    (("optimize", *TWO_YEARS, "-p", "fast=0:5"), "--param fast=0: input should be greater"),
    (("optimize", *TWO_YEARS, "-p", "fast=50:5"), "--param fast=50:5: stop must not be below"),
    (("optimize", *TWO_YEARS, "--fixed", "slow=abc"), "--fixed slow='abc': input should be"),
    (("optimize", *TWO_YEARS, "--fixed", "slow=30", "-p", "slow=40,50"), "--fixed slow: "),
    (("optimize", *TWO_YEARS, "--method", "anneal"), "--method: input should be 'grid'"),
    (("optimize", *TWO_YEARS, "--samples", "0"), "--samples: input should be greater"),
    (("optimize", *TWO_YEARS, "--strategy", "nope"), "--strategy: unknown strategy 'nope'"),
    (("optimize", *TWO_YEARS, "--costs", "mars"), "--costs: unknown cost preset 'mars'"),
    (("optimize", *TWO_YEARS, "--executor", "cloud"), "--executor: use local or dask"),
    (("optimize", *TWO_YEARS, "--executor", "dask"), "set PRIVATETRADE_DASK_SCHEDULER"),
    (("walkforward", *TWO_YEARS, "--in-sample", "36m"), "--in-sample: 496 bars are too few"),
    (("walkforward", *TWO_YEARS, "--in-sample", "2y"), "--in-sample: use a number of months"),
    (("walkforward", *TWO_YEARS, "--step", "1m"), "--step: step must not be shorter"),
]


@pytest.mark.parametrize(("args", "needle"), BAD_INPUTS, ids=[needle for _, needle in BAD_INPUTS])
def test_bad_input_is_one_line_a_nonzero_exit_and_no_file(
    args: tuple[str, ...],
    needle: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / OUT
    code, stderr = run_main(monkeypatch, capsys, *args, "--json", str(out))
    assert code == 2
    assert stderr.count("\n") == 1, stderr
    assert stderr.startswith("error: ")
    assert needle.lower() in stderr.lower(), stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("command", "args", "needle"),
    [
        # 7 combinations (see SMALL_GRID) against a limit of 6.
        ("optimize", SMALL_GRID, "--param: 7 combinations; your limit is 6"),
        # The default grid holds 49 valid combinations; 20 of them drawn.
        ("optimize", ("--method", "random", "--samples", "20"), "--samples: 20 combinations"),
        # 496 bars, 12m/6m windows from 2020-01-02: out-of-sample parts start in 2021-01
        # and 2021-07, two windows of 6 combinations.
        (
            "walkforward",
            (*SMALL_GRID[:2], "-p", "slow=40,80", "--in-sample", "12m", "--out-of-sample", "6m"),
            "--param: 6 per window × 2 windows = 12 combinations; your limit is 6",
        ),
    ],
)
def test_too_many_combinations_name_the_option_and_the_limit(
    command: str,
    args: tuple[str, ...],
    needle: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PRIVATETRADE_MAX_COMBINATIONS", "6")
    out = tmp_path / OUT
    code, stderr = run_main(monkeypatch, capsys, command, *TWO_YEARS, *args, "--json", str(out))
    assert code == 2
    assert stderr.count("\n") == 1, stderr
    assert needle in stderr, stderr
    assert not out.exists()


@pytest.mark.parametrize("where", ["missing folder", "a folder", "same file"])
def test_unwritable_outputs_are_refused_before_anything_is_written(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out_json = tmp_path / "result.json"
    out_csv = {
        "missing folder": tmp_path / "nowhere" / "table.csv",
        "a folder": tmp_path,
        "same file": out_json,
    }[where]
    code, stderr = run_main(
        monkeypatch, capsys, "optimize", *TWO_YEARS, *SMALL_GRID,
        "--json", str(out_json), "--csv", str(out_csv),
    )  # fmt: skip
    assert code == 2
    assert stderr.count("\n") == 1, stderr
    assert stderr.startswith("error: --csv: ")
    assert not out_json.exists()
    assert not (tmp_path / "nowhere").exists()


def test_an_unreachable_dask_scheduler_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{sock.getsockname()[1]}"
        monkeypatch.setenv("PRIVATETRADE_DASK_SCHEDULER", address)
        monkeypatch.setattr(research_cli, "DASK_CONNECT_SECONDS", 0.5)
        out = tmp_path / OUT
        code, stderr = run_main(
            monkeypatch, capsys, "optimize", *TWO_YEARS, *SMALL_GRID,
            "--executor", "dask", "--json", str(out),
        )  # fmt: skip
    assert code == 1
    assert stderr.count("\n") == 1, stderr
    assert stderr.startswith(
        f"error: --executor dask: cannot reach the Dask scheduler at {address}"
    )
    assert not out.exists()


# ----------------------------------------------------------------------------- pieces


def test_the_progress_bar_counts_combinations_and_shows_the_best() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=160)
    best = {"params": {"fast": 10, "slow": 40}, "objective": "sharpe", "value": 1.2345}
    with research_cli._search_progress("optimizing", console=console) as update:
        assert update is not None
        update(3, 7, None)
        update(7, 7, best)
    assert "7/7" in screen.getvalue()
    assert "best sharpe 1.234: fast=10, slow=40" in screen.getvalue()


def test_the_best_so_far_note() -> None:
    assert research_cli.best_so_far(None) == ""
    best = {"params": {"fast": 5}, "objective": "cagr", "value": None}
    assert research_cli.best_so_far(best) == "best cagr —: fast=5"


def test_param_values_are_ranges_or_lists() -> None:
    from privatetrade.domain.research import ParamRange

    axes = research_cli.parse_params(["fast=5:50:5", "slow = 20, 40", "flag=true,false"])
    assert axes == {
        "fast": ParamRange(start=5, stop=50, step=5),
        "slow": [20, 40],
        "flag": [True, False],
    }


def _options(command: str) -> dict[str, Any]:
    """The options of a command by parameter name (Typer's click objects)."""
    commands = getattr(typer.main.get_command(app), "commands")  # noqa: B009 - a group's
    params = commands[command].params
    return {param.name: param for param in params if param.param_type_name == "option"}


@pytest.mark.parametrize("command", ["optimize", "walkforward"])
def test_the_backtest_options_are_the_backtest_commands(command: str) -> None:
    ours, backtest = _options(command), _options("backtest")
    # --csv, --market and --tz are about CSV input files, which research does not take;
    # --costs and --adjusted say nothing of them here; the outputs and --param differ.
    differ = {"csv", "market", "tz", "costs", "adjusted", "param"}
    differ |= {"json_out", "trades_csv", "equity_csv"}
    shared = set(backtest) - differ
    assert shared <= set(ours)
    for name in shared:
        assert (ours[name].opts, ours[name].help, ours[name].default) == (
            backtest[name].opts,
            backtest[name].help,
            backtest[name].default,
        ), name
        assert ours[name].metavar == backtest[name].metavar, name
