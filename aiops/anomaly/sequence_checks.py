"""The checks of the sequence detector, per session: its score, reason and implicated template.

Each check measures how rare one feature of the session is among the learnt sessions:
``surprise(k, n) = -log10((k - 1 + 0.5) / n)`` when k of n sessions show it (the scored session
is assumed to be one of the n and left out; a feature nobody else shows gets ``-log10(0.5 / n)``).
The score is the largest surprise; the features:

- rare event: a template held by few sessions (``new event``: by none);
- transition ``a -> b`` held by few of the sessions that hold ``a``; worded as a skipped step
  when some usual step sits between ``a`` and ``b``, a missing end (``a -> $``) or a missing
  start (``^ -> b``), else an unusual transition;
- unusual count: few sessions hold as many of a template (or as few, including none: a missing
  event);
- count mismatch: the session breaks a count invariant (``invariants``) between groups of
  alternatives (``sequence_stats.alternatives``); its score is ``threshold + log10(eps) +
  surprise``: it reaches the threshold whenever at most ``eps`` of the sessions break it, as
  invariants tolerate that share of violators by definition.

Checks that a cut can explain (start, end, low counts, invariants) are skipped for open sessions.
``sequence.BulkScorer`` computes the same scores for many sessions; this version also explains.

Example::

    >>> s = SequenceStats()
    >>> s.add([("a", "b", "c"), ("a", "c")], np.array([False, False]), np.array([1000.0, 1.0]), 10)
    >>> score, reason, tid = Scorer(s, threshold=3.0, invariant_epsilon=0.05).score(("a", "c"), False)
    >>> round(score, 2), reason, tid
    (5.0, 'skipped step: b expected between a and c (0x b but 1x c; 1:1 in 100% of sessions with either)', 'b')
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import Counter
from itertools import accumulate

import numpy as np
import scipy.sparse as sp

from aiops.anomaly.sequence_stats import END, START, SequenceStats, alternatives, bucket

MAX_TERM = 3  # invariant ratios 1:1, 1:2, 2:3... up to 3:3
_RATIOS = sorted((a, b) for a in range(1, MAX_TERM + 1) for b in range(1, MAX_TERM + 1) if math.gcd(a, b) == 1)
Invariant = tuple[str, str, int, int, float, float]  # (group a, group b, ra, rb, sessions keeping it, support)
Finding = tuple[float, int, str, tuple]  # (score, priority, kind, reason args): the max is reported
Result = tuple[float, str | None, str | None]
# On equal scores, the reason shown is the first of: rare, end/start, trans, missing, ratio, high/low.
_PRIORITY = {"rare": 5, "end": 4, "start": 4, "trans": 3, "missing": 2, "ratio": 1, "high": 0, "low": 0}


def surprise(k: float, n: float) -> float:
    """-log10 of the smoothed share of n sessions, k of which show a feature. The scored session is
    usually one of the n, so it is left out (leave-one-out): a feature only it shows scores like one
    never seen, -log10(0.5 / n)."""
    return -math.log10((max(k - 1.0, 0.0) + 0.5) / max(n, 1.0))


def pct(k: float, n: float) -> str:
    p = 100.0 * k / n if n > 0 else 0.0
    return f"{p:.0f}%" if p >= 10 or p == 0 else f"{p:.1f}%" if p >= 1 else f"{p:.2g}%"


class Tail:
    """Cumulative sessions by count bucket of one template: P(count >= x) and P(count <= x)."""

    def __init__(self, hist: dict[int, float], zeros: float) -> None:
        self.keys = sorted(hist)
        vals = [hist[k] for k in self.keys]
        self.below = list(accumulate(vals, initial=zeros))  # below[i]: sessions with count < keys[i] (0 included)
        self.total = self.below[-1]

    def at_least(self, count: int) -> float:
        return self.total - self.below[bisect_left(self.keys, bucket(count))]

    def at_most(self, count: int) -> float:
        return self.below[bisect_right(self.keys, bucket(count))]


def invariants(stats: SequenceStats, group: dict[str, str], eps: float) -> list[Invariant]:
    """Count invariants (after Lou et al., "Mining invariants from console logs", 2010): per pair of
    groups of alternatives, the count ratio ``ca:cb`` (terms up to 3) kept by the most complete
    sessions, if at most ``eps`` of those holding either break it, among at least ``3 / eps`` of them
    (rule of three). Vectors the size bound dropped count as breaking it. Sparse products: for a
    ratio ra:rb, the weight of vectors with ``ca * rb == cb * ra == u`` is ``A_u' W B_u`` with
    ``A_u = [C * rb == u]``, ``B_u = [C * ra == u]``."""
    if not stats.vectors:
        return []
    names = sorted({group.get(t, t) for vec in stats.vectors for t, _ in vec})
    index = {g: i for i, g in enumerate(names)}
    rows, cols, vals = [], [], []
    for i, vec in enumerate(stats.vectors):
        for t, c in vec:
            rows.append(i)
            cols.append(index[group.get(t, t)])
            vals.append(c)
    w = np.fromiter(stats.vectors.values(), float, len(stats.vectors))
    counts = sp.csr_matrix((vals, (rows, cols)), shape=(len(w), len(names)), dtype=np.int64)  # sums alternatives
    df = (counts > 0).T @ w
    cols = np.flatnonzero(df >= (1.0 - eps) * 3.0 / eps).tolist()  # rarer groups cannot reach the support
    names = [names[c] for c in cols]
    counts = counts[:, cols].tocsr()
    df = df[cols]
    weights = sp.diags(w)
    present = (counts > 0).astype(float)
    both = (present.T @ weights @ present).toarray()
    best = np.zeros_like(both)
    ratio = np.zeros(both.shape + (2,), dtype=np.int64)
    for ra, rb in _RATIOS:  # ascending, so a tie goes to the larger ratio
        x, y = counts * rb, counts * ra
        held = np.zeros_like(both)
        for u in np.intersect1d(x.data, y.data).tolist():
            held += ((x == u).astype(float).T @ weights @ (y == u).astype(float)).toarray()
        better = held >= best
        best = np.where(better, held, best)
        ratio[better] = (ra, rb)
    dropped = np.zeros(len(names))
    for t, v in stats.dropped.items():
        g = group.get(t, t)
        if g in names:
            dropped[names.index(g)] += v
    out: list[Invariant] = []
    for a, b in zip(*np.triu_indices(len(names), 1), strict=True):
        held = float(best[a, b])
        support = float(df[a] + df[b] - both[a, b])
        lost = dropped[a] + dropped[b]
        if held > 0 and support >= 3.0 / eps and support - held + lost <= eps * (support + lost):
            out.append((names[a], names[b], int(ratio[a, b, 0]), int(ratio[a, b, 1]), held, support))
    return out


class Scorer:
    """Read-only lookups derived from the statistics; ``score`` is pure, so results can be cached."""

    def __init__(self, stats: SequenceStats, threshold: float, invariant_epsilon: float) -> None:
        self.s, self.threshold, self.eps = stats, threshold, invariant_epsilon
        self.high = {t: Tail(h, 0.0) for t, h in stats.hist.items()}
        self.low = {t: Tail(h, stats.n_closed - stats.df_closed.get(t, 0.0)) for t, h in stats.hist_closed.items()}
        self.succ: dict[str, list[tuple[str, float]]] = {}  # successors, most frequent first
        for (a, b), v in sorted(stats.trans.items(), key=lambda kv: (-kv[1], kv[0])):
            self.succ.setdefault(a, []).append((b, v))
        # Templates whose absence alone would be flagged: only these are checked when absent.
        self.usual = sorted(t for t, v in stats.df_closed.items()
                            if surprise(stats.n_closed - v, stats.n_closed) >= threshold)
        self.group = alternatives(stats, invariant_epsilon)
        self.members: dict[str, list[str]] = {}
        for t, g in self.group.items():
            self.members.setdefault(g, []).append(t)
        self.inv: dict[str, list[Invariant]] = {}
        for inv in invariants(stats, self.group, invariant_epsilon):
            for g in inv[:2]:
                self.inv.setdefault(g, []).append(inv)

    def cond(self, a: str, b: str) -> tuple[float, float]:
        """(sessions with a -> b, sessions with a) — a is START for first events."""
        if a == START:
            return self.s.trans.get((a, b), 0.0), self.s.n_closed
        n_a = self.s.df_closed.get(a, 0.0) if b == END else self.s.df.get(a, 0.0)
        return self.s.trans.get((a, b), 0.0), n_a

    def _between(self, a: str, b: str) -> str | None:
        """The usual step (a group of alternatives) g between a and b: the likeliest a -> g -> b, or
        for a missing end (b is $) the likeliest successor of a, for a missing start (a is ^) the
        likeliest first event; None if it has less than a 10% chance."""
        via: dict[str, float] = {}
        for c, v in self.succ.get(a, [])[:20]:
            if c not in (b, END):
                g = self.group.get(c, c)
                via[g] = via.get(g, 0.0) + v
        n_a = self.cond(a, "")[1]
        best, best_p = None, 0.1
        for g, v in sorted(via.items()):
            p = v / max(n_a, 1.0)
            if a != START and b != END:
                k = n = 0.0
                for c in self.members.get(g, [g]):
                    kc, nc = self.cond(c, b)
                    k, n = k + kc, n + nc
                p *= k / n if n else 0.0
            if p > best_p:
                best, best_p = g, p
        return best

    def _name(self, g: str) -> str:
        n = len(self.members.get(g, ())) - 1
        return f"{g} (or {n} alternative{'s' if n > 1 else ''})" if n > 0 else g

    def score(self, seq: tuple[str, ...], is_open: bool) -> Result:
        """(score, reason, template) of one session; reason and template iff score >= threshold."""
        s, thr = self.s, self.threshold
        found: list[Finding] = [(0.0, 0, "", ())]

        def note(kind: str, score: float, *args: object) -> None:
            if score >= found[0][0]:
                finding = (score, _PRIORITY[kind], kind, args)
                found[0] = max(found[0], finding)

        counts = Counter(seq)
        for t, c in counts.items():
            k = s.df.get(t, 0.0)
            note("rare", surprise(k, s.n), t, k)
            if k and c >= 2:
                note("high", surprise(self.high[t].at_least(c), s.n), t, c, self.high[t].at_least(c))
        pairs = set(zip(seq, seq[1:], strict=False))
        if not is_open and seq:
            pairs |= {(START, seq[0]), (seq[-1], END)}
        for a, b in pairs:
            k, n = self.cond(a, b)
            if n > 0:
                note("end" if b == END else "start" if a == START else "trans", surprise(k, n), a, b, k, n)
        if not is_open and s.n_closed > 0:
            for t, c in counts.items():
                if t in self.low:
                    low = self.low[t].at_most(c)
                    note("low", surprise(low, s.n_closed), t, c, low)
            for t in self.usual:
                if t not in counts:
                    absent = s.n_closed - s.df_closed.get(t, 0.0)
                    note("missing", surprise(absent, s.n_closed), t, absent)
            groups: Counter[str] = Counter()
            for t, c in counts.items():
                groups[self.group.get(t, t)] += c
            for g in groups:
                for a, b, ra, rb, held, support in self.inv.get(g, ()):
                    ca, cb = groups.get(a, 0), groups.get(b, 0)
                    if ca * rb != cb * ra and (g == a or b not in groups or a not in groups):
                        # Breaking a near-invariant is flagged up to a share of eps, whatever the threshold.
                        score = thr + math.log10(self.eps) + surprise(support - held, support)
                        note("ratio", score, a, b, ca, cb, ra, rb, held, support)
        best = found[0]
        if best[0] < thr:
            return best[0], None, None
        return best[0], *self._explain(best[2], best[3], seq, is_open)

    def _explain(self, kind: str, args: tuple, seq: tuple[str, ...], is_open: bool) -> tuple[str, str | None]:
        s = self.s
        if kind == "rare":
            t, k = args
            return (f"rare event {t} (seen in {pct(k, s.n)} of sessions)" if k else
                    f"new event {t} (never seen in {s.n:,.0f} sessions)"), t
        if kind in ("trans", "start", "end"):
            a, b, k, n = args
            share = pct(k, n)
            c = self._between(a, b)
            if c is not None:
                name = self._name(c)
                if any(self.group.get(t, t) == c for t in seq):  # not missing: elsewhere in the session
                    where = f"after {a}" if kind == "end" else f"before {b}" if kind == "start" else \
                        f"between {a} and {b}"
                    return f"out of order: {name} expected {where}, found elsewhere ({a} -> {b} in {share} of " \
                           f"sessions with {a})", c
                if kind == "end":
                    return f"missing end: {name} expected after {a} (sessions end at {a} in {share} of cases)", c
                if kind == "start":
                    return f"missing start: {name} expected before {b} (sessions start at {b} in {share} of cases)", c
                return (f"skipped step: {name} expected between {a} and {b} ({a} -> {b} in {share} of sessions "
                        f"with {a})"), c
            if kind == "end":
                return f"unusual end after {a} (in {share} of sessions with {a})", a
            if kind == "start":
                return f"unusual start at {b} (in {share} of sessions)", b
            return f"unusual transition {a} -> {b} (in {share} of sessions with {a})", b
        if kind == "high":
            t, c, k = args
            return f"unusual count: {c}x {t} (sessions with {c} or more: {pct(k, s.n)})", t
        if kind == "low":
            t, c, k = args
            return f"unusual count: {c}x {t} (sessions with {c} or fewer: {pct(k, s.n_closed)})", t
        if kind == "missing":
            t, k = args
            return f"missing event {t} (absent from {pct(k, s.n_closed)} of sessions)", t
        a, b, ca, cb, ra, rb, held, support = args
        short, extra = (b, a) if ca * rb > cb * ra else (a, b)  # fewer / more events than the ratio wants
        kept = f"{ra}:{rb} in {pct(held, support)} of sessions with either"
        if (cb if short == b else ca) == 0:  # absent: say where it was skipped, if a transition shows it
            edges = [] if is_open else [(START, seq[0]), (seq[-1], END)]
            for x, y in [*zip(seq, seq[1:], strict=False), *edges]:
                k, n = self.cond(x, y)
                if k < 0.1 * n and self._between(x, y) == short:
                    what = (f"missing start: {self._name(short)} expected before {y}" if x == START else
                            f"missing end: {self._name(short)} expected after {x}" if y == END else
                            f"skipped step: {self._name(short)} expected between {x} and {y}")
                    return f"{what} ({ca}x {a} but {cb}x {b}; {kept})", short
        counts = Counter(seq)
        high = max(((surprise(self.high[t].at_least(c), s.n), t) for t, c in counts.items()
                    if self.group.get(t, t) == extra and t in self.high), default=(0.0, ""))
        low = max((surprise(self.low[t].at_most(c), s.n_closed) for t, c in counts.items()
                   if self.group.get(t, t) == short and t in self.low), default=0.0)
        if high[0] >= self.threshold and high[0] > low:  # too many of one rather than too few of the other
            return f"unusual count: {ca}x {self._name(a)} but {cb}x {self._name(b)} ({kept})", high[1]
        return f"count mismatch: {ca}x {self._name(a)} but {cb}x {self._name(b)} ({kept})", short
