"""Window scorers: frequency, silence, new_template and content findings of one service.

Each scorer reads a :class:`ServiceGrid` (this run plus history) and returns ``AnomalyRow``s
for this run's windows only. Defaults and their meaning live in ``AnomalyConfig``.

Example::

    >>> from aiops.anomaly.config import AnomalyConfig
    >>> from aiops.anomaly.grid import assemble
    >>> from aiops.anomaly.partials import TemplateWindowAcc
    >>> run = {w * 300: {"t": TemplateWindowAcc(events=100 if w != 20 else 900)} for w in range(30)}
    >>> g = assemble("web", run, [], {"t": 0}, {"t": "GET <*>"}, (0, 29 * 300), 300)
    >>> [(r.kind, r.window_start, r.template_id, r.observed) for r in score_service(g, AnomalyConfig(), "r1")]
    [('frequency', 6000, None, 900.0), ('frequency', 6000, 't', 900.0)]
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from aiops.anomaly.baseline import (
    Baseline,
    count_z,
    least_surprising,
    recent_baseline,
    seasonal_baseline,
)
from aiops.anomaly.config import AnomalyConfig
from aiops.anomaly.grid import ServiceGrid
from aiops.schema import AnomalyRow, TimestampUs

DAY_US = 86_400_000_000


def _short(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Scored:
    """Baselines, combined z and expectation of one series."""

    def __init__(self, series: np.ndarray, grid: ServiceGrid, cfg: AnomalyConfig, recent: int, z_of):
        period = DAY_US // grid.window_us if DAY_US % grid.window_us == 0 else 0
        self.recent = recent_baseline(series, recent, cfg.min_baseline_windows)
        self.seasonal = (
            seasonal_baseline(series, period, cfg.history_days, cfg.min_seasonal_values) if period
            else Baseline(np.full(len(series), np.nan), np.full(len(series), np.nan), np.zeros(len(series)))
        )
        zr, zs = z_of(series, self.recent), z_of(series, self.seasonal)
        self.z = least_surprising(zr, zs)
        use_seasonal = ~np.isnan(zs) & (np.isnan(zr) | (np.abs(zs) <= np.abs(zr)))
        self.expected = np.where(use_seasonal, self.seasonal.expected, self.recent.expected)
        self.spread = np.where(use_seasonal, self.seasonal.spread, self.recent.spread)


def _row(grid: ServiceGrid, i: int, kind: str, tid: str | None, score: float, threshold: float,
         observed: float, expected: float, detail: str, run_id: str) -> AnomalyRow:
    start = grid.start(i)
    return AnomalyRow(TimestampUs(start), TimestampUs(start + grid.window_us), grid.service, kind, tid,
                      round(float(score), 4), float(threshold), float(observed), round(float(expected), 4),
                      detail, run_id)


def _window_std(series: np.ndarray, recent: int) -> np.ndarray:
    """Standard deviation of the previous ``recent`` covered windows (inf where there are none)."""
    padded = np.concatenate([np.full(recent, np.nan), series])
    view = np.lib.stride_tricks.sliding_window_view(padded, recent)[: len(series)]
    n = np.sum(~np.isnan(view), axis=1)
    filled = np.nan_to_num(view)
    mean = filled.sum(axis=1) / np.maximum(n, 1)
    var = (np.where(np.isnan(view), 0.0, (view - mean[:, None]) ** 2)).sum(axis=1) / np.maximum(n - 1, 1)
    return np.where(n >= 2, np.sqrt(var), np.inf)


def _presence(series: np.ndarray, recent: int) -> np.ndarray:
    """Share of the previous ``recent`` windows in which the series had events (NaN unless two thirds of
    them are covered: a template that appeared an hour ago is not yet regular)."""
    ind = np.where(np.isnan(series), np.nan, (series > 0).astype(np.float64))
    padded = np.concatenate([np.full(recent, np.nan), ind])
    view = np.lib.stride_tricks.sliding_window_view(padded, recent)[: len(series)]
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        covered = np.sum(~np.isnan(view), axis=1)
        return np.where(covered * 3 >= recent * 2, np.nanmean(view, axis=1), np.nan)


def _silence(series: np.ndarray, recent: np.ndarray, longer: Baseline, regular: np.ndarray, ok: np.ndarray,
             cfg: AnomalyConfig, spikes_only: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Silent windows, their score and expectation.

    Evidence adds up over consecutive quiet windows: a line that logs 2 or 3 times a window
    and stops is doubtful after one window and certain after two. The expectation and whether
    the series is regular are those of the window where the quiet run starts. The spread is the smaller
    of the 3-hour standard deviation and MAD: a periodic line logs 3 or 4 times a window (MAD
    1.5, deviation 0.5), a steady one with a burst in it has a large deviation but MAD 0, and a
    Poisson line of the same rate (0 to 7 a window) has both large.
    """
    n = len(series)
    silence, score, expected = np.zeros(n, dtype=bool), np.zeros(n), recent.copy()
    if spikes_only:
        return silence, score, expected
    spread = np.fmin(_window_std(series, 3 * cfg.recent_windows), np.nan_to_num(longer.spread, nan=np.inf))
    with np.errstate(invalid="ignore"):
        quiet = ok & (series <= cfg.silence_fraction * recent) & (recent >= cfg.silence_min_expected)
    deficit = variance = base = 0.0
    run_regular = False
    for i in np.flatnonzero(ok).tolist():
        starts = i == 0 or not (silence[i - 1] or quiet[i - 1])
        if starts and not quiet[i]:
            continue
        if starts:
            deficit, variance, base, run_regular = 0.0, 0.0, float(recent[i]), bool(regular[i])
        elif series[i] > cfg.silence_fraction * base:
            continue  # the run is over
        expected[i] = base  # what it logged before going quiet (the last hour fills with the outage's zeros)
        deficit += base - series[i]
        variance += spread[i] ** 2
        score[i] = deficit / math.sqrt(variance + 0.25)
        silence[i] = run_regular and score[i] >= cfg.silence_score
    return silence, score, expected


