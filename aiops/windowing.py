"""Windowing settings in one place: the default KPI window and duration parsing.

Example::

    >>> from aiops.windowing import parse_duration_us
    >>> parse_duration_us("5m")
    300000000
"""

from __future__ import annotations

import re

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
