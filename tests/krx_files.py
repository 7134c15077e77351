"""Files of KRX daily bars for import tests, built on the real XKRX calendar."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from privatetrade.data.calendar import krx_sessions

# KRX holidays of 2024 (all closed in XKRX): New Year, Seollal, Independence Movement
# Day, the general election, Labour Day, Children's Day (substitute), Buddha's Birthday.
HOLIDAYS_2024 = (
    dt.date(2024, 1, 1),
    dt.date(2024, 2, 9),
    dt.date(2024, 2, 12),
    dt.date(2024, 3, 1),
    dt.date(2024, 4, 10),
    dt.date(2024, 5, 1),
    dt.date(2024, 5, 6),
    dt.date(2024, 5, 15),
)


@dataclass(frozen=True)
class KrxFile:
    """A CSV of daily bars and what was put in it on purpose."""

    path: Path
    days: tuple[dt.date, ...]
    holidays: tuple[dt.date, ...]
    off_tick_days: tuple[dt.date, ...]


def krx_sessions_2024(count: int, *, skip: int = 0) -> list[dt.date]:
    """Return ``count`` XKRX sessions of 2024 after skipping the first ``skip``."""
    sessions = krx_sessions(dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    return sessions[skip : skip + count]


def write_krx_csv(
    path: Path,
    days: list[dt.date],
    *,
    holidays: tuple[dt.date, ...] = (),
    off_tick_every: int = 0,
    base: int = 70_000,
) -> KrxFile:
    """Write bars on ``days`` plus ``holidays`` (date order), prices on the 100-won grid.

    Prices move 100 won a day, far within the ±30% limit, with volume on every day.
    With ``off_tick_every`` = n, every n-th bar opens 37 won off the grid.
    """
    all_days = sorted({*days, *holidays})
    lines = ["date,open,high,low,close,volume"]
    off_tick: list[dt.date] = []
    price = base
    for i, day in enumerate(all_days):
        close = price + (100 if i % 2 else -100)
        open_ = price
        if off_tick_every and i % off_tick_every == off_tick_every - 1:
            open_ = price + 37
            off_tick.append(day)
        high, low = max(open_, close) + 100, min(open_, close) - 100
        lines.append(f"{day.isoformat()},{open_},{high},{low},{close},{1_000 + i}")
        price = close
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return KrxFile(path, tuple(all_days), tuple(sorted(holidays)), tuple(off_tick))