def _counts(grid: ServiceGrid, cfg: AnomalyConfig, tid: str | None, series: np.ndarray, silent: set[int],
            run_id: str, what: str = "", spikes_only: bool = False) -> list[AnomalyRow]:
    peak = np.nanmax(series) if np.any(~np.isnan(series)) else 0.0
    if peak < min(cfg.error_spike_min_excess, cfg.spike_min_excess, cfg.silence_min_expected, cfg.drop_min_expected):
        return []  # never busy enough to spike, fall or go silent: skip the baselines (sparse, long grids)
    s = _Scored(series, grid, cfg, cfg.recent_windows, count_z)
    # Also judge against the last 3 hours: a series coming back after an outage (or settling after
    # a burst) is far from the last hour but not from its usual level, and is not an anomaly.
    longer = recent_baseline(series, 3 * cfg.recent_windows, cfg.min_baseline_windows)
    z_all = least_surprising(s.z, count_z(series, longer))
    what = what or ("service" if tid is None else f"template '{_short(grid.templates.get(tid, tid))}'")
    # a series is regular (its silence means something) when it logged in nearly every recent window;
    # a service that logs once in a while is as irregular as such a template
    with np.errstate(invalid="ignore"):
        regular = _presence(series, 3 * cfg.recent_windows) >= cfg.regular_presence
    x, e, z = series, s.expected, z_all
    with np.errstate(invalid="ignore"):
        ok = ~np.isnan(x) & ~np.isnan(e) & ~np.isnan(z)
        ok[: grid.scored_from] = False
        silence, silence_score, e_silence = _silence(series, s.expected, longer, regular, ok, cfg, spikes_only)
        excess = cfg.error_spike_min_excess if spikes_only else cfg.spike_min_excess
        spike = ok & ~silence & (z >= cfg.frequency_z) & (x >= cfg.spike_ratio * e) & (x - e >= excess)
        drop = ok & ~silence & (not spikes_only) & (-z >= cfg.drop_z) & (e >= cfg.drop_min_expected) & (x <= e / cfg.drop_ratio)
    rows = []
    for i in np.flatnonzero(silence | spike | drop).tolist():  # few windows: the rest never reach Python
        xi, ei = float(x[i]), float(e[i])
        if silence[i]:
            if i in silent:
                continue
            ei = float(e_silence[i])
            rows.append(_row(grid, i, "silence", tid, silence_score[i], cfg.silence_score, xi, ei,
                             f"{what} logged {xi:.0f} events, expected {ei:.0f}", run_id))
            if tid is None:
                silent.add(i)
        elif spike[i]:
            rows.append(_row(grid, i, "frequency", tid, z[i], cfg.frequency_z, xi, ei,
                             f"{what}: {xi:.0f} events, expected {ei:.0f} (x{xi / max(ei, 1):.1f} spike)", run_id))
        elif i not in silent:
            rows.append(_row(grid, i, "frequency", tid, -z[i], cfg.drop_z, xi, ei,
                             f"{what}: {xi:.0f} events, expected {ei:.0f} (drop to {xi / ei:.0%})", run_id))
    return rows


def frequency_and_silence(grid: ServiceGrid, cfg: AnomalyConfig, run_id: str) -> list[AnomalyRow]:
    """Service totals first (a silent service silences its templates), then every template."""
    silent: set[int] = set()
    rows = _counts(grid, cfg, None, grid.total, silent, run_id)
    rows.extend(_counts(grid, cfg, None, grid.errors, silent, run_id, "service errors", spikes_only=True))  # fewer errors is fine
    for tid in sorted(grid.counts):
        rows.extend(_counts(grid, cfg, tid, grid.counts[tid], silent, run_id))
    return rows


