"""Render query results (columns, rows) as an aligned text table, CSV or JSON.

Example::

    >>> from aiops.query_format import format_text
    >>> print(format_text(["service", "events"], [("api", 3), ("db", 12)]), end="")
    service  events
    -------  ------
    api           3
    db           12
    (2 rows)
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import decimal
import io
import json
import math
import uuid
from typing import Any


def jsonable(value: Any) -> Any:
    """A JSON-serialisable version of a DuckDB/Python/numpy value (NaN becomes None)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(raw).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return jsonable(value.item())
    if hasattr(value, "isoformat"):  # pandas Timestamp
        return value.isoformat()
    return str(value)


def _cell(value: Any) -> str:
    """One value as display text (no newlines)."""
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if math.isfinite(value) else str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        value = bytes(value).decode("utf-8", errors="backslashreplace")
    elif isinstance(value, list | tuple | dict):
        value = json.dumps(jsonable(value), ensure_ascii=False)
    elif isinstance(value, dt.datetime):
        value = value.isoformat(sep=" ")
    return str(value).replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | decimal.Decimal) and not isinstance(value, bool)


def format_text(columns: list[str], rows: list[tuple], max_width: int = 80) -> str:
    """An aligned text table (numbers right-aligned) with a row count footer."""
    cells = [[_cell(v) for v in row] for row in rows]
    if max_width > 0:
        cells = [[c if len(c) <= max_width else c[: max_width - 1] + "…" for c in row] for row in cells]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    numeric = [
        bool(rows) and all(_is_number(r[i]) or r[i] is None for r in rows) for i in range(len(columns))
    ]

    def line(values: list[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    out = [line(list(columns)), line(["-" * w for w in widths])]
    out.extend(line(row) for row in cells)
    out.append(f"({len(rows)} row{'' if len(rows) == 1 else 's'})")
    return "\n".join(out) + "\n"


def format_csv(columns: list[str], rows: list[tuple], max_width: int = 0) -> str:
    """RFC 4180 CSV with a header; NULL is the empty field, lists/structs are JSON."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        out = []
        for value in row:
            value = jsonable(value)
            out.append(json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else value)
        writer.writerow(out)
    return buffer.getvalue()


def format_json(columns: list[str], rows: list[tuple], max_width: int = 0) -> str:
    """A JSON array of objects, one per row, keys in column order."""
    records = [{c: jsonable(v) for c, v in zip(columns, row, strict=True)} for row in rows]
    return json.dumps(records, indent=2, ensure_ascii=False) + "\n"


FORMATTERS = {"text": format_text, "csv": format_csv, "json": format_json}
