"""JSON-lines and logfmt records.

Well-known keys map onto columns (time, level, message, service, host, component,
trace/session ids, HTTP fields, latency); every other key is appended to the
message as `` key=value`` in record order so templates and parameters still see
it. Nested objects are flattened with dots (``{"service": {"name": "api"}}`` is
``service.name``). Latency keys are converted to milliseconds: a ``_s``/``_sec``/
``_seconds`` suffix (and nginx ``request_time``) means seconds, ``_us``/``_ns``
micro/nanoseconds, anything else milliseconds.

Example::

    >>> from aiops.parsing.structured import parse_json, parse_logfmt
    >>> f = parse_json('{"ts": 1700000000.5, "level": "warning", "msg": "slow", "user": "bob"}', 0)
    >>> f.time, f.level, f.message
    (1700000000500000, 'WARN', 'slow user=bob')
    >>> parse_logfmt('level=error msg="db down" duration_s=0.25', 0).latency_ms
    250.0
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from aiops.parsing.fields import Fields
from aiops.parsing.levels import _cache as _level_cache
from aiops.parsing.levels import normalize_level
from aiops.parsing.timestamps import epoch_number_us, parse_any


class InvalidJson(ValueError):
    """A line that starts like a JSON object but does not parse as one."""


_COLUMNS = {
    "time": ("time", "timestamp", "ts", "@timestamp", "datetime", "date", "asctime", "eventtime"),
    "level": ("level", "severity", "lvl", "loglevel", "log.level", "levelname", "severity_text", "log_level"),
    "message": ("msg", "message", "@message", "log", "event"),
    "service": ("service", "app", "service.name", "application", "service_name", "app_name", "appname"),
    "host": ("host", "hostname", "host.name", "host.hostname"),
    "component": ("logger", "component", "logger_name", "logger.name", "log.logger"),
    "trace": ("trace_id", "traceid", "trace.id", "dd.trace_id"),
    "session": ("session_id", "sessionid", "session.id"),
    "status": ("status", "status_code", "http_status", "statuscode", "http.status_code", "http.response.status_code"),
    "method": ("method", "http_method", "http.method", "http.request.method", "request_method"),
    "path": ("path", "url", "uri", "request_uri", "http.url", "http.path", "url.path", "http.target"),
    "bytes": ("bytes", "response_bytes", "body_bytes_sent", "bytes_sent", "http.response.body.bytes"),
}
_LATENCY_BASES = ("latency", "duration", "elapsed", "response_time", "took", "request_duration")
_LATENCY_SCALE = {"": 1.0, "_ms": 1.0, "_millis": 1.0, "_s": 1000.0, "_sec": 1000.0, "_secs": 1000.0,
                  "_seconds": 1000.0, "_us": 0.001, "_micros": 0.001, "_ns": 0.000001}

# key (lowercase) -> (column, latency scale)
_KEYMAP: dict[str, tuple[str, float]] = {k: (col, 1.0) for col, keys in _COLUMNS.items() for k in keys}
for _base in _LATENCY_BASES:
    for _suffix, _scale in _LATENCY_SCALE.items():
        _KEYMAP[_base + _suffix] = ("latency", _scale)
_KEYMAP["request_time"] = ("latency", 1000.0)  # nginx $request_time is in seconds
_KEYMAP["upstream_response_time"] = ("latency", 1000.0)

_NOT_MAPPED = ("", 0.0)
# Per-spelling cache of the key lookup (keys repeat on every line of a file).
_key_cache: dict[str, tuple[str, float]] = {}


def _column(key: str) -> tuple[str, float]:
    found = _key_cache.get(key)
    if found is None:
        found = _KEYMAP.get(key.lower().replace("-", "_"), _NOT_MAPPED)
        if len(_key_cache) < 10_000:
            _key_cache[key] = found
    return found


def format_value(value: object) -> str:
    """How an unmapped value is written into the message."""
    if isinstance(value, str):
        if value and " " not in value and '"' not in value:
            return value
        return json.dumps(value, ensure_ascii=False)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _path_only(url: str) -> str:
    if "://" in url:  # absolute URL: keep only the path
        rest = url.split("://", 1)[1]
        i = rest.find("/")
        url = rest[i:] if i >= 0 else "/"
    return url.split("?", 1)[0].split("#", 1)[0]


# Fields position of each column; per key spelling: (position or -1, kind, column, latency scale).
_SLOTS = {c: i for i, c in enumerate(("time", "level", "service", "host", "component", "message", "method",
                                      "path", "status", "bytes", "latency", "trace", "session"))}
_STR, _LEVEL, _LATENCY, _TIME, _OTHER = 1, 2, 3, 4, 0
_KIND = {**dict.fromkeys(("message", "service", "host", "component", "trace", "session"), _STR),
         "level": _LEVEL, "latency": _LATENCY, "time": _TIME}
_slot_cache: dict[str, tuple[int, int, str, float]] = {}


def _slot(key: str) -> tuple[int, int, str, float]:
    col, scale = _column(key)
    found = (_SLOTS[col], _KIND.get(col, _OTHER), col, scale) if col else (-1, _OTHER, col, scale)
    if len(_slot_cache) < 10_000:
        _slot_cache[key] = found
    return found


def _record(items, ref_us: int) -> Fields:
    """Map (key, value) pairs onto Fields; unmapped or unusable values go into the message."""
    vals: list = [None] * 13  # a filled column is never None: first well-formed value wins
    extras: list[str] = []
    cache_get = _slot_cache.get
    for key, value in items:
        cls = value.__class__
        if cls is dict:  # flatten nested objects
            _flatten(key, value, vals, extras, ref_us)
            continue
        i, kind, col, scale = cache_get(key) or _slot(key)
        if i >= 0 and vals[i] is None and value is not None:
            if cls is str:
                if kind == 1:  # _STR: the common case, no conversion
                    vals[i] = value
                    continue
                if kind == 4:  # _TIME, as _convert does it
                    try:
                        t = parse_any(value, ref_us)
                    except (TypeError, ValueError, OverflowError):
                        t = None
                    if t is not None:
                        vals[i] = t
                        continue
                elif kind == 2:  # _LEVEL
                    level = _level_cache.get(value)
                    if level is not None:
                        vals[i] = level
                        continue
                elif kind == 3:  # _LATENCY
                    try:
                        vals[i] = float(value) * scale
                        continue
                    except (TypeError, ValueError, OverflowError):
                        pass
            elif cls is float and kind == 3:  # _LATENCY
                vals[i] = value * scale
                continue
            converted = _convert(col, value, scale, ref_us)
            if converted is not None:
                vals[i] = converted
                continue
        if cls is str and value and " " not in value and '"' not in value:
            extras.append(f" {key}={value}")
        else:
            extras.append(f" {key}={format_value(value)}")
    message = vals[5]
    if extras:
        vals[5] = (message + "".join(extras)) if message else "".join(extras)[1:]
    elif message is None:
        vals[5] = ""
    return _new(Fields, vals)


_new = tuple.__new__


def _flatten(prefix, obj, vals, extras, ref_us) -> None:
    for key, value in obj.items():
        full = f"{prefix}.{key}"
        if isinstance(value, dict):
            _flatten(full, value, vals, extras, ref_us)
            continue
        i, _kind, col, scale = _slot_cache.get(full) or _slot(full)
        if i >= 0 and vals[i] is None and value is not None:
            converted = _convert(col, value, scale, ref_us)
            if converted is not None:
                vals[i] = converted
                continue
        extras.append(f" {full}={format_value(value)}")


_NOT_CONVERTIBLE = (list, bool)


def _convert(col: str, value: object, scale: float, ref_us: int) -> object:
    """The column value, or None when this value cannot fill the column."""
    if isinstance(value, _NOT_CONVERTIBLE):
        return None
    try:
        if col == "time":
            if isinstance(value, int | float):
                return epoch_number_us(value)
            return parse_any(value, ref_us)  # type: ignore[arg-type]
        if col == "level":
            return normalize_level(value)
        if col == "latency":
            return float(value) * scale  # type: ignore[arg-type]
        if col == "status":
            status = int(value)  # type: ignore[call-overload]
            return status if 100 <= status <= 599 else None
        if col == "bytes":
            return int(value)  # type: ignore[call-overload]
        if col == "path":
            return _path_only(str(value))
        if col == "method":
            return str(value).upper()
    except (TypeError, ValueError, OverflowError):
        return None
    return value if isinstance(value, str) else format_value(value)


_decoder = json.JSONDecoder()
_scan_once: Callable[[str, int], tuple[Any, int]] = _decoder.scan_once  # type: ignore[attr-defined]  # set in __init__
_JSON_WS = " \t\n\r"  # JSON insignificant whitespace


def parse_json(line: str, ref_us: int) -> Fields:
    """A one-line JSON object; raises InvalidJson when the line is not one."""
    # Same as json.loads for a line starting with "{", minus its per-call overhead.
    try:
        obj, end = _scan_once(line, 0 if line[:1] == "{" else len(line) - len(line.lstrip(_JSON_WS)))
    except StopIteration:
        raise InvalidJson("Expecting value") from None
    except ValueError as exc:  # json.JSONDecodeError and RecursionError-free ValueErrors
        raise InvalidJson(str(exc)) from None
    if end != len(line) and line[end:].strip(_JSON_WS):
        raise InvalidJson("Extra data")
    if obj.__class__ is not dict:
        raise InvalidJson("not an object")
    return _record(obj.items(), ref_us)


# key=value, key="quoted \" value", or a bare word (which disqualifies the line).
_PAIR = re.compile(r'([^\s="]+)=("[^"\\]*(?:\\.[^"\\]*)*"|[^\s"]*)(?=\s|$)|(\S+)')
_LOGFMT_START = re.compile(r"[A-Za-z_@][\w.@-]*=")
_KNOWN = (0, 1, 5)  # time, level, message positions


def _split_pairs(line: str) -> list | None:
    """``_PAIR.findall`` for a line without backslashes, by ``str.split``; None on a bare word."""
    parts = line.split('"')
    last = len(parts) - 1
    if last & 1:  # an unbalanced quote can only be part of a bare word
        return None
    pairs: list = []
    append = pairs.append
    for i in range(0, last + 1, 2):
        tokens = parts[i].split()
        if i < last:  # a quoted value follows: this segment must end with 'key=' right before it
            after = parts[i + 2]
            if parts[i][-1:] != "=" or (not after[0].isspace() if after else i + 2 < last):
                return None
            quoted_key = tokens.pop()[:-1]
            if not quoted_key or "=" in quoted_key:
                return None
        for tok in tokens:
            key, eq, value = tok.partition("=")
            if not (eq and key):
                return None
            append((key, value))
        if i < last:
            append((quoted_key, parts[i + 1]))
    return pairs


def parse_logfmt(line: str, ref_us: int) -> Fields | None:
    """A logfmt line (only key=value pairs, at least two, one of them a well-known key)."""
    if not _LOGFMT_START.match(line):
        return None
    if "\\" not in line:
        pairs = _split_pairs(line)
        if pairs is None:
            return None
    else:
        pairs = []
        for key, value, bare in _PAIR.findall(line):
            if bare:
                return None
            if value[:1] == '"':
                value = value[1:-1]
                if "\\" in value:
                    value = value.replace('\\"', '"').replace("\\\\", "\\")
            pairs.append((key, value))
    if len(pairs) < 2:
        return None
    cache_get = _slot_cache.get
    for key, _value in pairs:
        if (cache_get(key) or _slot(key))[0] in _KNOWN:
            return _record(pairs, ref_us)
    return None
