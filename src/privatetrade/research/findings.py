"""Plain-language findings about an optimization, in English and Korean.

Each detector looks at one thing (where the best parameters sit in the grid, the shape of the
peak, the number of trades, out-of-sample decay, the deflated Sharpe ratio, the probability of
backtest overfitting) and returns a :class:`Finding` when there is something to say, else None.
:func:`collect` keeps the findings that were made. The thresholds are the module constants below.

Example:
    >>> finding = edge_of_grid({"fast": 5, "slow": 60}, {"fast": [5, 10, 20], "slow": [40, 60, 80]})
    >>> finding.code, finding.details["parameters"][0]["name"]
    ('edge_of_grid', 'fast')
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

import numpy as np
import numpy.typing as npt

from privatetrade.errors import InputError

INFO = "info"
WARNING = "warning"

EDGE_MIN_AXIS_VALUES = 3
"""A numeric axis needs at least this many values tried before its ends count as edges."""

ISOLATED_PEAK_DROP = 0.5
"""Isolated peak: the median neighbour falls more than this share of the spread below the best.

The spread is the distance from the best score to the grid's reference score
(``REFERENCE_QUANTILE``)."""

PLATEAU_DROP = 0.10
"""Plateau: every neighbour stays within this share of the spread of the best."""

REFERENCE_QUANTILE = 0.25
"""The grid's reference score is this quantile of its eligible scores (the lower quartile).

Not the median: when a plateau covers more than half of the grid, the median sits on the
plateau, the spread shrinks to almost nothing, and the plateau's own small ripples would read as
an isolated peak."""

OOS_MUCH_WORSE_RATIO = 0.5
"""Out of sample is much worse when it is below this share of a positive in-sample value."""

DSR_THRESHOLD = 0.95
"""A deflated Sharpe ratio below this is too low to rule out luck."""

PBO_THRESHOLD = 0.5
"""A probability of backtest overfitting at or above this is high."""

METRIC_LABELS: dict[str, tuple[str, str]] = {
    "sharpe": ("Sharpe ratio", "샤프 지수"),
    "sortino": ("Sortino ratio", "소르티노 지수"),
    "calmar": ("Calmar ratio", "칼마 지수"),
    "cagr": ("annual return (CAGR)", "연평균 수익률"),
    "total_return": ("total return", "총수익률"),
    "profit_factor": ("profit factor", "손익비"),
    "win_rate": ("win rate", "승률"),
    "information_ratio": ("information ratio", "정보 비율"),
}
"""English and Korean names of the metrics the messages know; others are shown as given."""

PERCENT_METRICS = frozenset({"cagr", "total_return", "win_rate"})
"""Metrics that are fractions and read as percentages (0.12 → 12%)."""


@dataclass(frozen=True)
class Finding:
    """One observation about an optimization, with the numbers behind it.

    Attributes:
        code: Stable identifier ("edge_of_grid", "isolated_peak", "plateau", "too_few_trades",
            "oos_much_worse", "low_dsr", "high_pbo").
        severity: "info" or "warning".
        details: The numbers the finding used (JSON-ready: str, int, float, bool, lists, dicts).
        message_en: The finding in plain English.
        message_ko: The finding in plain Korean (합니다체).
    """

    code: str
    severity: str
    details: dict[str, Any] = field(hash=False)
    message_en: str
    message_ko: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary of the fields."""
        return {
            "code": self.code,
            "severity": self.severity,
            "details": self.details,
            "message_en": self.message_en,
            "message_ko": self.message_ko,
        }


def collect(*findings: Finding | None) -> list[Finding]:
    """Return the findings that were made, in the order given (the Nones dropped)."""
    return [finding for finding in findings if finding is not None]


