"""Balance work units across a known number of local workers (longest processing time first).

Beam's local FnApiRunner hands each worker a fixed share of a stage's input up
front, so one worker can end up with the big files while the other idles. When
the job knows how many local workers there are, it packs files (and later the
staged files) into that many bins of similar estimated size.

Example::

    >>> from aiops.balance import pack, estimated_size
    >>> pack([("a", 9), ("b", 5), ("c", 4), ("d", 3)], 2)
    [['a', 'd'], ['b', 'c']]
    >>> estimated_size("x.log.gz", 100)
    600
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
