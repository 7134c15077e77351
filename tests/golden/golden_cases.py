"""Golden backtests on the bundled sample bars: the runs whose full metrics are pinned.

Regenerate the pinned files after an intended change of numbers (and bump
ENGINE_VERSION): ``.venv/bin/python tests/golden/golden_cases.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import privatetrade as pt
from privatetrade.data.sample import load_sample_bars

GOLDEN_DIR = Path(__file__).parent


def sma_cross_goog_us() -> pt.BacktestResult:
    return pt.run_backtest(
        load_sample_bars("GOOG"),
        "sma_cross",
        {"fast": 10, "slow": 30},
        cash=10_000_000,  # pinned before USD runs defaulted to 100,000
        costs=pt.CostModel.us(regulatory_fees=True),
        benchmark=load_sample_bars("MSFT")["close"],
        benchmark_name="MSFT",
    )


def rsi_reversion_ibm_stops() -> pt.BacktestResult:
    return pt.run_backtest(
        load_sample_bars("IBM"),
        "rsi_reversion",
        {"period": 14, "lower": 30, "upper": 70},
        cash=10_000_000,  # pinned before USD runs defaulted to 100,000
        costs=pt.CostModel.us(slippage=5.0),
        sizing={"mode": "fraction", "value": 0.5},
        stops={"stop_loss": 0.05, "take_profit": 0.1, "trailing_stop": 0.08},
    )


CASES: dict[str, Callable[[], pt.BacktestResult]] = {
    "sma_cross_goog_us": sma_cross_goog_us,
    "rsi_reversion_ibm_stops": rsi_reversion_ibm_stops,
}


def pinned(result: pt.BacktestResult) -> dict[str, Any]:
    document = result.to_dict()
    return {
        "engine_version": document["engine_version"],
        "data_sha256": document["data"]["sha256"],
        "metrics": document["metrics"],
        "trade_count": len(document["trades"]),
        "first_trade": document["trades"][0],
        "last_trade": document["trades"][-1],
        "yearly_returns": document["yearly_returns"],
    }


def main() -> None:
    for name, case in CASES.items():
        path = GOLDEN_DIR / f"{name}.json"
        path.write_text(json.dumps(pinned(case()), indent=1, sort_keys=True) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
