"""Turn a template into an anchored regex and extract the parameters its ``<*>`` cover.

Literal text is escaped, whitespace runs become ``\\s*`` and each ``<*>`` a lazy group, so the same
pattern works in Python ``re`` and in RE2 (``pyarrow.compute.extract_regex``).

:func:`extract_array` first runs a scan that never backtracks (vectorised with numpy and pyarrow
kernels, or row by row for small arrays): each lazy group stops at the first occurrence of the
literal after it. Rows where the scan reaches the end get exactly the regex's match (see
:func:`_plan`); only the others go through the (slower) regex.

Example::

    >>> from aiops.templating.params import extract_one
    >>> extract_one("Invalid user <*> from <*>", "Invalid user admin from 10.0.0.1")
    ['admin', '10.0.0.1']
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_PARTS = re.compile(r"(<\*>)|(\s+)")
_MIN_VECTOR = 64  # from this many rows the scan runs vectorised, below row by row in Python


def template_regex(template: str) -> tuple[str, int]:
    """(anchored pattern with named groups p0..pN-1, N) for a template."""
    out = [r"^\s*"]
    n = 0
    pos = 0
    for m in _PARTS.finditer(template):
        out.append(_escape(template[pos : m.start()]))
        if m.group(1):
            out.append(f"(?P<p{n}>.*?)")
            n += 1
        else:
            out.append(r"\s*")
        pos = m.end()
    out.append(_escape(template[pos:]))
    out.append(r"\s*$")
    return "".join(out), n


_regex = lru_cache(maxsize=4096)(template_regex)


def _escape(text: str) -> str:
    # escape every non-alphanumeric ASCII char: valid in both Python re and RE2
    return "".join(c if c.isalnum() or ord(c) > 127 else "\\" + c for c in text)


@lru_cache(maxsize=4096)
def _compiled(template: str) -> tuple[re.Pattern[str], int]:
    pattern, n = template_regex(template)
    return re.compile(pattern, re.DOTALL), n


def extract_one(template: str, message: str) -> list[str]:
    """Parameters of one raw message ([] when the message does not fit the template)."""
    rx, n = _compiled(template)
    m = rx.match(message)
    return [m.group(f"p{i}") for i in range(n)] if m else []


def extract_array(template: str, messages: pa.Array | pa.ChunkedArray) -> pa.Array:
    """``list<string>`` array of the parameters of each message (empty list when it does not fit)."""
    if isinstance(messages, pa.ChunkedArray):
        messages = messages.combine_chunks() if messages.num_chunks else pa.array([], pa.string())
    size = len(messages)
    pattern, n = _regex(template)
    if n == 0 or size == 0 or messages.type != pa.string() or not _re2_compiles(pattern):
        return _extract_regex(template, messages)
    fast, values = _scan(_plan(template), messages)
    nfast = len(fast)
    if nfast == size:
        return pa.ListArray.from_arrays(pa.array(np.arange(size + 1, dtype=np.int32) * n), values)
    todo = messages.is_valid().to_numpy(zero_copy_only=False)
    todo[fast] = False
    slow_rows = np.flatnonzero(todo)  # rows the scan could not decide: ask the regex
    slow = _extract_regex(template, messages.take(pa.array(slow_rows)))
    # merge: fast rows have n params each, slow rows their regex lists, null rows [] (as the regex)
    slow_offsets = np.asarray(slow.offsets, np.int64)
    lengths = np.zeros(size, np.int64)
    lengths[fast] = n
    lengths[slow_rows] = np.diff(slow_offsets)
    src = np.zeros(size, np.int64)  # where each row's values start in fast values + slow values
    src[fast] = np.arange(nfast) * n
    src[slow_rows] = n * nfast + slow_offsets[:-1] - slow_offsets[0]
    offsets = np.zeros(size + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    take = np.repeat(src - offsets[:-1], lengths) + np.arange(offsets[-1])
    values = pa.concat_arrays([values, slow.flatten().cast(pa.string())])
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), values.take(pa.array(take)))


def _extract_regex(template: str, messages: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The reference implementation: one RE2 ``extract_regex`` over all messages."""
    if isinstance(messages, pa.ChunkedArray):
        messages = messages.combine_chunks() if messages.num_chunks else pa.array([], pa.string())
    size = len(messages)
    pattern, n = template_regex(template)
    if n == 0 or size == 0:
        return pa.ListArray.from_arrays(pa.array(np.zeros(size + 1, np.int32)), pa.array([], pa.string()))
    try:
        structs = pc.extract_regex(messages, pattern="(?s)" + pattern)
    except pa.ArrowInvalid:  # a template RE2 cannot compile: fall back to Python re per message
        return pa.array([extract_one(template, m) if m is not None else [] for m in messages.to_pylist()],
                        pa.list_(pa.string()))
    valid = structs.is_valid().to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(valid)
    lengths = np.where(valid, n, 0).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    fields = pa.concat_arrays([structs.field(i).cast(pa.string()) for i in range(n)])
    take = (np.arange(n)[None, :] * size + rows[:, None]).ravel()
    values = fields.take(pa.array(take, pa.int64()))
    return pa.ListArray.from_arrays(pa.array(offsets), values)