def edge_of_grid(
    best_params: Mapping[str, Any], axes: Mapping[str, Sequence[Any]]
) -> Finding | None:
    """Report best parameters at the lowest or highest value tried.

    Only numeric axes (not bool) with at least ``EDGE_MIN_AXIS_VALUES`` values count: with two
    values every choice is an edge, and categories have no order.

    Args:
        best_params: The best parameter values by name.
        axes: The values tried for each parameter.

    Returns:
        A warning naming each parameter at an edge, or None.
    """
    edges: list[dict[str, Any]] = []
    for name, values in axes.items():
        if name not in best_params or len(values) < EDGE_MIN_AXIS_VALUES:
            continue
        if not all(_is_number(value) for value in values) or not _is_number(best_params[name]):
            continue
        best, lowest, highest = best_params[name], min(values), max(values)
        if best <= lowest or best >= highest:
            side = "lowest" if best <= lowest else "highest"
            edges.append({"name": name, "value": _plain(best), "edge": side,
                          "lowest": _plain(lowest), "highest": _plain(highest)})  # fmt: skip
    if not edges:
        return None
    listed_en = ", ".join(
        f"{edge['name']} = {_param(edge['value'])} (the {edge['edge']} value tried)"
        for edge in edges
    )
    listed_ko = ", ".join(
        f"{edge['name']} = {_param(edge['value'])} "
        f"(시험한 값 중 {'가장 작은' if edge['edge'] == 'lowest' else '가장 큰'} 값)"
        for edge in edges
    )
    return Finding(
        code="edge_of_grid",
        severity=WARNING,
        details={"parameters": edges},
        message_en=(
            f"The best result sits at the edge of the values tried: {listed_en}. "
            "The real optimum may lie outside the range; widen it and test again before "
            "trusting these values."
        ),
        message_ko=(
            f"가장 좋은 결과가 시험한 범위의 끝에 있습니다: {listed_ko}. "
            "실제 최적값은 범위 밖에 있을 수 있으니, 범위를 넓혀 다시 시험한 뒤에 이 값을 "
            "믿는 것이 좋습니다."
        ),
    )


def peak_shape(
    scores: npt.ArrayLike,
    best_index: tuple[int, ...],
    *,
    higher_is_better: bool = True,
    axes: Mapping[str, Sequence[Any]] | None = None,
) -> Finding | None:
    """Report whether the best cell is an isolated peak or sits on a plateau.

    The neighbours are the cells one step away along each axis (at most two per axis); NaN
    cells (ineligible) are left out. With ``spread`` = best score - the grid's lower quartile
    (``REFERENCE_QUANTILE`` of the eligible scores):

    - isolated peak (warning): the median neighbour is more than ``ISOLATED_PEAK_DROP`` of the
      spread worse than the best; a small change of a parameter loses most of the edge;
    - plateau (info): every neighbour is within ``PLATEAU_DROP`` of the spread of the best;
      the result does not hinge on the exact values.

    Args:
        scores: Objective values, one axis per parameter (in the order of ``axes``), NaN for
            ineligible cells.
        best_index: Index of the best cell.
        higher_is_better: False when the lowest score is best.
        axes: The values tried per parameter, to name the best cell in the messages.

    Returns:
        The finding, or None when there are no eligible neighbours, when the best cell is no
        better than the grid's lower quartile (no peak to speak of), or in between the two
        shapes.

    Raises:
        InputError: ``best_index`` does not fit ``scores``, its cell is NaN, or ``axes`` does
            not match the grid's shape.
    """
    grid = np.asarray(scores, dtype=np.float64) * (1.0 if higher_is_better else -1.0)
    _check_peak_arguments(grid, best_index, axes)
    best = float(grid[best_index])
    neighbours = _neighbour_scores(grid, best_index)
    finite = grid[np.isfinite(grid)]
    reference = float(np.quantile(finite, REFERENCE_QUANTILE))
    spread = best - reference
    if neighbours.size == 0 or not spread > 0:
        return None
    median_drop = (best - float(np.median(neighbours))) / spread
    worst_drop = (best - float(neighbours.min())) / spread
    sign = 1.0 if higher_is_better else -1.0
    details: dict[str, Any] = {
        "best_score": sign * best,
        "neighbour_median": sign * float(np.median(neighbours)),
        "worst_neighbour": sign * float(neighbours.min()),
        "grid_reference": sign * reference,
        "neighbour_median_drop": median_drop,
        "worst_neighbour_drop": worst_drop,
        "neighbours": int(neighbours.size),
        "best_params": _cell_params(axes, best_index),
    }
    where_en, where_ko = _cell_label(details["best_params"])
    if median_drop > ISOLATED_PEAK_DROP:
        return Finding(
            code="isolated_peak",
            severity=WARNING,
            details=details,
            message_en=(
                f"The best result{where_en} is an isolated peak: its neighbouring settings score "
                f"{_number(details['neighbour_median'])} (median) against "
                f"{_number(details['best_score'])}, {_percent(median_drop)} of the way down to "
                f"the grid's lower quartile of {_number(details['grid_reference'])}. A small "
                "change of a parameter loses most of the edge, which is typical of a lucky fit."
            ),
            message_ko=(
                f"가장 좋은 결과{where_ko}는 홀로 솟은 봉우리입니다. 점수가 최고점 "
                f"{_number(details['best_score'])}, 바로 옆 설정들의 중앙값 "
                f"{_number(details['neighbour_median'])}, 전체 하위 25% 지점 "
                f"{_number(details['grid_reference'])}입니다. 옆 설정들이 최고점에서 하위 25% "
                f"지점까지 거리의 {_percent(median_drop)}만큼 떨어지는 셈입니다. 매개변수를 "
                "조금만 바꿔도 성과가 크게 줄어드는 것은 우연히 맞아떨어진 결과에서 흔히 보이는 "
                "모습입니다."
            ),
        )
    if worst_drop <= PLATEAU_DROP:
        return Finding(
            code="plateau",
            severity=INFO,
            details=details,
            message_en=(
                f"The best result{where_en} sits on a plateau: all {details['neighbours']} "
                f"neighbouring settings score at least {_number(details['worst_neighbour'])} "
                f"against {_number(details['best_score'])} (within {_percent(PLATEAU_DROP)} of "
                "the distance to the grid's lower quartile), so it does not hinge on the exact "
                "values."
            ),
            message_ko=(
                f"가장 좋은 결과{where_ko}는 평평한 고원 위에 있습니다. 바로 옆 설정 "
                f"{details['neighbours']}개의 점수가 모두 {_number(details['worst_neighbour'])} "
                f"이상으로, 최고점 {_number(details['best_score'])}에 가깝습니다(전체 하위 25% "
                f"지점까지 거리의 {_percent(PLATEAU_DROP)} 이내). 매개변수의 정확한 값에 크게 "
                "좌우되지 않는 결과입니다."
            ),
        )
    return None


