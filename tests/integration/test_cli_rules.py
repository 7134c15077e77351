"""``--rules FILE`` on the command line, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def sma(period: str) -> dict[str, Any]:
    return {"indicator": "sma", "source": {"price": "close"}, "period": period}


SMA_CROSS: dict[str, Any] = {
    "schema": "privatetrade.rules/1",
    "parameters": {
        "fast": {"type": "int", "default": 10, "min": 2, "max": 100},
        "slow": {"type": "int", "default": 30, "min": 5, "max": 300},
    },
    "long": {
        "entry": {"crosses_above": [sma("${fast}"), sma("${slow}")]},
        "exit": {"crosses_below": [sma("${fast}"), sma("${slow}")]},
    },
}
RANGE = ("--start", "2009-01-01", "--end", "2011-12-31")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-rules-data")


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRIVATETRADE_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "privatetrade", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )


def write(path: Path, content: Any) -> Path:
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_backtest_with_rules_equals_the_built_in(data_dir: Path, tmp_path: Path) -> None:
    rule = write(tmp_path / "sma.json", SMA_CROSS)
    params = ("-p", "fast=7", "-p", "slow=25")
    built_in = cli(
        data_dir, "backtest", "AAPL", *RANGE, *params, "--json", str(tmp_path / "a.json")
    )
    assert built_in.returncode == 0, built_in.stderr
    ruled = cli(
        data_dir, "backtest", "AAPL", *RANGE, *params, "--rules", str(rule),
        "--json", str(tmp_path / "b.json"),
    )  # fmt: skip
    assert ruled.returncode == 0, ruled.stderr
    a = json.loads((tmp_path / "a.json").read_text())
    b = json.loads((tmp_path / "b.json").read_text())
    assert a["metrics"]["trade_count"] > 3
    for key in ("metrics", "trades", "equity"):
        assert a[key] == b[key], key
    assert b["spec"]["strategy"] == "rules"
    assert b["spec"]["rules"] == {"document": b["spec"]["rules"]["document"], "saved": None}
    assert b["spec"]["rules"]["document"]["parameters"] == SMA_CROSS["parameters"]
    # An exported strategy file ({name, description, document}) works as well.
    exported = write(
        tmp_path / "exported.json", {"name": "x", "description": "", "document": SMA_CROSS}
    )
    again = cli(data_dir, "backtest", "AAPL", *RANGE, *params, "--rules", str(exported))
    assert again.returncode == 0, again.stderr


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines
    return lines[0]


def test_bad_rule_files_are_one_line_errors(data_dir: Path, tmp_path: Path) -> None:
    missing = one_line_error(
        cli(data_dir, "backtest", "AAPL", "--rules", str(tmp_path / "no.json"))
    )
    assert "no.json" in missing
    broken = write(tmp_path / "broken.json", '{"schema": ')
    assert "--rules" in one_line_error(cli(data_dir, "backtest", "AAPL", "--rules", str(broken)))
    listed = write(tmp_path / "list.json", [1, 2])
    assert "no rule document" in one_line_error(
        cli(data_dir, "backtest", "AAPL", "--rules", str(listed))
    )
    bad = json.loads(json.dumps(SMA_CROSS))
    bad["long"]["entry"]["crosses_above"][1]["period"] = 0
    invalid = write(tmp_path / "invalid.json", bad)
    message = one_line_error(cli(data_dir, "backtest", "AAPL", "--rules", str(invalid)))
    assert "--rules: $.long.entry.crosses_above[1].period" in message
    out_of_bounds = one_line_error(
        cli(data_dir, "backtest", "AAPL", "--rules", str(write(tmp_path / "ok.json", SMA_CROSS)),
            "-p", "fast=1")
    )  # fmt: skip
    assert "fast" in out_of_bounds
    other = one_line_error(
        cli(data_dir, "backtest", "AAPL", "--strategy", "rsi_reversion", "--rules", str(invalid))
    )
    assert "--rules" in other
    assert "--rules" in one_line_error(cli(data_dir, "backtest", "AAPL", "--strategy", "rules"))


def test_optimize_and_scan_take_rules(data_dir: Path, tmp_path: Path) -> None:
    rule = write(tmp_path / "sma.json", SMA_CROSS)
    optimized = cli(
        data_dir, "optimize", "AAPL", *RANGE, "--rules", str(rule),
        "--param", "fast=5,7", "--param", "slow=20,25", "--json", str(tmp_path / "opt.json"),
    )  # fmt: skip
    assert optimized.returncode == 0, optimized.stderr
    document = json.loads((tmp_path / "opt.json").read_text())
    assert document["spec"]["strategy"] == "rules"
    assert document["spec"]["rules"]["document"]["parameters"] == SMA_CROSS["parameters"]
    scanned = cli(
        data_dir, "scan", "--symbols", "DEMO01,DEMO02", "--rules", str(rule),
        "--json", str(tmp_path / "scan.json"),
    )  # fmt: skip
    assert scanned.returncode == 0, scanned.stderr
