"""Windowing settings in one place: the default KPI window and duration parsing.

Example::

    >>> from aiops.windowing import parse_duration_us
    >>> parse_duration_us("5m")
    300000000
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_WINDOW = "5m"
_UNITS_US = {"ms": 1_000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000, "d": 86_400_000_000}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


def parse_duration_us(text: str) -> int:
    """'90s', '5m', '1h', '250ms' (a bare number means seconds) to microseconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 5m, 1h)")
    value = float(match.group(1)) * _UNITS_US[match.group(2) or "s"]
    if value <= 0:
        raise ValueError(f"duration must be positive: {text!r}")
    return int(value)


DEFAULT_WINDOW_US = parse_duration_us(DEFAULT_WINDOW)

# Streaming: event-time windows, how long a closed window still accepts late data, and how far
# behind the arrival clock the local watch source holds its watermark.
DEFAULT_STREAM_WINDOW = "1m"
DEFAULT_ALLOWED_LATENESS = "10m"
DEFAULT_WATERMARK_DELAY = "5s"


@dataclass(frozen=True)
class StreamWindowing:
    """The streaming job's window policy (one object the stages and the tests share).

    A window ``[start, start + window)`` fires once when the watermark passes its end (the on-time
    row), again for every bundle of late data that arrives while ``end + allowed_lateness`` is not
    yet behind the watermark (the row is replaced), and is then closed: data for it that arrives
    later is counted and written to ``dead_letter`` with reason ``too_late``.
    """

    window_us: int = parse_duration_us(DEFAULT_STREAM_WINDOW)
    allowed_lateness_us: int = parse_duration_us(DEFAULT_ALLOWED_LATENESS)

    def start_of(self, time_us: int) -> int:
        return time_us - time_us % self.window_us

    def end_of(self, start_us: int) -> int:
        return start_us + self.window_us

    def expiry_of(self, start_us: int) -> int:
        """The watermark at which a window closes for good."""
        return start_us + self.window_us + self.allowed_lateness_us

    @classmethod
    def parse(cls, window: str, allowed_lateness: str) -> StreamWindowing:
        lateness = 0 if allowed_lateness.strip() in ("0", "0s", "0m") else parse_duration_us(allowed_lateness)
        return cls(parse_duration_us(window), lateness)
