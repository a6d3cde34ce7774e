"""Shared pieces of the sample generator: incidents, time sampling, fast timestamp formatting, rotation.

Timestamps are formatted from lookup tables (one string per day, one per second of the day,
one per millisecond) instead of ``datetime.strftime`` per line, which keeps generation well
above 200k lines/s.

Example::

    >>> import numpy as np
    >>> from aiops.sample.common import fmt_iso_ms, fmt_java, fmt_nginx, fmt_syslog
    >>> t = np.array([1795341600123])  # 2026-11-22T10:00:00.123Z
    >>> fmt_iso_ms(t)[0], fmt_java(t)[0], fmt_nginx(t)[0], fmt_syslog(t)[0]
    ('2026-11-22T10:00:00.123Z', '2026-11-22 10:00:00,123', '22/Nov/2026:10:00:00 +0000', 'Nov 22 10:00:00')
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MS3 = [f"{i:03d}" for i in range(1000)]
_HMS: list[str] = []
# Per-record columns a planner hands to its renderer (numpy arrays or lists, one value per record).
Cols = dict[str, Any]


def hms_table() -> list[str]:
    """``'HH:MM:SS'`` for every second of a day, built once."""
    if not _HMS:
        _HMS.extend(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400))
    return _HMS


def iso(ms: int) -> str:
    """Milliseconds since the epoch as ``2026-11-22T10:00:00Z`` (ms shown only when not zero)."""
    d = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    text = d.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{ms % 1000:03d}Z" if ms % 1000 else "Z")


def to_ms(when: dt.datetime) -> int:
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(round(when.timestamp() * 1000))


@dataclass
class Incident:
    """One injected anomaly (or one routine event); ``end_ms`` is exclusive.

    ``kind`` is the detector kind that should see it (``aiops.schema.ANOMALY_KINDS``),
    ``scenario`` what happened (``error_spike``, ``brute_force``, ...); renderers look
    incidents up by scenario. ``service`` is the generated directory; in the ground truth it
    is the service the batch job sees (``logged_as``, e.g. ``sshd`` for ``auth/`` syslog lines).
    """

    kind: str
    scenario: str
    service: str
    start_ms: int
    end_ms: int
    description: str
    details: dict[str, object] = field(default_factory=dict)
    logged_as: str = ""  # the service the job sees when the lines name their own (syslog app-name)

    def to_json(self) -> dict[str, object]:
        where = (
            {"service": self.logged_as, "directory": self.service}
            if self.logged_as
            else {"service": self.service}
        )
        return {
            "kind": self.kind,
            "scenario": self.scenario,
            **where,
            "start": iso(self.start_ms),
            "end": iso(self.end_ms),
            "description": self.description,
            **self.details,
        }

    def mask(self, times: np.ndarray) -> np.ndarray:
        return (times >= self.start_ms) & (times < self.end_ms)


def _split(times: np.ndarray) -> tuple[list[int], list[int], list[int]]:
    t = np.asarray(times, dtype=np.int64)
    secs = t // 1000
    return (secs // 86_400).tolist(), (secs % 86_400).tolist(), (t % 1000).tolist()


def _day_strings(days: list[int], fmt: Callable[[dt.date], str]) -> dict[int, str]:
    epoch = dt.date(1970, 1, 1)
    return {d: fmt(epoch + dt.timedelta(days=d)) for d in set(days)}


def fmt_iso_ms(times: np.ndarray) -> list[str]:
    """``2026-11-22T10:00:00.123Z`` (JSON lines, logfmt)."""
    days, sods, mss = _split(times)
    dp = _day_strings(days, lambda d: d.strftime("%Y-%m-%dT"))
    h = hms_table()
    return [f"{dp[d]}{h[s]}.{MS3[m]}Z" for d, s, m in zip(days, sods, mss, strict=True)]


def fmt_java(times: np.ndarray) -> list[str]:
    """``2026-11-22 10:00:00,123`` (log4j / logback / Python logging default)."""
    days, sods, mss = _split(times)
    dp = _day_strings(days, lambda d: d.strftime("%Y-%m-%d "))
    h = hms_table()
    return [f"{dp[d]}{h[s]},{MS3[m]}" for d, s, m in zip(days, sods, mss, strict=True)]


def fmt_nginx(times: np.ndarray) -> list[str]:
    """``22/Nov/2026:10:00:00 +0000`` (nginx ``$time_local`` on a UTC host)."""
    days, sods, _ = _split(times)
    dp = _day_strings(days, lambda d: f"{d.day:02d}/{MONTHS[d.month - 1]}/{d.year}:")
    h = hms_table()
    return [f"{dp[d]}{h[s]} +0000" for d, s in zip(days, sods, strict=True)]


def fmt_syslog(times: np.ndarray) -> list[str]:
    """``Nov 22 10:00:00`` / ``Nov  2 10:00:00`` (RFC 3164, no year)."""
    days, sods, _ = _split(times)
    dp = _day_strings(days, lambda d: f"{MONTHS[d.month - 1]} {d.day:2d} ")
    h = hms_table()
    return [f"{dp[d]}{h[s]}" for d, s in zip(days, sods, strict=True)]


def diurnal(hour_of_day: np.ndarray, shape: str) -> np.ndarray:
    """Relative traffic per hour of day: ``shop`` (night low, afternoon peak), ``office``, ``flat``."""

    def bump(center: float, width: float) -> np.ndarray:
        d = np.abs(hour_of_day - center)
        d = np.minimum(d, 24 - d)
        return np.exp(-((d / width) ** 2))

    if shape == "shop":
        return 0.08 + 0.35 * bump(10.5, 2.5) + 1.0 * bump(15.5, 3.5) + 0.45 * bump(20.5, 2.0)
    if shape == "office":
        return 0.15 + 1.0 * bump(13.0, 4.0)
    return 0.8 + 0.2 * bump(3.0, 3.0)  # batch work, a little heavier at night


def sample_times(rng: np.random.Generator, n: int, start_ms: int, rate: np.ndarray) -> np.ndarray:
    """``n`` sorted event times (ms) drawn from a per-minute rate curve starting at ``start_ms``."""
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    p = rate / rate.sum()
    minutes = rng.choice(len(rate), size=n, p=p).astype(np.int64)
    times = start_ms + minutes * MINUTE_MS + rng.integers(0, MINUTE_MS, size=n, dtype=np.int64)
    times.sort()
    return times


def rate_noise(rng: np.random.Generator, minutes: int, sigma: float = 0.3, smooth: int = 15) -> np.ndarray:
    """Slowly wandering multiplicative noise (~``sigma / sqrt(smooth)``) on a per-minute rate.

    Real traffic is over-dispersed compared with a Poisson process around a smooth curve
    (campaigns, bots, retries); a detector that only expects Poisson noise is too eager.
    """
    log = rng.normal(0.0, sigma, size=minutes + smooth)
    kernel = np.ones(smooth) / smooth
    return np.exp(np.convolve(log, kernel, mode="valid")[:minutes])


NICE_PERIODS_S = (10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600)


def nice_period_ms(target_lines: float, span_ms: int) -> int:
    """The round scheduler period (10 s .. 1 h) whose line count over ``span_ms`` is closest to target."""
    want_s = span_ms / 1000 / max(target_lines, 1e-9)
    return 1000 * min(NICE_PERIODS_S, key=lambda p: abs(np.log(p / want_s)))


def merge_sorted(times: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate event-time arrays and sort them; also returns which input each event came from.

    The sort is stable, so equal times keep the order of ``times`` (a step logged right after
    another in the same millisecond stays after it).
    """
    origin = np.concatenate([np.full(len(t), k, dtype=np.int64) for k, t in enumerate(times)])
    merged = np.concatenate(times).astype(np.int64)
    order = np.argsort(merged, kind="stable")
    return merged[order], origin[order]


def periods(start_ms: int, end_ms: int, rotate_ms: int) -> list[tuple[int, int]]:
    """``[(period_start, period_end), ...]`` covering ``[start_ms, end_ms)``."""
    bounds = list(range(start_ms, end_ms, rotate_ms)) + [end_ms]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def write_log(path: Path, records: list[str], compress: bool, mtime_ms: int) -> int:
    """Write records (one per line; a record may contain newlines); return physical lines.

    Gzip output has mtime 0 and no file name so bytes are deterministic; the file's own
    mtime is set to ``mtime_ms`` (the end of its period), as a rotated log would have.
    """
    text = "\n".join(records) + "\n"
    data = text.encode("utf-8")
    if compress:
        data = gzip.compress(data, compresslevel=1, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime_ms / 1000, mtime_ms / 1000))
    return text.count("\n")
