"""Per-session sequence anomalies: sessions whose order or composition normal sessions do not show.

A session is the template ids of the events sharing a session key (an HDFS block id, a trace
id...) within one service, in event order. The detector is unsupervised: ``fit`` counts how many
sessions show each feature — events, transitions, per-event counts, count vectors — over the
run's own sessions plus, optionally, a prior model of earlier runs; ``score_many`` scores each
session by its rarest feature, ``-log10`` of the share of learnt sessions showing it
(``sequence_checks``). With the default threshold 3.0 a session is anomalous when it shows
something at most ~0.1% of sessions show (a new or rare event, a skipped step, a missing end or
start, an unusual transition or count), or when it breaks a count invariant that at least 95%
of the sessions keep (``invariant_epsilon``), e.g. "one payment per order placed", where
alternatives such as one template per payment provider count as one step.

Why counting rather than a fitted scikit-learn model (PCA residuals, isolation forest...): the
counts are exact sufficient statistics, so runs merge by addition; each flag names the feature
that caused it; and the scale (a share of sessions) means the same on any system. Nothing is
random: results are deterministic. Modules: ``sequence_stats`` (what is learnt, counted in bulk
with numpy), ``sequence_checks`` (the checks and reasons, per session), here the API and
``BulkScorer`` (the same scores as array operations, for millions of sessions).

- **Open sessions** (``open_flags``: the input started or ended inside the session; the caller
  knows, e.g. first or last event within the session timeout of the input's ends) are judged
  only on what a cut cannot explain: rare events, transitions inside the session, counts above
  the usual. Pass the same flags to ``fit``, so that cut sessions do not teach that sessions
  may end anywhere; without flags every session is taken as complete.
- **Warm-up**: fewer than ``min_sessions`` sessions (prior included): every score is 0. Below
  ~500 sessions only invariant breaks can reach the default threshold (0.5/500 = 0.1%).
- **Prior**: its counts times ``prior_weight`` (forgetting: memory of ~1/(1 - w) runs) are
  added. The model keeps at most ``max_templates`` templates, ``max_transitions`` transitions,
  ``max_pairs`` co-occurring pairs and ``max_vectors`` count vectors (the most frequent), so its
  size is bounded (a few MB at worst, usually KB) however many runs it has seen.
- **Cost**: identical sessions are scored once; 1M sessions of ~20 events, most of them
  distinct, take ~15 s to fit and ~10 s to score on one core.

Example::

    >>> normal = [["cart", "pay", "order"]] * 300
    >>> model = SequenceModel.fit(normal)
    >>> [(round(s, 2), r) for s, r, _ in model.score_many([["cart", "pay", "order"], ["cart", "order"]])]
    [(0.0, None), (4.48, 'skipped step: pay expected between cart and order (1x order but 0x pay; 1:1 in 100% of sessions with either)')]
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np
import scipy.sparse as sp

from aiops.anomaly.sequence_checks import Result, Scorer, Tail, surprise
from aiops.anomaly.sequence_stats import CHUNK, END, KEY_BASE, START, Flat, SequenceStats, bucket_array

_FORMAT = "aiops.sequence/1"


@dataclass(frozen=True)
class SequenceConfig:
    """Defaults are principled, not fitted to a data set; each can be overridden."""

    # anomalous iff score >= threshold; score = -log10(share of the sessions showing the session's
    # rarest feature): 3.0 flags what at most 0.1% of sessions show (2.0: 1%)
    threshold: float = 3.0
    # fewer sessions than this (weighted, prior included): warm-up, every score 0
    min_sessions: int = 100
    # a count ratio between two groups of templates (1:1, 1:2, 2:3...) that all but at most this share
    # of the complete sessions holding either keep is an invariant; breaking it is flagged
    invariant_epsilon: float = 0.05
    prior_weight: float = 0.8  # a prior's counts are multiplied by this before adding (forgetting)
    max_templates: int = 2000  # distinct templates kept (most frequent)
    max_transitions: int = 50_000  # distinct a -> b transitions kept
    max_pairs: int = 50_000  # template pairs kept (co-occurrence, to tell alternatives)
    max_vectors: int = 20_000  # distinct count vectors kept (closed sessions), to mine invariants from

    def __post_init__(self) -> None:
        if not 0.0 <= self.prior_weight <= 1.0:
            raise ValueError(f"prior_weight must be within [0, 1], got {self.prior_weight}")
        if not 0.0 < self.invariant_epsilon < 1.0:
            raise ValueError(f"invariant_epsilon must be within (0, 1), got {self.invariant_epsilon}")
        if self.threshold <= 0 or self.min_sessions < 1:
            raise ValueError("threshold must be > 0 and min_sessions >= 1")


class SequenceModel:
    """What normal sessions look like; build it with ``fit`` or ``from_bytes``."""

    def __init__(self, stats: SequenceStats, config: SequenceConfig = SequenceConfig()) -> None:
        self.stats, self.config = stats, config
        self._scorer = Scorer(stats, config.threshold, config.invariant_epsilon)
        self._tables: BulkScorer | None = None  # built on first use

    @classmethod
    def fit(cls, sequences: Sequence[Sequence[str]], prior: SequenceModel | None = None,
            config: SequenceConfig = SequenceConfig(), open_flags: Sequence[bool] | None = None
            ) -> SequenceModel:
        """Learn from the sessions (and the prior's statistics). ``open_flags``: as in ``score_many``."""
        flags = _flags(sequences, open_flags)
        distinct = Counter(zip(map(tuple, sequences), flags, strict=True))
        del distinct[((), False)], distinct[((), True)]  # an empty session says nothing
        stats = SequenceStats()
        stats.add([seq for seq, _ in distinct], np.fromiter((o for _, o in distinct), bool, len(distinct)),
                  np.fromiter(distinct.values(), float, len(distinct)), config.max_vectors)
        if prior is not None:
            stats.merge(prior.stats, config.prior_weight)
        stats.prune(config.max_templates, config.max_transitions, config.max_pairs, config.max_vectors)
        return cls(stats, config)

    @property
    def threshold(self) -> float:
        return self.config.threshold

    @property
    def sessions_seen(self) -> float:
        """Weighted sessions learnt (the prior's included)."""
        return self.stats.n

    @property
    def warming_up(self) -> bool:
        """True while there are too few sessions to judge: every score is then 0."""
        return self.stats.n < self.config.min_sessions

    def score_many(self, sequences: Sequence[Sequence[str]], open_flags: Sequence[bool] | None = None
                   ) -> list[tuple[float, str | None, str | None]]:
        """Per sequence: (score, reason, template_id). reason and template_id are set iff
        score >= threshold; template_id is the most implicated template (for a skipped step or a
        missing end, the one expected but absent). ``open_flags[i]``: the session may be cut."""
        flags = _flags(sequences, open_flags)
        if self.warming_up:
            return [(0.0, None, None)] * len(sequences)
        index: dict[tuple[tuple[str, ...], bool], int] = {((), False): 0, ((), True): 1}  # empty: score 0
        which = [index.setdefault(key, len(index)) for key in zip(map(tuple, sequences), flags, strict=True)]
        keys = list(index)[2:]
        if self._tables is None:
            self._tables = BulkScorer(self._scorer)
        scores = self._tables.score([seq for seq, _ in keys], np.fromiter((o for _, o in keys), bool, len(keys)))
        # Reasons (and their exact score) from the per-session reference, for the few flagged sessions.
        results: list[Result] = [(0.0, None, None)] * 2 + [
            self._scorer.score(*key) if s >= self.threshold else (float(s), None, None)
            for key, s in zip(keys, scores.tolist(), strict=True)
        ]
        return [results[i] for i in which]

    def to_bytes(self) -> bytes:
        doc = {"format": _FORMAT, "config": asdict(self.config), "stats": self.stats.to_dict()}
        return zlib.compress(json.dumps(doc, separators=(",", ":")).encode(), 6)

    @classmethod
    def from_bytes(cls, data: bytes) -> SequenceModel:
        """Inverse of ``to_bytes``; ValueError if the bytes are not a model of this format."""
        try:
            doc = json.loads(zlib.decompress(data))
            if doc.get("format") != _FORMAT:
                raise ValueError(f"not a {_FORMAT} model: {doc.get('format')!r}")
            known = {f.name for f in fields(SequenceConfig)}
            config = SequenceConfig(**{k: v for k, v in doc["config"].items() if k in known})
            return cls(SequenceStats.from_dict(doc["stats"]), config)
        except (zlib.error, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"unreadable sequence model: {exc}") from exc


class BulkScorer:
    """``Scorer.score``'s scores for many sessions at once: its lookups as arrays over template codes
    (``len(vocab)``: any unknown template; ``len(vocab) + 1``: ^ and $), the checks as array operations."""

    def __init__(self, sc: Scorer) -> None:
        st = sc.s
        self.vocab = {t: i for i, t in enumerate(sorted(st.df))}
        names = list(self.vocab)
        self.sc, self.k, self.names = sc, len(names) + 2, names
        self.rare = np.array([surprise(st.df[t], st.n) for t in names] + [surprise(0.0, st.n)])
        self.high = self._tails(sc.high, names)
        self.low = self._tails(sc.low, names)
        self.usual = [self.vocab[t] for t in sc.usual]
        self.pair_cache: dict[int, float] = {}
        gid = {g: i for i, g in enumerate(sorted(set(sc.group.values())))}
        self.group = np.array([gid[sc.group[t]] for t in names] + [len(gid)])
        self.n_groups = len(gid) + 1
        invs = [inv for g in sorted(sc.inv) for inv in sc.inv[g] if inv[0] == g]
        self.inv = [(gid[a], gid[b], ra, rb, sc.threshold + np.log10(sc.eps) + surprise(support - held, support))
                    for a, b, ra, rb, held, support in invs]

    def _tails(self, tails: dict[str, Tail], names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Keys ``code * KEY_BASE + count`` and cumulative sessions; each template ends with a sentinel key."""
        keys, below, has = [], [], np.zeros(len(names) + 1, dtype=bool)
        for code, t in enumerate(names):
            if t in tails:
                has[code] = True
                keys += [code * int(KEY_BASE) + c for c in tails[t].keys] + [code * int(KEY_BASE) + int(KEY_BASE) - 1]
                below += tails[t].below
        return np.array(keys, dtype=np.int64), np.array(below, dtype=float), has

    def _pair_scores(self, codes: np.ndarray) -> np.ndarray:
        """Score of each a * k + b transition code (0 when a is unknown: no score)."""
        k, unknown = self.k, len(self.names)
        names = [*self.names, "", START]  # "" stands for any unknown template: no transition has it
        out = np.empty(len(codes))
        for i, code in enumerate(codes.tolist()):
            v = self.pair_cache.get(code)
            if v is None:
                a, b = divmod(code, k)
                hits, n = self.sc.cond(names[a], END if b == k - 1 else names[b]) if a != unknown else (0.0, 0.0)
                v = self.pair_cache[code] = surprise(hits, n) if n > 0 else 0.0
            out[i] = v
        return out

    def score(self, seqs: Sequence[tuple[str, ...]], opens: np.ndarray) -> np.ndarray:
        return np.concatenate([self._score_chunk(seqs[lo:lo + CHUNK], opens[lo:lo + CHUNK])
                               for lo in range(0, len(seqs), CHUNK)] or [np.zeros(0)])

    def _score_chunk(self, seqs: Sequence[tuple[str, ...]], opens: np.ndarray) -> np.ndarray:
        st = self.sc.s
        f = Flat(seqs, self.vocab, grow=False)
        out = np.zeros(len(seqs))
        np.maximum.at(out, f.us, self.rare[f.ut])
        bkey = f.ut * KEY_BASE + bucket_array(f.cnt)
        keys, below, has = self.high
        m = has[f.ut] & (f.cnt >= 2)
        if m.any():
            at = np.searchsorted(keys, bkey[m], side="left")
            total = below[np.searchsorted(keys, f.ut[m] * KEY_BASE + KEY_BASE - 1, side="left")]
            np.maximum.at(out, f.us[m], _surprise(total - below[at], st.n))
        codes, inv = np.unique(f.pc, return_inverse=True)
        np.maximum.at(out, f.ps, self._pair_scores(codes)[inv])
        closed = ~opens
        if st.n_closed <= 0 or not closed.any():
            return out
        cs = np.flatnonzero(closed)
        edge = self.k - 1
        ends = np.concatenate([edge * self.k + f.first[cs], f.last[cs] * self.k + edge])
        codes, inv = np.unique(ends, return_inverse=True)
        np.maximum.at(out, np.concatenate([cs, cs]), self._pair_scores(codes)[inv])
        keys, below, has = self.low
        m = has[f.ut] & closed[f.us]
        if m.any():
            at = np.searchsorted(keys, bkey[m], side="right")
            np.maximum.at(out, f.us[m], _surprise(below[at], st.n_closed))
        for code in self.usual:
            present = np.zeros(len(seqs), dtype=bool)
            present[f.us[f.ut == code]] = True
            absent = closed & ~present
            t = self.names[code]
            out[absent] = np.maximum(out[absent], surprise(st.n_closed - st.df_closed.get(t, 0.0), st.n_closed))
        if self.inv:
            g = self.group[f.ut]
            m = closed[f.us]
            counts = sp.csr_matrix((f.cnt[m], (f.us[m], g[m])), shape=(len(seqs), self.n_groups)).tocsc()
            for a, b, ra, rb, score in self.inv:
                ca = counts[:, a].toarray().ravel()
                cb = counts[:, b].toarray().ravel()
                broken = (ca * rb != cb * ra) & closed
                out[broken] = np.maximum(out[broken], score)
        return out


def _surprise(k: np.ndarray, n: float) -> np.ndarray:
    return -np.log10((np.maximum(k - 1.0, 0.0) + 0.5) / max(n, 1.0))


def _flags(sequences: Sequence[Sequence[str]], open_flags: Sequence[bool] | None) -> list[bool]:
    if open_flags is None:
        return [False] * len(sequences)
    if len(open_flags) != len(sequences):
        raise ValueError(f"{len(open_flags)} open flags for {len(sequences)} sequences")
    return [bool(f) for f in open_flags]
