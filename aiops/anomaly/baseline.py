"""Robust baselines for window series, vectorised: recent windows and the same time on earlier days.

A series is a float array over a service's window grid with NaN where the window is not
covered (before the series existed, or no run read that time). For every window the
"recent" baseline is the median and scaled MAD of the previous ``recent`` windows; the
"seasonal" one uses the same window (+-1) on each earlier day. No Python loop per window.

Example::

    >>> import numpy as np
    >>> b = recent_baseline(np.array([5.0, 5, 5, 5, 5, 50]), recent=4, min_values=3)
    >>> float(b.expected[-1]), float(b.spread[-1])
    (5.0, 0.0)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

MAD_SCALE = 1.4826  # MAD of a normal distribution times this is its standard deviation


class Baseline(NamedTuple):
    expected: np.ndarray  # NaN where there is not enough history
    spread: np.ndarray  # robust standard deviation of the baseline values
    values: np.ndarray  # how many baseline values each window had


def _nan_median(stack: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Row medians ignoring NaN: np.sort puts NaN last, so the middle of the first ``count`` values.

    Much faster than np.nanmedian (masked arrays) on long grids.
    """
    ordered = np.sort(stack, axis=1)
    rows = np.arange(len(stack))
    lo = np.clip((count - 1) // 2, 0, None)
    hi = np.clip(count // 2, 0, None)
    med = (ordered[rows, np.minimum(lo, stack.shape[1] - 1)] + ordered[rows, np.minimum(hi, stack.shape[1] - 1)]) / 2
    return np.where(count > 0, med, np.nan)


def _robust(stack: np.ndarray, min_values: int) -> Baseline:
    """Median and scaled MAD along axis 1, NaN-aware; NaN where fewer than min_values."""
    count = np.sum(~np.isnan(stack), axis=1)
    med = _nan_median(stack, count)
    mad = _nan_median(np.abs(stack - med[:, None]), count) * MAD_SCALE
    enough = count >= min_values
    return Baseline(np.where(enough, med, np.nan), np.where(enough, mad, np.nan), count)


def recent_baseline(series: np.ndarray, recent: int, min_values: int) -> Baseline:
    """Baseline of each window from the ``recent`` windows just before it."""
    padded = np.concatenate([np.full(recent, np.nan), series.astype(np.float64)])
    stack = sliding_window_view(padded, recent)[: len(series)]  # row i = windows i-recent .. i-1
    return _robust(stack, min_values)


def seasonal_baseline(series: np.ndarray, period: int, days: int, min_values: int) -> Baseline:
    """Baseline of each window from the same window (+-1) ``1..days`` periods earlier."""
    n = len(series)
    cols = []
    for k in range(1, days + 1):
        for offset in (-1, 0, 1):
            shift = k * period + offset
            col = np.full(n, np.nan)
            if 0 < shift < n:
                col[shift:] = series[: n - shift]
            cols.append(col)
    return _robust(np.stack(cols, axis=1) if cols else np.full((n, 1), np.nan), min_values)


def count_z(observed: np.ndarray, base: Baseline) -> np.ndarray:
    """Robust z of counts: the larger of Poisson noise and the baseline's own spread (the spread of
    Poisson counts already is their noise: adding both would count it twice)."""
    return (observed - base.expected) / np.sqrt(np.fmax(np.maximum(base.expected, 0), base.spread**2) + 1.0)


def least_surprising(z_recent: np.ndarray, z_seasonal: np.ndarray) -> np.ndarray:
    """Combine two baselines: the smaller deviation when both exist and agree in sign, 0 if they disagree.

    A real spike is far from both what the last hour and what yesterday at this time
    predict; a morning ramp is only far from the last hour.
    """
    both = ~np.isnan(z_recent) & ~np.isnan(z_seasonal)
    agree = np.sign(z_recent) == np.sign(z_seasonal)
    combined = np.where(np.abs(z_recent) < np.abs(z_seasonal), z_recent, z_seasonal)
    out = np.where(both, np.where(agree, combined, 0.0), np.where(np.isnan(z_recent), z_seasonal, z_recent))
    return out
