"""Mask the variable parts of log messages with ``<*>`` before template learning.

Every pattern in :data:`MASKS` is valid for both Python ``re`` (with ``re.ASCII``) and RE2
(``pyarrow.compute``): no lookaround, no backreferences.  They are joined into one alternation,
:data:`COMBINED`, applied in a single scan: the leftmost match wins and, among masks matching at
the same position, the one listed first.  Adjacent matches (and literal ``<*>`` already in the text)
merge into one ``<*>``.  Word boundaries are ASCII in both engines (``re.ASCII``), so :func:`mask` and
:func:`mask_array` agree.

Example::

    >>> from aiops.templating.masking import mask
    >>> mask("Received block blk_-1608999687919862906 of size 91178 from /10.250.10.6:40524")
    'Received block <*> of size <*> from <*>'
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

_HEX = "[0-9a-fA-F]"
_UNITS = (
    "(?:[KMGTP]i?B|[KMGTP]B?|B|bytes?|ms|us|ns|sec|secs|s|mins?|h|hrs?|Hz|[KMG]Hz|kbps|Mbps|Gbps)"
)

MASKS: tuple[tuple[str, str], ...] = (
    ("url", r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+"),
    # unix paths with at least two segments, starting after a non-word char
    ("path", r"\B/[\w.~@+%-]+(?:/[\w.~@+%-]*)+"),
    ("email", r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    ("uuid", rf"\b{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}\b"),
    ("mac", rf"\b{_HEX}{{2}}(?:[:-]{_HEX}{{2}}){{5}}\b"),
    ("datetime", r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?\b"),
    ("date", r"\b\d{4}[-/]\d{1,2}[-/]\d{1,2}\b"),
    # common log format: 10/Oct/2023:13:55:36 +0000 (else ipv6 would eat "2023:13:55:36")
    ("clfdate", r"\b\d{1,2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2}(?: [+-]\d{4})?"),
    ("time", r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"),
    # "host/ip:port" (Java InetSocketAddress); before hostname so the host part does not win alone
    ("hostip", r"\b[\w.-]+/\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b"),
    # DNS names ending in a generic TLD, or a country TLD after a generic second level (x.com.cn)
    ("hostname", r"\b[a-zA-Z0-9][\w-]*(?:\.[\w-]+)*\.(?:(?:com|net|org|edu|gov|ac|co)(?:\.[a-z]{2})?"
                 r"|io|info|biz|local|lan|internal|localdomain)\b"),
    # host/ip:port, optionally with a leading slash or "host/" prefix (Java InetSocketAddress)
    ("ipv4", r"(?:\B/|\b[\w.-]+/)?\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b"),
    ("ipv6", rf"\b{_HEX}{{1,4}}(?::{_HEX}{{0,4}}){{2,7}}:{_HEX}{{1,4}}\b"),
    # host name with a port: node-12.example.com:8080, msra-sa-41:8030
    ("hostport", r"\b[a-zA-Z]\w*(?:[.-]\w+)+:\d{2,5}\b"),
    ("winpath", r"\b[A-Za-z]:\\[^\s\"'<>,;]*"),
    ("hex", rf"\b0[xX]{_HEX}+\b"),
    # identifiers like blk_-123, attempt_1445_0020_m_000000_0, DFSClient_NONMAPREDUCE_15_1
    ("idnum", r"\b[A-Za-z][A-Za-z0-9_]*_-?\d+(?:_[A-Za-z]?\d+)*\b"),
    # generated ids: a short prefix, "_", then letters and digits with a digit in them (ch_69f2724e8244, txn_8KqZ2x)
    ("prefixedid", r"\b[A-Za-z]{1,8}_[A-Za-z0-9]*\d[A-Za-z0-9]*\b"),
    # an upper-case letter code and 5+ digits: R373813, INC0012345
    ("codeid", r"\b[A-Z]{1,4}\d{5,}\b"),
    ("size", rf"\b\d+(?:\.\d+)?{_UNITS}\b"),
    ("percent", r"\b\d+(?:\.\d+)?%"),
    ("signed", r"\B[-+]\d+(?:\.\d+)?\b"),
    ("number", r"\b\d+(?:\.\d+)*\b"),
    # hex-looking words of 4+ chars that contain a digit: 001064fc, 3a4f (not ee0, en0)
    ("hexword", rf"\b(?:\d{_HEX}{{3,}}|{_HEX}\d{_HEX}{{2,}}|{_HEX}{{2}}\d{_HEX}+|{_HEX}{{3,}}\d{_HEX}*)\b"),
)

_FLAGS = re.ASCII
#: All masks as one alternation, matched in a single left-to-right scan.  A literal ``<*>`` is an
#: alternative too, and ``(?:...)+`` swallows adjacent matches, so runs collapse to one ``<*>`` in
#: the same pass (no ``<*><*>`` can remain).  Leftmost-first semantics are identical in ``re`` and
#: RE2: at one position the first listed mask that matches wins.
COMBINED = "(?:<\\*>|" + "|".join(f"(?:{p})" for _, p in MASKS) + ")+"
# Python only (RE2 has no lookahead): every alternative starts with one of these characters, so the
# lookahead lets ``re`` skip other positions without trying all alternatives; the result is unchanged.
_COMBINED = re.compile(r"(?=[\w<./+-])" + COMBINED, _FLAGS)


def mask(message: str) -> str:
    """Mask one message; same result as :func:`mask_array` on a one-element array."""
    return _COMBINED.sub("<*>", message)


def mask_array(messages: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Mask a string array with one RE2 kernel pass of pyarrow (vectorised, releases the GIL)."""
    if isinstance(messages, pa.ChunkedArray):
        messages = messages.combine_chunks() if messages.num_chunks else pa.array([], pa.string())
    if pa.types.is_large_string(messages.type):
        messages = messages.cast(pa.string())
    return pc.replace_substring_regex(messages, pattern=COMBINED, replacement="<*>")
