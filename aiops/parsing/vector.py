"""Helpers shared by the vectorised block parsers (:mod:`aiops.parsing.access_block`, :mod:`aiops.parsing.generic_block`).

Example::

    >>> import pyarrow as pa
    >>> per_distinct(pa.array(["a", "bb", "a"]), len, int).tolist()
    [1, 2, 1]
    >>> shape_test(re.compile("a+$"))(b"aaa")
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def shape_test(pattern: re.Pattern[str]) -> Callable[[bytes], bool]:
    """A cheap test of one raw line against a block format's shape (undecodable bytes: no)."""

    def test(raw: bytes) -> bool:
        try:
            return pattern.match(raw.decode()) is not None
        except UnicodeDecodeError:
            return False

    return test


def per_distinct(values: pa.Array, fn: Callable, dtype) -> np.ndarray:
    """``fn`` over the distinct values of a block (minutes, zones, level words), mapped back to every row.

    A block of log lines shares a handful of these, so the per-line code runs a handful of times
    and the vectorised result cannot drift from it.
    """
    encoded = pc.dictionary_encode(values)
    table = np.array([fn(v) for v in encoded.dictionary.to_pylist()], dtype=dtype)
    return table[np.asarray(encoded.indices)]
