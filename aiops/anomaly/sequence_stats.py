"""What the sequence detector learns: additive, mergeable, bounded session statistics.

Every number is a (weighted) count of sessions, so two runs' statistics add up, a prior run's
can be down-weighted (forgetting), and the size depends on the distinct templates, transitions
and patterns, never on the number of sessions:

- ``df``: sessions holding each template; ``hist``: per template, sessions by its count (counts
  above 64 share power-of-two buckets); ``df_closed``/``hist_closed``: the same over the sessions
  known to be complete (not open);
- ``trans``: sessions holding each transition ``a -> b`` (``^ -> a`` starts and ``a -> $`` ends
  a complete session); ``both``: sessions holding both templates of a pair;
- ``vectors``: complete sessions per distinct count vector, the heaviest ``max_vectors`` kept;
  what is dropped is tallied per template in ``dropped``, so invariants mined from the kept
  vectors can only be missed, never invented.

Sessions are counted in bulk with numpy: one array of template codes, then sorts and
``bincount``s (a Python loop per session would take ~20 us, too slow for millions).
``alternatives`` then finds templates that play the same role in sessions.

Example::

    >>> s = SequenceStats()
    >>> s.add([("a", "b"), ("a", "c")], np.array([False, True]), np.array([3.0, 1.0]), max_vectors=10)
    >>> s.n, s.n_closed, s.df["a"], s.trans[("a", "b")], s.trans[("b", "$")], s.vectors
    (4.0, 3.0, 4.0, 3.0, 3.0, {(('a', 1), ('b', 1)): 3.0})
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

START, END = "^", "$"
EXACT_COUNTS = 64  # counts up to this are kept exactly, larger ones in power-of-two buckets
CHUNK = 200_000  # sessions counted at once: bounds the memory of the arrays
SIMILAR = 0.6  # share of their context two alternatives must have in common, on each side
MAX_COMPARED = 50  # groups a template is compared with (those sharing its main predecessor or successor)
KEY_BASE = np.int64(1 << 32)  # key = code * KEY_BASE + count (counts < 2**32)
_M0, _M1, _M2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)

Hist = dict[int, float]
Pair = tuple[str, str]
Vector = tuple[tuple[str, int], ...]  # (template, bucketed count) sorted by template


def bucket(count: int) -> int:
    """The histogram key of a count: itself up to 64, else the power of two at or below it."""
    return count if count <= EXACT_COUNTS else 1 << (count.bit_length() - 1)


def _add(into: dict[Any, float], key: Any, w: float) -> None:
    into[key] = into.get(key, 0.0) + w


@dataclass
class SequenceStats:
    n: float = 0.0  # sessions
    n_closed: float = 0.0  # sessions known to be complete
    df: dict[str, float] = field(default_factory=dict)
    df_closed: dict[str, float] = field(default_factory=dict)
    hist: dict[str, Hist] = field(default_factory=dict)
    hist_closed: dict[str, Hist] = field(default_factory=dict)
    trans: dict[Pair, float] = field(default_factory=dict)
    both: dict[Pair, float] = field(default_factory=dict)  # keys ordered a < b
    vectors: dict[Vector, float] = field(default_factory=dict)
    dropped: dict[str, float] = field(default_factory=dict)  # closed sessions with t not in ``vectors``

    def add(self, seqs: Sequence[tuple[str, ...]], opens: np.ndarray, weights: np.ndarray, max_vectors: int) -> None:
        """Count non-empty sessions ``seqs`` (numpy arrays: ``opens`` flags, ``weights``). An open session
        (the input may have cut it) adds only what a cut cannot fake: its events, its counts as lower
        bounds and the transitions inside it — not its first/last event, low counts or count vector.
        Per chunk of ``CHUNK`` sessions only the heaviest ``max_vectors`` count vectors are kept."""
        for lo in range(0, len(seqs), CHUNK):
            _add_chunk(self, seqs[lo:lo + CHUNK], opens[lo:lo + CHUNK], weights[lo:lo + CHUNK], max_vectors)

    def merge(self, other: SequenceStats, weight: float = 1.0) -> None:
        """Add ``other``'s counts times ``weight`` (a prior's forgetting factor)."""
        self.n += other.n * weight
        self.n_closed += other.n_closed * weight
        for mine, theirs in ((self.df, other.df), (self.df_closed, other.df_closed), (self.trans, other.trans),
                             (self.both, other.both), (self.vectors, other.vectors), (self.dropped, other.dropped)):
            for k, v in theirs.items():
                _add(mine, k, v * weight)  # type: ignore[arg-type]
        for mine_h, theirs_h in ((self.hist, other.hist), (self.hist_closed, other.hist_closed)):
            for k, h in theirs_h.items():
                target = mine_h.setdefault(k, {})
                for c, v in h.items():
                    _add(target, c, v * weight)

    def prune(self, max_templates: int, max_transitions: int, max_pairs: int, max_vectors: int) -> None:
        """Keep the most frequent templates, transitions, pairs and count vectors (ties by key, so it is
        deterministic). A dropped template is then unknown: a later session holding it scores as a
        rare event, which it was."""
        keep = set(_top(self.df, max_templates)) | {START, END}
        for d in (self.df, self.df_closed, self.hist, self.hist_closed, self.dropped):
            for t in [t for t in d if t not in keep]:
                del d[t]  # type: ignore[attr-defined]
        trans = {k: v for k, v in self.trans.items() if k[0] in keep and k[1] in keep}
        self.trans = {k: trans[k] for k in _top(trans, max_transitions)}
        both = {k: v for k, v in self.both.items() if k[0] in keep and k[1] in keep}
        self.both = {k: both[k] for k in _top(both, max_pairs)}
        kept = set(_top(self.vectors, max_vectors))
        for vector, w in self.vectors.items():
            if vector not in kept or any(t not in keep for t, _ in vector):
                for t, _ in vector:
                    _add(self.dropped, t, w)
        self.vectors = {v: w for v, w in self.vectors.items() if v in kept and all(t in keep for t, _ in v)}
        self.dropped = {t: w for t, w in self.dropped.items() if t in keep}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able, key-sorted form (tuple keys become lists)."""
        return {
            "n": self.n, "n_closed": self.n_closed,
            "df": dict(sorted(self.df.items())), "df_closed": dict(sorted(self.df_closed.items())),
            "hist": {t: sorted(h.items()) for t, h in sorted(self.hist.items())},
            "hist_closed": {t: sorted(h.items()) for t, h in sorted(self.hist_closed.items())},
            "trans": sorted([a, b, v] for (a, b), v in self.trans.items()),
            "both": sorted([a, b, v] for (a, b), v in self.both.items()),
            "vectors": sorted([[x for tc in vec for x in tc], w] for vec, w in self.vectors.items()),
            "dropped": dict(sorted(self.dropped.items())),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SequenceStats:
        return cls(
            n=float(d["n"]), n_closed=float(d["n_closed"]),
            df={str(k): float(v) for k, v in d["df"].items()},
            df_closed={str(k): float(v) for k, v in d["df_closed"].items()},
            hist={str(t): {int(c): float(v) for c, v in h} for t, h in d["hist"].items()},
            hist_closed={str(t): {int(c): float(v) for c, v in h} for t, h in d["hist_closed"].items()},
            trans={(str(a), str(b)): float(v) for a, b, v in d["trans"]},
            both={(str(a), str(b)): float(v) for a, b, v in d["both"]},
            vectors={tuple((str(f[i]), int(f[i + 1])) for i in range(0, len(f), 2)): float(w)
                     for f, w in d["vectors"]},
            dropped={str(k): float(v) for k, v in d["dropped"].items()},
        )


class Flat:
    """Sessions as codes: per distinct (session, template) ``us``/``ut``/``cnt``, sorted by session."""

    def __init__(self, seqs: Sequence[tuple[str, ...]], vocab: dict[str, int], grow: bool) -> None:
        lengths = np.fromiter(map(len, seqs), np.int64, len(seqs))
        if grow:
            get = vocab.setdefault
            flat = [get(t, len(vocab)) for s in seqs for t in s]
        else:
            unknown = len(vocab)  # every unknown template shares one code: same rare-event score
            flat = [vocab.get(t, unknown) for s in seqs for t in s]
        self.k = np.int64(len(vocab) + 2)  # codes: templates, unknown (scoring only), then ^/$ (``edge``)
        self.codes = np.array(flat, dtype=np.int64)
        self.ends = np.cumsum(lengths)
        self.sid = np.repeat(np.arange(len(seqs), dtype=np.int64), lengths)
        keys, self.cnt = _unique(self.sid * self.k + self.codes)
        self.us, self.ut = keys // self.k, keys % self.k
        same = self.sid[1:] == self.sid[:-1]
        pairs, _ = _unique(self.sid[:-1][same] * self.k * self.k + self.codes[:-1][same] * self.k + self.codes[1:][same])
        self.ps, self.pc = pairs // (self.k * self.k), pairs % (self.k * self.k)  # session, a * k + b
        self.first, self.last = self.codes[self.ends - lengths], self.codes[self.ends - 1]


def _unique(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct keys and their counts (a plain sort: faster here than np.unique's hashing)."""
    keys = np.sort(keys)
    if not len(keys):
        return keys, np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return keys[starts], np.diff(np.r_[starts, len(keys)])


def bucket_array(cnt: np.ndarray) -> np.ndarray:
    pow2 = np.left_shift(1, np.floor(np.log2(np.maximum(cnt, 1))).astype(np.int64))
    return np.where(cnt <= EXACT_COUNTS, cnt, pow2)


def _sums(keys: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    uniq, inv = np.unique(keys, return_inverse=True)
    return uniq, np.bincount(inv, weights=weights, minlength=len(uniq))


def _add_chunk(stats: SequenceStats, seqs: Sequence[tuple[str, ...]], opens: np.ndarray, w: np.ndarray,
               max_vectors: int) -> None:
    vocab: dict[str, int] = {}
    f = Flat(seqs, vocab, grow=True)
    names = list(vocab)
    closed = ~opens
    we, ce = w[f.us], closed[f.us]
    stats.n += float(w.sum())
    stats.n_closed += float(w[closed].sum())
    bv = bucket_array(f.cnt)
    for df, hist, mask in ((stats.df, stats.hist, slice(None)), (stats.df_closed, stats.hist_closed, ce)):
        for code, v in enumerate(np.bincount(f.ut[mask], weights=we[mask], minlength=len(names)).tolist()):
            if v:
                df[names[code]] = df.get(names[code], 0.0) + v
        keys, sums = _sums(f.ut[mask] * KEY_BASE + bv[mask], we[mask])
        for key, v in zip(keys.tolist(), sums.tolist(), strict=True):
            h = hist.setdefault(names[key // int(KEY_BASE)], {})
            h[key % int(KEY_BASE)] = h.get(key % int(KEY_BASE), 0.0) + v
    pairs = [(f.pc, w[f.ps])]
    edge = int(f.k) - 1  # the code of ^ (as a) and $ (as b)
    pairs.append((edge * f.k + f.first[closed], w[closed]))
    pairs.append((f.last[closed] * f.k + edge, w[closed]))
    keys, sums = _sums(np.concatenate([p for p, _ in pairs]), np.concatenate([x for _, x in pairs]))
    for key, v in zip(keys.tolist(), sums.tolist(), strict=True):
        a, b = divmod(key, int(f.k))
        pair = (START if a == edge else names[a], END if b == edge else names[b])
        stats.trans[pair] = stats.trans.get(pair, 0.0) + v
    # co-occurrence: X' W X over the session x template presence matrix
    x = sp.csr_matrix((np.ones(len(f.us)), (f.us, f.ut)), shape=(len(seqs), len(names)))
    co = (x.T @ sp.csr_matrix((we, (f.us, f.ut)), shape=x.shape)).tocoo()
    for i, j, v in zip(co.row.tolist(), co.col.tolist(), co.data.tolist(), strict=True):
        if names[i] < names[j]:
            stats.both[(names[i], names[j])] = stats.both.get((names[i], names[j]), 0.0) + v
    _add_vectors(stats, f, names, closed, w, bv, max_vectors)


def _add_vectors(stats: SequenceStats, f: Flat, names: list[str], closed: np.ndarray, w: np.ndarray,
                 bv: np.ndarray, max_vectors: int) -> None:
    """Distinct count vectors of closed sessions by a 64-bit order-free hash (a sum of mixed terms)."""
    with np.errstate(over="ignore"):  # splitmix64 of (code, count): sums of such hashes rarely collide
        z = ((f.ut.astype(np.uint64) << np.uint64(32)) | bv.astype(np.uint64)) + _M0
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        mixed = z ^ (z >> np.uint64(31))
        starts = np.flatnonzero(np.r_[True, f.us[1:] != f.us[:-1]])
        h = np.add.reduceat(mixed, starts)  # one per session, all sessions being non-empty
    idx = np.flatnonzero(closed)
    if not len(idx):
        return
    uniq, first, inv = np.unique(h[idx], return_index=True, return_inverse=True)
    weight = np.bincount(inv, weights=w[idx], minlength=len(uniq))
    order = np.lexsort((uniq, -weight))[:max_vectors]
    kept = np.zeros(len(uniq), dtype=bool)
    kept[order] = True
    for u in order.tolist():
        s = int(idx[first[u]])
        lo, hi = int(starts[s]), int(starts[s + 1]) if s + 1 < len(starts) else len(f.ut)
        vec = tuple(sorted(zip([names[c] for c in f.ut[lo:hi].tolist()], bv[lo:hi].tolist(), strict=True)))
        stats.vectors[vec] = stats.vectors.get(vec, 0.0) + float(weight[u])
    lost = np.zeros(len(closed), dtype=bool)
    lost[idx[~kept[inv]]] = True
    m = lost[f.us]
    for code, v in enumerate(np.bincount(f.ut[m], weights=w[f.us][m], minlength=len(names)).tolist()):
        if v:
            stats.dropped[names[code]] = stats.dropped.get(names[code], 0.0) + v


def _context(stats: SequenceStats) -> tuple[dict[str, Counter[str]], dict[str, Counter[str]]]:
    pred: dict[str, Counter[str]] = {}
    succ: dict[str, Counter[str]] = {}
    for (a, b), v in stats.trans.items():
        if a != b:  # a template's repeats are no context
            pred.setdefault(b, Counter())[a] += v  # type: ignore[assignment]
            succ.setdefault(a, Counter())[b] += v  # type: ignore[assignment]
    return pred, succ


def _overlap(x: Counter[str] | None, y: Counter[str] | None) -> float:
    if not x or not y:
        return 0.0
    nx, ny = sum(x.values()), sum(y.values())
    return sum(min(v / nx, y[k] / ny) for k, v in x.items() if k in y)


def alternatives(stats: SequenceStats, eps: float) -> dict[str, str]:
    """Template -> the name of its group of alternatives (its most frequent member). Alternatives
    play the same role, one of them per occurrence of a step (``Payment authorized via <*>`` split
    by provider, ``declined``/``error`` outcomes): they (almost: at most ``eps``) never share a
    session, and at least ``SIMILAR`` of their predecessor and of their successor distributions
    overlap. Greedy by frequency, so deterministic; templates rarer than ``3 / eps`` stay alone."""
    pred, succ = _context(stats)
    min_df = 3.0 / eps
    order = sorted(stats.df, key=lambda t: (-stats.df[t], t))
    group = {t: t for t in order}
    members: dict[str, list[str]] = {}
    by_context: dict[tuple[int, str], list[str]] = {}  # only templates sharing a main neighbour are compared
    for t in order:
        if stats.df[t] < min_df or t not in pred or t not in succ:
            continue
        keys = ((0, pred[t].most_common(1)[0][0]), (1, succ[t].most_common(1)[0][0]))
        candidates = dict.fromkeys(by_context.get(keys[0], [])[:MAX_COMPARED] + by_context.get(keys[1], [])[:MAX_COMPARED])
        for rep in candidates:
            mates = members[rep]
            if all(stats.both.get((min(t, m), max(t, m)), 0.0) <= eps * min(stats.df[t], stats.df[m])
                   for m in mates) and min(_overlap(pred[t], pred[rep]), _overlap(succ[t], succ[rep])) >= SIMILAR:
                mates.append(t)
                group[t] = rep
                break
        else:
            members[t] = [t]
            for key in keys:
                by_context.setdefault(key, []).append(t)
    return group



def _top(d: dict[Any, float], k: int) -> list[Any]:
    if len(d) <= k:
        return list(d)
    return [key for key, _ in sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]