def missing_mass(grid: ServiceGrid) -> tuple[np.ndarray, np.ndarray]:
    """Per window, the chance per event and the chance that the window shows at least one new template.

    Good-Turing: after N events of which ``s`` belong to templates seen exactly once, the
    next event is of an unseen template with probability about (s + 1) / (N + 1). A window
    of n events then holds a new template with probability 1 - exp(-n p). While a service's
    vocabulary is still growing (little history, sparse samples) that is likely and a new
    template is no news; once it has settled, a new template is.
    """
    counts = np.nan_to_num(np.stack(list(grid.counts.values()))) if grid.counts else np.zeros((1, grid.n))
    before = np.cumsum(counts, axis=1) - counts  # events of each template before each window
    singletons = (before == 1).sum(axis=0)
    seen = before.sum(axis=0)
    p = (singletons + 1) / (seen + 1)
    return p, -np.expm1(-np.nan_to_num(grid.total) * p)


def new_templates(grid: ServiceGrid, cfg: AnomalyConfig, run_id: str) -> list[AnomalyRow]:
    """Templates first seen in a window of this run, when the service's vocabulary has settled."""
    rows = []
    warm = grid.service_start + cfg.new_template_warmup_windows * grid.window_us
    rate: np.ndarray | None = None
    chance = np.zeros(0)
    threshold = -math.log10(cfg.new_template_chance)
    for tid, first in sorted(grid.first_seen.items()):
        i = grid.index(first)
        if i < grid.scored_from or grid.start(i) < warm:
            continue
        x = float(np.nan_to_num(grid.counts[tid][i]))
        if x < cfg.new_template_min_count:
            continue
        if rate is None:
            rate, chance = missing_mass(grid)
        score = -math.log10(max(float(chance[i]), 1e-12))
        if score >= threshold and rate[i] <= cfg.new_template_max_rate:
            rows.append(_row(grid, i, "new_template", tid, score, threshold, x, float(chance[i]),
                             f"new template '{_short(grid.templates.get(tid, tid))}' ({x:.0f} events; "
                             f"chance of any new template in this window {chance[i]:.2%})", run_id))
    return rows


def _log_z(series: np.ndarray, base: Baseline, floor: float) -> np.ndarray:
    return (series - base.expected) / np.maximum(np.nan_to_num(base.spread), floor)


def numeric_content(grid: ServiceGrid, cfg: AnomalyConfig, run_id: str) -> list[AnomalyRow]:
    """A numeric field of a template whose window geometric mean moved far from its baseline."""
    rows = []
    min_shift = math.log(cfg.content_min_ratio)
    for (tid, name), (ns, means) in sorted(grid.numeric.items()):
        series = np.where(ns >= cfg.content_min_values, means, np.nan)
        if np.count_nonzero(~np.isnan(series[grid.scored_from:])) == 0:
            continue
        s = _Scored(series, grid, cfg, cfg.content_baseline_windows, lambda x, b: _log_z(x, b, cfg.content_min_spread))
        with np.errstate(invalid="ignore"):
            hit = ~np.isnan(s.z) & (np.abs(s.z) >= cfg.content_z) & (np.abs(series - s.expected) >= min_shift)
        hit[: grid.scored_from] = False
        for i in np.flatnonzero(hit).tolist():
            obs, exp = math.expm1(series[i]), math.expm1(s.expected[i])
            rows.append(_row(grid, i, "content", tid, abs(s.z[i]), cfg.content_z, obs, exp,
                             f"{name} of '{_short(grid.templates.get(tid, tid))}': geometric mean {obs:,.1f}, "
                             f"expected {exp:,.1f} over {ns[i]:.0f} values", run_id))
    return rows


def categorical_content(grid: ServiceGrid, cfg: AnomalyConfig, run_id: str) -> list[AnomalyRow]:
    """A categorical value rarely or never seen before that suddenly dominates a template."""
    rows = []
    for (tid, name), per_window in sorted(grid.values.items()):
        counts = np.nan_to_num(grid.counts.get(tid, np.zeros(grid.n)))
        before = np.concatenate([[0.0], np.cumsum(counts)])  # events of the template before window i
        for i in sorted(w for w in per_window if w >= grid.scored_from):
            n = counts[i]
            if n < cfg.category_min_events or before[i] < cfg.category_min_history:
                continue
            value, c = max(per_window[i].items(), key=lambda kv: (kv[1], kv[0]))
            share = c / n
            if share < cfg.category_share:
                continue
            seen = sum(v.get(value, 0) for w, v in per_window.items() if w < i)
            past = seen / before[i]
            if past <= cfg.category_max_history_share:
                rows.append(_row(grid, i, "content", tid, share, cfg.category_share, share, past,
                                 f"{name}={value!r} in {share:.0%} of {n:.0f} events of "
                                 f"'{_short(grid.templates.get(tid, tid))}' (before: {past:.1%} of {before[i]:.0f})",
                                 run_id))
    return rows


def score_service(grid: ServiceGrid, cfg: AnomalyConfig, run_id: str) -> list[AnomalyRow]:
    """All window findings of one service, ordered by window, kind and template."""
    rows = (frequency_and_silence(grid, cfg, run_id) + new_templates(grid, cfg, run_id)
            + numeric_content(grid, cfg, run_id) + categorical_content(grid, cfg, run_id))
    return sorted(rows, key=lambda r: (r.window_start, r.kind, r.template_id or ""))
