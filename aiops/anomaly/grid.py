"""One service's windows on a regular grid: this run's partials plus earlier runs' history.

Arrays run over every window from the start of the history to the end of this run; a
window is *covered* when some run read that time (an earlier run's first..last window,
or this run's range), so a covered window without events counts as zero while an
uncovered one is unknown (NaN). A template's series starts at its first-seen window.

Example::

    >>> from aiops.anomaly.partials import TemplateWindowAcc
    >>> g = assemble("web", {0: {"t": TemplateWindowAcc(events=3)}}, [], {"t": 0}, {"t": "x <*>"},
    ...              (0, 600), 300)
    >>> g.counts["t"].tolist(), g.scored_from, g.n
    ([3.0, 0.0, 0.0], 0, 3)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from aiops.anomaly.partials import TemplateWindowAcc
from aiops.schema import TemplateWindowRow


@dataclass
class ServiceGrid:
    service: str
    origin: int  # window_start (µs) of index 0
    window_us: int
    n: int
    scored_from: int  # this run's first window; earlier ones are history only
    covered: np.ndarray
    counts: dict[str, np.ndarray] = field(default_factory=dict)  # NaN before first seen / uncovered
    total: np.ndarray = field(default_factory=lambda: np.zeros(0))  # all events of the service
    errors: np.ndarray = field(default_factory=lambda: np.zeros(0))  # its ERROR and FATAL events
    numeric: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # (n, log-mean)
    values: dict[tuple[str, str], dict[int, dict[str, int]]] = field(default_factory=dict)
    first_seen: dict[str, int] = field(default_factory=dict)  # template -> first-seen (µs)
    templates: dict[str, str] = field(default_factory=dict)
    service_start: int = 0  # earliest time the service is known to have logged (µs)

    def start(self, index: int) -> int:
        return self.origin + index * self.window_us

    def index(self, time_us: int) -> int:
        return (time_us - self.origin) // self.window_us


def _add(grid: ServiceGrid, i: int, tid: str, events: int, errors: int, numeric: Iterable[tuple[str, float, float]],
         values: Iterable[tuple[str, str, int]]) -> None:
    """Add one template-window; numeric items are (field, n, log-mean)."""
    counts = grid.counts.setdefault(tid, np.zeros(grid.n))
    counts[i] += events
    grid.total[i] += events
    grid.errors[i] += errors
    for name, n, logmean in numeric:
        ns, means = grid.numeric.setdefault((tid, name), (np.zeros(grid.n), np.full(grid.n, np.nan)))
        old = ns[i]
        means[i] = logmean if old == 0 else (means[i] * old + logmean * n) / (old + n)
        ns[i] = old + n
    for name, value, c in values:
        slot = grid.values.setdefault((tid, name), {}).setdefault(i, {})
        slot[value] = slot.get(value, 0) + c


def _groups(keys: list) -> dict:
    """{key: numpy indexes of its rows}, keys in order of first appearance."""
    out: dict = {}
    for i, key in enumerate(keys):
        out.setdefault(key, []).append(i)
    return {k: np.asarray(v) for k, v in out.items()}


def _add_table(grid: ServiceGrid, run: pa.Table) -> None:
    """What ``_add`` does for every template-window of a partials table, by column instead of by row."""
    kind = run.column("kind")
    counts = run.filter(pc.equal(kind, "n"))
    idx = (counts.column("win").to_numpy() - grid.origin) // grid.window_us
    events, errors = counts.column("a").to_numpy(), counts.column("b").to_numpy()
    grid.total += np.bincount(idx, weights=events, minlength=grid.n)
    grid.errors += np.bincount(idx, weights=errors, minlength=grid.n)
    for tid, rows in _groups(counts.column("template_id").to_pylist()).items():
        grid.counts.setdefault(tid, np.zeros(grid.n))[idx[rows]] += events[rows]  # one row per window and template
    numeric = run.filter(pc.and_(pc.equal(kind, "x"), pc.greater(run.column("a"), 0)))
    idx = (numeric.column("win").to_numpy() - grid.origin) // grid.window_us
    n, total = numeric.column("a").to_numpy(), numeric.column("b").to_numpy()
    keys = list(zip(numeric.column("template_id").to_pylist(), numeric.column("field").to_pylist(), strict=True))
    for key, rows in _groups(keys).items():
        ns, means = grid.numeric.setdefault(key, (np.zeros(grid.n), np.full(grid.n, np.nan)))
        at, old, add = idx[rows], ns[idx[rows]], n[rows]
        mean = total[rows] / add
        means[at] = np.where(old == 0, mean, (means[at] * old + mean * add) / (old + add))
        ns[at] = old + add
    values = run.filter(pc.equal(kind, "c"))
    idx = (values.column("win").to_numpy() - grid.origin) // grid.window_us
    for tid, name, i, value, c in zip(values.column("template_id").to_pylist(), values.column("field").to_pylist(),
                                      idx.tolist(), values.column("value").to_pylist(), values.column("a").to_pylist(),
                                      strict=True):
        slot = grid.values.setdefault((tid, name), {}).setdefault(i, {})
        slot[value] = slot.get(value, 0) + int(c)


def assemble(
    service: str,
    run: dict[int, dict[str, TemplateWindowAcc]] | pa.Table,  # or one service's partials table (PARTIALS_SCHEMA)
    history: list[TemplateWindowRow],  # earlier runs' rows of this service
    first_seen: dict[str, int],
    templates: dict[str, str],
    run_range: tuple[int, int],
    window_us: int,
) -> ServiceGrid:
    """Build the grid; ``run_range`` is this run's first and last window start over all services."""
    run_lo, run_hi = run_range
    history = [h for h in history if h.window_start < run_lo]  # this run's time is this run's to judge
    spans: dict[str, list[int]] = {}
    for h in history:
        span = spans.setdefault(h.run_id, [h.window_start, h.window_start])
        span[0], span[1] = min(span[0], h.window_start), max(span[1], h.window_start)
    origin = min([run_lo] + [lo for lo, _ in spans.values()])
    n = (run_hi - origin) // window_us + 1
    covered = np.zeros(n, dtype=bool)
    for lo, hi in spans.values():
        covered[(lo - origin) // window_us : (hi - origin) // window_us + 1] = True
    scored_from = (run_lo - origin) // window_us
    covered[scored_from:] = True
    grid = ServiceGrid(service, origin, window_us, n, scored_from, covered, total=np.zeros(n), errors=np.zeros(n))
    for h in history:
        numeric: list[tuple[str, float, float]] = [(f, float(c), math.log1p(max(g, 0.0))) for f, g, c in zip(h.value_fields, h.value_geomeans, h.value_counts, strict=True)]
        values = [(k.partition("=")[0], k.partition("=")[2], c) for k, c in zip(h.top_keys, h.top_counts, strict=True)]
        _add(grid, grid.index(h.window_start), h.template_id, h.events, h.errors, numeric, values)
    if isinstance(run, pa.Table):
        _add_table(grid, run)
    else:
        for start, per_template in run.items():
            i = grid.index(start)
            for tid, acc in per_template.items():
                numeric = [(f, float(a[0]), a[1] / a[0]) for f, a in acc.numeric.items() if a[0] > 0]
                values = [(f, v, c) for f, counts in acc.values.items() for v, c in counts.items()]
                _add(grid, i, tid, acc.events, acc.errors, numeric, values)
    grid.templates = dict(templates)
    for tid, counts in grid.counts.items():
        seen_at = np.flatnonzero(counts > 0)
        observed_first = grid.start(int(seen_at[0])) if len(seen_at) else run_lo
        known = first_seen.get(tid) or observed_first  # 0 = unknown (a template added on a worker)
        grid.first_seen[tid] = min(known, observed_first)
        begin = max(0, grid.index(grid.first_seen[tid]))
        counts[:begin] = np.nan
        counts[~covered] = np.nan
    grid.total[~covered] = np.nan
    starts = [v for k, v in first_seen.items() if v] + list(grid.first_seen.values())
    grid.service_start = min(starts) if starts else run_lo
    total_begin = max(0, grid.index(grid.service_start))
    grid.total[:total_begin] = np.nan
    grid.errors[np.isnan(grid.total)] = np.nan
    return grid
