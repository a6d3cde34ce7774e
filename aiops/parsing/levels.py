"""Log level normalisation: every level becomes one of ``schema.LEVELS``.

Records spell levels in many ways (``warning``, ``E``, ``SEVERE``, syslog severity
``3``, pino's ``50``); :func:`normalize_level` maps them onto TRACE/DEBUG/INFO/WARN/
ERROR/FATAL. Records without a level get :func:`infer_level`, which only trusts an
uppercase level word in the message, because lowercase "error" in prose
("0 errors") is too often a false alarm.

Example::

    >>> from aiops.parsing.levels import normalize_level, infer_level
    >>> normalize_level("warning"), normalize_level("E"), normalize_level(3)
    ('WARN', 'ERROR', 'ERROR')
    >>> infer_level("request failed: ERROR 42"), infer_level("all good")
    ('ERROR', 'INFO')
"""

from __future__ import annotations

import re

_ALIASES = {
    "TRACE": "TRACE",
    "TRC": "TRACE",
    "T": "TRACE",
    "FINER": "TRACE",
    "FINEST": "TRACE",
    "VERBOSE": "TRACE",
    "V": "TRACE",
    "DEBUG": "DEBUG",
    "DBG": "DEBUG",
    "D": "DEBUG",
    "FINE": "DEBUG",
    "INFO": "INFO",
    "INF": "INFO",
    "I": "INFO",
    "NOTICE": "INFO",
    "INFORMATION": "INFO",
    "INFORMATIONAL": "INFO",
    "WARN": "WARN",
    "WARNING": "WARN",
    "WRN": "WARN",
    "W": "WARN",
    "ERROR": "ERROR",
    "ERR": "ERROR",
    "E": "ERROR",
    "SEVERE": "ERROR",
    "FATAL": "FATAL",
    "F": "FATAL",
    "CRITICAL": "FATAL",
    "CRIT": "FATAL",
    "EMERG": "FATAL",
    "EMERGENCY": "FATAL",
    "ALERT": "FATAL",
    "PANIC": "FATAL",
}

# Syslog severities 0..7 (RFC 5424 section 6.2.1).
SYSLOG_SEVERITY = ("FATAL", "FATAL", "FATAL", "ERROR", "WARN", "INFO", "INFO", "DEBUG")

# pino/bunyan numeric levels.
_NUMERIC = {10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL"}

# Exact-spelling cache: the hot path sees the same few spellings millions of times.
_cache: dict[object, str | None] = {}


def _compute(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if 0 <= value <= 7:
            return SYSLOG_SEVERITY[value]
        return _NUMERIC.get(value)
    if not isinstance(value, str):
        return None
    key = value.strip().upper()
    if key.isdigit():
        return _compute(int(key))
    found = _ALIASES.get(key)
    if found is None and ":" in key:  # Apache 2.4 "core:error"
        found = _ALIASES.get(key.rsplit(":", 1)[1])
    return found


def normalize_level(value: object) -> str | None:
    """The canonical level for ``value``, or None when it is not a level."""
    try:
        return _cache[value]
    except KeyError:
        pass
    except TypeError:  # unhashable (a JSON list or dict)
        return None
    found = _compute(value)
    if len(_cache) < 10_000:  # bounded: junk "levels" must not grow memory
        _cache[value] = found
    return found


# Uppercase whole words only; first one wins.
_LEVEL_WORD = re.compile(r"\b(FATAL|PANIC|EMERG|CRITICAL|SEVERE|ERROR|WARN(?:ING)?|INFO|DEBUG|TRACE)\b")
# The same words without \b or a group: several times faster to scan, so it runs first
# and the exact pattern only starts at the first candidate (most messages have none).
_CANDIDATE = re.compile("FATAL|PANIC|EMERG|CRITICAL|SEVERE|ERROR|WARN|INFO|DEBUG|TRACE")


def infer_level(message: str) -> str:
    """Level for a record that has none: the first uppercase level word, else INFO."""
    c = _CANDIDATE.search(message)
    if c is None:
        return "INFO"
    m = _LEVEL_WORD.search(message, c.start())
    return _ALIASES[m.group(1)] if m else "INFO"
