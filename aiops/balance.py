"""Balance work units across a known number of local workers (longest processing time first).

Beam's local FnApiRunner hands each worker a fixed share of a stage's input up
front, so one worker can end up with the big files while the other idles. When
the job knows how many local workers there are, it packs files (and later the
staged files) into that many bins of similar estimated cost.

Parsing costs mostly per line (one parser call each) and a little per byte, so a file's
cost is estimated from its size and the density of its head (:func:`parse_cost`): a file
of short lines costs more than a file of the same size with long ones. Measured on the
generated sample, ~4 µs per line plus ~0.025 µs per byte, so one line weighs as much as
``BYTES_PER_LINE`` bytes; a line the vectorised path takes
(:mod:`aiops.parsing.blocks`) weighs ``FAST_BYTES_PER_LINE``.

Example::

    >>> from aiops.balance import pack, estimated_size
    >>> pack([("a", 9), ("b", 5), ("c", 4), ("d", 3)], 2)
    [['a', 'd'], ['b', 'c']]
    >>> estimated_size("x.log.gz", 100)
    600
    >>> parse_cost("x.log", 1000, (0.01, 1.0, 0.0))  # 10 lines of 100 bytes
    2600
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Sequence

# Typical expansion of text logs; only used to balance work, never for accounting.
COMPRESSION_RATIO = {".gz": 6, ".bz2": 8, ".zst": 6, ".zstd": 6}


def estimated_size(path: str, size: int) -> int:
    """Uncompressed bytes a file probably holds."""
    for ext, ratio in COMPRESSION_RATIO.items():
        if path.lower().endswith(ext):
            return size * ratio
    return size


BYTES_PER_LINE = 160  # the parse cost of one line, in bytes read
FAST_BYTES_PER_LINE = 50  # ... of a line a vectorised parser takes (~3x cheaper)


def parse_cost(path: str, stored_bytes: int, density: tuple[float, float, float] | None) -> int:
    """Relative parse cost of ``stored_bytes`` of a file: its lines weighted by BYTES_PER_LINE, plus its bytes.

    ``density``: (lines, uncompressed bytes) per stored byte of the file's head and the share of
    its lines the fast path takes (:func:`aiops.sources.sample_density`); None (head unreadable):
    the uncompressed size alone, estimated by extension.
    """
    if density is None:
        return estimated_size(path, stored_bytes)
    lines_per_byte, expansion, fast_share = density
    per_line = BYTES_PER_LINE * (1 - fast_share) + FAST_BYTES_PER_LINE * fast_share
    return round(stored_bytes * (lines_per_byte * per_line + expansion))


def pack(items: Sequence[tuple[Hashable, int]], bins: int) -> list[list]:
    """Split items into at most ``bins`` non-empty lists of similar total weight.

    Greedy LPT: heaviest item first, always into the lightest bin; ties keep input
    order, so the result is deterministic.
    """
    if bins < 1:
        raise ValueError("bins must be >= 1")
    heap = [(0, i) for i in range(bins)]
    out: list[list] = [[] for _ in range(bins)]
    for key, weight in sorted(items, key=lambda kv: -kv[1]):
        load, i = heapq.heappop(heap)
        out[i].append(key)
        heapq.heappush(heap, (load + weight, i))
    return [b for b in out if b]
