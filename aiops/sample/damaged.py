"""Damaged and unusual inputs with exactly known counts, for end-to-end accounting tests.

``write_damaged(out_dir)`` writes these files (all lines not listed as damaged are ordinary
Python-logging lines ``2026-11-22 10:00:00,123 INFO app.orders: ...``):

===================  =========================================================================
``mixed.log``        invalid UTF-8 bytes on some lines, NUL bytes on others, empty and
                     whitespace-only lines, no final newline on the last line
``long_line.log``    one line of 2 MiB (2,097,152 bytes without its ``\\n``) between normal lines
``orders.jsonl``     JSON lines, some cut off in the middle (truncated JSON)
``empty.log``        0 bytes
``truncated.log.gz`` a gzip stream with its tail cut off (no end-of-stream marker, no CRC)
``rotated.log.bz2``  bzip2, intact, with blank lines
``rotated.log.zst``  zstandard, intact, with blank lines
===================  =========================================================================

The returned dict has one entry per file: ``physical_lines`` (``\\n``-terminated lines plus a
final unterminated one), ``normal``, and the damaged kinds present (``invalid_utf8``,
``nul_bytes``, ``blank`` = empty or whitespace-only, ``long_lines``, ``truncated_json``), plus
``totals`` summed over files.

Truncated gzip, how it was measured: the stream is written with ``Z_SYNC_FLUSH`` after every
100 lines (as a logger that flushes would) and cut right after the flush that follows line
2100 of 3000, so no trailer and no end-of-stream block. ``zlib.decompressobj(wbits=31)`` on
the file recovers exactly 2100 complete lines ending in ``\\n`` (no partial tail), and
``physical_lines`` counts exactly those (``original_lines`` is what the full file had).
``gzip.open(...)`` iteration yields the same lines, then raises ``EOFError`` (checked in
``tests/test_sample.py``).

Example::

    >>> import tempfile, pathlib
    >>> expected = write_damaged(pathlib.Path(tempfile.mkdtemp()))
    >>> expected["long_line.log"]["long_lines"], expected["empty.log"]["physical_lines"]
    (1, 0)
"""

from __future__ import annotations

import bz2
import json
import zlib
from pathlib import Path

import zstandard

LONG_LINE_BYTES = 2 * 1024 * 1024


def _normal(i: int) -> bytes:
    sec, ms = divmod(i * 1737, 1000)
    return (
        f"2026-11-22 10:{sec // 60 % 60:02d}:{sec % 60:02d},{ms:03d} INFO app.orders: "
        f"order {100000 + i * 37} processed in {5 + i * 13 % 400} ms for user u{i % 97}"
    ).encode()


def _write(path: Path, lines: list[bytes], final_newline: bool = True) -> bytes:
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    path.write_bytes(data)
    return data


def _mixed() -> tuple[list[bytes], dict[str, int]]:
    lines: list[bytes] = []
    c = {"normal": 0, "invalid_utf8": 0, "nul_bytes": 0, "blank": 0}
    for i in range(60):
        if i % 10 == 3:
            lines.append(_normal(i).replace(b"processed", b"proc\xff\xfessed caf\xe9"))
            c["invalid_utf8"] += 1
        elif i % 10 == 6:
            lines.append(_normal(i).replace(b" in ", b" \x00\x00 in "))
            c["nul_bytes"] += 1
        elif i % 15 == 9:
            lines.append(b"" if i % 2 else b"   \t ")
            c["blank"] += 1
        else:
            lines.append(_normal(i))
            c["normal"] += 1
    return lines, c


def _truncated_gz(lines: list[bytes], per_flush: int = 100) -> tuple[bytes, int]:
    """A gzip stream written with a sync flush every ``per_flush`` lines, cut after ~70% of them."""
    co = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: gzip container, mtime 0
    data, keep = b"", len(lines) * 7 // 10 // per_flush * per_flush
    for i in range(0, len(lines), per_flush):
        data += co.compress(b"".join(x + b"\n" for x in lines[i : i + per_flush]))
        data += co.flush(zlib.Z_SYNC_FLUSH)
        if i + per_flush == keep:
            return data, keep  # cut right after a flush point: the writer died here
    raise AssertionError("keep must be a multiple of per_flush below len(lines)")  # pragma: no cover


def write_damaged(out_dir: Path) -> dict[str, dict[str, int]]:
    """Write the damaged files into ``out_dir``; return the expected counts per file and ``totals``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    exp: dict[str, dict[str, int]] = {}

    lines, counts = _mixed()
    _write(out_dir / "mixed.log", lines, final_newline=False)
    exp["mixed.log"] = {"physical_lines": len(lines), **counts}

    long = _normal(1000)[:40] + b"huge payload " + b"A" * LONG_LINE_BYTES
    long = long[:LONG_LINE_BYTES]
    lines = [_normal(i) for i in range(5)] + [long] + [_normal(i) for i in range(5, 10)]
    _write(out_dir / "long_line.log", lines)
    exp["long_line.log"] = {"physical_lines": 11, "normal": 10, "long_lines": 1}

    lines, cut = [], 0
    for i in range(40):
        rec = json.dumps(
            {
                "ts": f"2026-11-22T10:00:{i:02d}.{i * 7 % 1000:03d}Z",
                "level": "INFO",
                "service": "orders",
                "msg": f"Order ORD-{5000 + i} placed with {1 + i % 4} items",
                "latency_ms": 10.5 + i,
            },
            separators=(",", ":"),
        ).encode()
        if i % 8 == 5:
            rec = rec[: len(rec) // 2]
            cut += 1
        lines.append(rec)
    _write(out_dir / "orders.jsonl", lines)
    exp["orders.jsonl"] = {"physical_lines": 40, "normal": 40 - cut, "truncated_json": cut}

    (out_dir / "empty.log").write_bytes(b"")
    exp["empty.log"] = {"physical_lines": 0, "normal": 0}

    data, recovered = _truncated_gz([_normal(i) for i in range(3000)])
    (out_dir / "truncated.log.gz").write_bytes(data)
    exp["truncated.log.gz"] = {"physical_lines": recovered, "normal": recovered, "original_lines": 3000}

    lines = [_normal(i) if i % 25 else b"" for i in range(1, 501)]
    blank = sum(1 for x in lines if not x)
    raw = b"\n".join(lines) + b"\n"
    (out_dir / "rotated.log.bz2").write_bytes(bz2.compress(raw, 9))
    (out_dir / "rotated.log.zst").write_bytes(zstandard.ZstdCompressor(level=3).compress(raw))
    for name in ("rotated.log.bz2", "rotated.log.zst"):
        exp[name] = {"physical_lines": len(lines), "normal": len(lines) - blank, "blank": blank}

    totals: dict[str, int] = {}
    for counts_ in exp.values():
        for k, v in counts_.items():
            if k != "original_lines":
                totals[k] = totals.get(k, 0) + v
    exp["totals"] = totals
    return exp