@lru_cache(maxsize=4096)
def _re2_compiles(pattern: str) -> bool:
    try:
        pc.extract_regex(pa.array([""], pa.string()), pattern="(?s)" + pattern)
    except pa.ArrowInvalid:
        return False
    return True


_WS = " \t\n\f\r"
_IS_WS = np.zeros(256, bool)
_IS_WS[[9, 10, 12, 13, 32]] = True  # RE2's \s: [\t\n\f\r ] (Python's also has \v and Unicode spaces)
_Step = tuple[str, str]  # (operation, literal)


@lru_cache(maxsize=4096)
def _plan(template: str) -> tuple[_Step, ...]:
    r"""The regex of a template as the steps of a left-to-right scan that never backtracks.

    ``ws`` skips whitespace (greedy ``\s*``), ``lit`` requires a literal, ``end`` the end of the
    message. A lazy group stops at the first position where what follows it can match:
    ``empty`` when another group follows (it is always empty), ``tail`` when the end follows (all
    but trailing whitespace), ``upto`` when a literal F follows directly (up to the first F, F
    consumed), ``upto_ws`` when ``\s*F`` follows (same, minus the whitespace before F). Every other
    choice is forced, so when the scan reaches the end it found the regex's own (first) match;
    when it fails the regex may still match with a later F: those rows go to the regex.
    """
    items: list[_Step] = [("ws", "")]
    for i, piece in enumerate(_PARTS.split(template) + [None, " "]):  # pieces: text, <*>, space
        kind = ("lit", "grp", "ws")[i % 3]
        if piece and not (kind == "ws" and items[-1][0] == "ws"):
            items.append((kind, piece if kind == "lit" else ""))
    items.append(("end", ""))
    steps: list[_Step] = []
    i = 0
    while i < len(items):
        op, text = items[i]
        i += 1
        if op != "grp":
            steps.append((op, text))
            continue
        ws = items[i][0] == "ws"
        nxt_op, nxt_text = items[i + ws]
        if nxt_op == "lit":
            steps.append(("upto_ws" if ws else "upto", nxt_text))
            i += ws + 1
        elif nxt_op == "end":
            steps.append(("tail", ""))
            break
        else:
            steps.append(("empty", ""))
    return tuple(steps)