def too_few_trades(trade_count: int, minimum: int) -> Finding | None:
    """Report a result that rests on fewer than ``minimum`` trades.

    Args:
        trade_count: Trades the result made.
        minimum: Trades needed for the statistics to mean something.

    Returns:
        A warning when ``trade_count < minimum``, else None.
    """
    if trade_count >= minimum:
        return None
    return Finding(
        code="too_few_trades",
        severity=WARNING,
        details={"trade_count": trade_count, "minimum": minimum},
        message_en=(
            f"Only {trade_count:,} trades (fewer than {minimum:,}): too few to tell skill from "
            "luck; the statistics of this result are unreliable."
        ),
        message_ko=(
            f"거래가 {trade_count:,}번뿐입니다({minimum:,}번 미만). 실력과 운을 구분하기에는 "
            "너무 적어 이 결과의 통계는 믿기 어렵습니다."
        ),
    )


def oos_much_worse(in_sample: float, out_of_sample: float, metric: str) -> Finding | None:
    """Report an out-of-sample result far below the in-sample one (higher is better).

    Much worse: the in-sample value is positive and the out-of-sample one is negative or below
    ``OOS_MUCH_WORSE_RATIO`` of it.

    Args:
        in_sample: The metric on the optimization period.
        out_of_sample: The same metric on the period it was not optimized on.
        metric: The metric's key ("sharpe", "cagr", ...; see ``METRIC_LABELS``).

    Returns:
        A warning, or None (also when a value is not finite or in sample is not positive).
    """
    if not (math.isfinite(in_sample) and math.isfinite(out_of_sample)) or in_sample <= 0:
        return None
    if out_of_sample >= OOS_MUCH_WORSE_RATIO * in_sample:
        return None
    label_en, label_ko = METRIC_LABELS.get(metric, (metric, metric))
    shown = _percent if metric in PERCENT_METRICS else _number
    negative = out_of_sample < 0
    return Finding(
        code="oos_much_worse",
        severity=WARNING,
        details={
            "metric": metric,
            "in_sample": in_sample,
            "out_of_sample": out_of_sample,
            "ratio": out_of_sample / in_sample,
        },
        message_en=(
            f"Out of sample the {label_en} is {shown(out_of_sample)} against "
            f"{shown(in_sample)} in sample"
            + (": it turned negative" if negative else ", less than half")
            + ". Much of the optimized result does not carry over to data it was not fitted on."
        ),
        message_ko=(
            f"{label_ko}: 최적화 구간(표본 내) {shown(in_sample)} → 검증 구간(표본 외) "
            f"{shown(out_of_sample)}. "
            + (
                "검증 구간에서는 음수로 돌아섰습니다. "
                if negative
                else "검증 구간에서는 절반에도 못 미칩니다. "
            )
            + "최적화한 성과의 상당 부분이 맞추지 않은 데이터에서는 나타나지 않습니다."
        ),
    )


