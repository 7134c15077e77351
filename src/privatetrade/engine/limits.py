"""Bounds of every number and date a caller can give the engine.

Every number is finite and every date lies in ``MIN_DATE..MAX_DATE``. The upper
bounds are chosen from what is meaningful -- far above any real account, order or
market rule, yet low enough that no setting can overflow a date conversion or make
a loop of the engine run longer than linear in the bars. ``docs/api.md`` ("Limits")
lists them; a test keeps that table and these constants in step.

The ``Annotated`` aliases below carry the bounds into pydantic models (and so into
the OpenAPI schema), e.g. ``capital: Cash | None = None``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

__all__ = [
    "MAX_CASH",
    "MAX_DATE",
    "MAX_FEE",
    "MAX_FEE_PER_SHARE",
    "MAX_LOT_SIZE",
    "MAX_PARAM_MAGNITUDE",
    "MAX_PERIODS_PER_YEAR",
    "MAX_SHARES",
    "MAX_TAX_STEPS",
    "MIN_DATE",
    "Cash",
    "Fee",
    "FeePerShare",
    "IsoDate",
    "RiskFreeRate",
    "check_date_range",
    "parse_iso_date",
]

# Dates: the stored market data of any exchange starts after 1900; nothing is traded
# after 2100. Both ends also stay inside pandas' nanosecond timestamps (1677..2262).
MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2100, 12, 31)
# Money in the quote currency: 10^15 (a quadrillion won is about 700 billion dollars).
MAX_CASH = 1e15
# A fixed share count: more than every share of the largest company in existence.
MAX_SHARES = 1e12
# Exchange lots are 1, 10, 100 or 1,000 shares; a few markets use larger board lots.
MAX_LOT_SIZE = 100_000
# A minimum commission or a per-fill fee cap: ten million units of the quote currency.
MAX_FEE = 1e7
# A regulatory fee per share sold (US FINRA TAF: 0.000166 dollars).
MAX_FEE_PER_SHARE = 100.0
# Dated steps of a sell-tax schedule (KRX has had seven since 1996).
MAX_TAX_STEPS = 64
# Bars per year: one per second around the clock is 31.5 million.
MAX_PERIODS_PER_YEAR = 1e8
# A number in a strategy's parameters, before the strategy checks its own bounds.
MAX_PARAM_MAGNITUDE = 1e15

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_iso_date(value: Any) -> Any:
    """Accept a date only as ``YYYY-MM-DD`` text (or a ``date``); never a number.

    Pydantic's lax mode reads ``0`` or ``"0"`` as 1970-01-01 (seconds since the
    epoch); a caller who sends a number meant something else.

    Raises:
        ValueError: For anything but a date or ``YYYY-MM-DD`` text.
    """
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value
    raise ValueError("a date must be written YYYY-MM-DD")


def check_date_range(day: dt.date) -> dt.date:
    """Return ``day`` if it lies in ``MIN_DATE..MAX_DATE``.

    Raises:
        ValueError: Naming the allowed range.
    """
    if not MIN_DATE <= day <= MAX_DATE:
        raise ValueError(f"a date must lie between {MIN_DATE} and {MAX_DATE}")
    return day


IsoDate = Annotated[
    dt.date,
    BeforeValidator(parse_iso_date),
    AfterValidator(check_date_range),
    Field(description=f"YYYY-MM-DD, {MIN_DATE} to {MAX_DATE}"),
]
Cash = Annotated[float, Field(gt=0.0, le=MAX_CASH, allow_inf_nan=False)]
Fee = Annotated[float, Field(ge=0.0, le=MAX_FEE, allow_inf_nan=False)]
FeePerShare = Annotated[float, Field(ge=0.0, le=MAX_FEE_PER_SHARE, allow_inf_nan=False)]
RiskFreeRate = Annotated[float, Field(ge=-0.1, le=1.0, allow_inf_nan=False)]
"""An annual rate as a fraction (0.03 = 3%), from -10% to 100%."""
