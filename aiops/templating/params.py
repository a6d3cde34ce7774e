"""Turn a template into an anchored regex and extract the parameters its ``<*>`` cover.

Literal text is escaped, whitespace runs become ``\\s*`` and each ``<*>`` a lazy group, so the same
pattern works in Python ``re`` and in RE2 (``pyarrow.compute.extract_regex``).

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