def low_dsr(
    dsr: float, threshold: float = DSR_THRESHOLD, *, n_trials: int | None = None
) -> Finding | None:
    """Report a deflated Sharpe ratio below ``threshold``.

    Args:
        dsr: The deflated Sharpe ratio (a probability).
        threshold: The level it must reach.
        n_trials: The number of trials it was deflated for, to name in the messages.

    Returns:
        A warning when ``dsr < threshold`` (or is NaN), else None.
    """
    if dsr >= threshold:
        return None
    trials_en = f"{n_trials:,} trials" if n_trials is not None else "the trials"
    trials_ko = f"{n_trials:,}번 시험한" if n_trials is not None else "여러 번 시험한"
    return Finding(
        code="low_dsr",
        severity=WARNING,
        details={"dsr": dsr, "threshold": threshold, "n_trials": n_trials},
        message_en=(
            f"The deflated Sharpe ratio is {_number(dsr)}, below {_number(threshold)}: "
            f"allowing for {trials_en}, the best Sharpe ratio is not clearly better than the "
            "best that as many strategies without any edge would show by luck (confidence "
            f"{_percent(dsr)})."
        ),
        message_ko=(
            f"디플레이티드 샤프 지수(DSR)는 {_number(dsr)}입니다(기준 {_number(threshold)} "
            f"미만). {trials_ko} 점을 감안하면, 가장 좋은 샤프 지수가 아무 실력 없는 전략을 "
            "그만큼 시험했을 때 운으로 나오는 최고 샤프 지수보다 확실히 낫다고 보기 어렵습니다"
            f"(신뢰도 {_percent(dsr)})."
        ),
    )


def high_pbo(pbo: float, threshold: float = PBO_THRESHOLD) -> Finding | None:
    """Report a probability of backtest overfitting at or above ``threshold``.

    Args:
        pbo: The probability of backtest overfitting.
        threshold: The level at which it is reported (0.5: no better than a coin flip).

    Returns:
        A warning when ``pbo >= threshold``, else None.
    """
    if not pbo >= threshold:
        return None
    return Finding(
        code="high_pbo",
        severity=WARNING,
        details={"pbo": pbo, "threshold": threshold},
        message_en=(
            f"The probability of backtest overfitting is {_percent(pbo)} (at or above "
            f"{_percent(threshold)}): in that share of the in-sample/out-of-sample splits, the "
            "parameters that were best in sample did no better than the median out of sample. "
            "Choosing the best backtest is close to choosing at random."
        ),
        message_ko=(
            f"백테스트 과최적화 확률(PBO)이 {_percent(pbo)}입니다(기준 {_percent(threshold)} "
            "이상). 기간을 나누어 검증해 보면 그만큼의 경우에서, 최적화 구간에서 가장 좋았던 "
            "매개변수가 검증 구간에서는 중간 이하의 성과를 냈습니다. 가장 좋은 백테스트를 고르는 "
            "것이 무작위로 고르는 것과 크게 다르지 않다는 뜻입니다."
        ),
    )


def _neighbour_scores(grid: npt.NDArray[np.float64], index: tuple[int, ...]) -> Any:
    values: list[float] = []
    for axis, position in enumerate(index):
        for step in (-1, 1):
            if 0 <= position + step < grid.shape[axis]:
                neighbour = list(index)
                neighbour[axis] = position + step
                values.append(float(grid[tuple(neighbour)]))
    array = np.asarray(values, dtype=np.float64)
    return array[np.isfinite(array)]


def _check_peak_arguments(
    grid: npt.NDArray[np.float64],
    index: tuple[int, ...],
    axes: Mapping[str, Sequence[Any]] | None,
) -> None:
    if len(index) != grid.ndim or any(
        not 0 <= position < size for position, size in zip(index, grid.shape, strict=True)
    ):
        raise InputError("best_index does not fit the grid of scores", field="best_index")
    if not math.isfinite(float(grid[index])):
        raise InputError("the best cell's score is not a number", field="best_index")
    if axes is not None and tuple(len(values) for values in axes.values()) != grid.shape:
        raise InputError("axes do not match the grid's shape", field="axes")


def _cell_params(
    axes: Mapping[str, Sequence[Any]] | None, index: tuple[int, ...]
) -> dict[str, Any] | None:
    if axes is None:
        return None
    return {
        name: _plain(values[position])
        for (name, values), position in zip(axes.items(), index, strict=True)
    }


def _cell_label(params: dict[str, Any] | None) -> tuple[str, str]:
    if not params:
        return "", ""
    listed = ", ".join(f"{name} = {_param(value)}" for name, value in params.items())
    return f" ({listed})", f"({listed})"


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _plain(value: Any) -> Any:
    """Return numpy scalars as Python numbers, so details stay JSON-ready."""
    return value.item() if isinstance(value, np.generic) else value


def _param(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _number(value: float) -> str:
    """Format a score readably: 0.873 → "0.87", 1234.5 → "1,234"."""
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}"


def _percent(fraction: float) -> str:
    """Format a fraction as a percentage: 0.625 → "62.5%", 0.5 → "50%"."""
    if not math.isfinite(fraction):
        return str(fraction)
    text = f"{fraction * 100:.1f}"
    return f"{text.removesuffix('.0')}%"