def _scan(steps: tuple[_Step, ...], messages: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(non-null rows the scan of :func:`_plan` matched, their parameters in row-major order)."""
    if len(messages) >= _MIN_VECTOR:
        return _fast_rows(steps, messages)
    rows: list[int] = []
    values: list[str] = []
    for r, text in enumerate(messages.to_pylist()):
        got = _scan_one(steps, text) if text is not None else None
        if got is not None:
            rows.append(r)
            values += got
    return np.array(rows, np.int64), pa.array(values, pa.string())


def _scan_one(steps: tuple[_Step, ...], s: str) -> list[str] | None:
    """The scan of :func:`_plan` on one message (small arrays: cheaper than kernel calls)."""
    i = 0
    out: list[str] = []
    for op, text in steps:
        if op == "ws":
            i = len(s) - len(s[i:].lstrip(_WS)) if s[i : i + 1] in _WS else i
        elif op == "lit":
            if not s.startswith(text, i):
                return None
            i += len(text)
        elif op == "end":
            if i != len(s):
                return None
        elif op in ("empty", "tail"):
            out.append("" if op == "empty" else s[i:].rstrip(_WS))
        else:
            p = s.find(text, i)
            if p < 0:
                return None
            out.append(s[i:p].rstrip(_WS) if op == "upto_ws" else s[i:p])
            i = p + len(text)
    return out


def _fast_rows(steps: tuple[_Step, ...], messages: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """:func:`_scan` vectorised.

    The scan keeps byte positions per row. Whitespace and short literals are checked with numpy on
    the message bytes; other kernels run on zero-copy views of those bytes whose even elements are
    the ranges [a_i, b_i) of the rows (odd elements are the gaps between them).
    """
    bufs = messages.buffers()
    data = bufs[2] if bufs[2] is not None else pa.py_buffer(b"")
    buf = np.frombuffer(data, np.uint8) if data.size else np.zeros(1, np.uint8)
    offs = np.frombuffer(bufs[1], np.int32, count=messages.offset + len(messages) + 1)[messages.offset :]
    offs = offs.astype(np.int64)
    if messages.null_count:
        rows = np.flatnonzero(messages.is_valid().to_numpy(zero_copy_only=False))
        cur, end = offs[rows], offs[rows + 1]
    else:
        rows, cur, end = np.arange(len(messages)), offs[:-1], offs[1:]
    starts: list[np.ndarray] = []
    stops: list[np.ndarray] = []

    def drop(keep: np.ndarray) -> None:
        nonlocal rows, cur, end, starts, stops
        rows, cur, end = rows[keep], cur[keep], end[keep]
        starts, stops = [x[keep] for x in starts], [x[keep] for x in stops]

    def view(a: np.ndarray, b: np.ndarray) -> pa.Array:  # the gaps are null: kernels skip them
        off = np.empty(2 * len(a) + 1, np.int32)
        off[0:-1:2], off[1::2], off[-1] = a, b, b[-1]
        valid = pa.py_buffer(np.full((len(a) + 3) // 4, 0x55, np.uint8))
        return pa.StringArray.from_buffers(2 * len(a), pa.py_buffer(off), data, valid, len(a))

    def evens(arr: pa.Array) -> np.ndarray:  # the values of a kernel's output on a view, rows only
        if arr.type == pa.bool_():
            bits = np.frombuffer(arr.buffers()[1], np.uint8)
            return np.unpackbits(bits, count=len(arr), bitorder="little")[::2].astype(bool)
        return np.frombuffer(arr.buffers()[1], arr.type.to_pandas_dtype(), count=len(arr))[::2]

    for op, text in steps:
        if len(rows) == 0:
            break
        keep: np.ndarray | None = None
        if op == "ws":
            cur = _skip_ws(buf, cur, end, 1)
        elif op == "lit":
            lit = np.frombuffer(text.encode(), np.uint8)
            if len(cur) * len(lit) <= 1 << 14:
                at = np.minimum(cur[:, None] + np.arange(len(lit)), len(buf) - 1)
                keep = (cur + len(lit) <= end) & (buf[at] == lit).all(axis=1)
            else:
                keep = evens(pc.starts_with(view(cur, end), text))
            cur = cur + len(lit)
        elif op == "end":
            keep = cur == end
        elif op in ("empty", "tail"):
            starts.append(cur)
            stops.append(cur if op == "empty" else _skip_ws(buf, end, cur, -1))
        else:  # upto / upto_ws: the first occurrence of the anchor
            pos = evens(pc.find_substring(view(cur, end), text))
            found = pos >= 0
            if not found.all():
                pos = pos[found]
                drop(found)
                if len(rows) == 0:
                    break
            stop = cur + pos
            starts.append(cur)
            stops.append(_skip_ws(buf, stop, cur, -1) if op == "upto_ws" else stop)
            cur = stop + len(text.encode())
        if keep is not None and not keep.all():
            drop(keep)
    if len(rows) == 0 or not starts:
        return rows, pa.array([], pa.string())
    ranges = view(np.stack(starts, axis=1).ravel(), np.stack(stops, axis=1).ravel())
    return rows, ranges.take(pa.array(np.arange(0, len(ranges), 2)))


def _skip_ws(buf: np.ndarray, pos: np.ndarray, limit: np.ndarray, step: int) -> np.ndarray:
    """Move each position over RE2 whitespace towards ``limit`` (step 1: forward, -1: backward)."""
    peek = 0 if step > 0 else -1  # forward looks at buf[pos], backward at buf[pos - 1]
    for _ in range(2):  # the usual runs: none or one whitespace, on all rows at once
        more = _IS_WS[buf.take(pos + peek, mode="clip")]
        if not more.any():
            return pos
        more &= pos != limit
        pos = pos + step * more
    pos = pos.copy()
    todo = np.flatnonzero(pos != limit)  # longer runs: only the rows still in one
    while len(todo):
        todo = todo[_IS_WS[buf[pos[todo] + peek]]]
        pos[todo] += step
        todo = todo[pos[todo] != limit[todo]]
    return pos
