"""Cluster masked messages into templates: Drain over our tokens, then a post-clustering merge.

Example::

    >>> from aiops.templating.cluster import cluster_templates
    >>> from aiops.templating.learner import TemplateConfig
    >>> out = cluster_templates([], ["ret:true", "ret:false"], TemplateConfig())
    >>> out["ret:true"]
    'ret:<*>'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from drain3.drain import Drain

from aiops.templating.merge import merge_templates
from aiops.templating.tokenize import DELIM_SET, WILDCARD, canonical, detokenize, tokenize

_DELIMS = DELIM_SET


class _WordDrain(Drain):
    """Drain whose similarity counts word tokens only: delimiter tokens must match but do not add."""

    def get_seq_distance(self, seq1, seq2, include_params: bool):
        words = sim = params = 0
        delims = _DELIMS
        for t1, t2 in zip(seq1, seq2, strict=True):
            # is_word() inlined (hot loop): a word is anything but a one-character delimiter
            w1 = t1 not in delims
            if w1 != (t2 not in delims) or (t1 != t2 and not w1):
                return 0.0, 0  # delimiters must line up exactly
            if t1 == WILDCARD:
                params += 1
                words += 1
                sim += include_params
            else:
                words += 1
                sim += t1 == t2
        return (sim / words if words else 1.0), params


def cluster_templates(
    seeds: Sequence[str], masked: Sequence[str], config, counts: Sequence[int] | None = None
) -> dict[str, str]:
    """Map every seed template and every masked message to its final (canonical) template text.

    Seeds go first, then messages, in the given order (callers sort them for determinism).
    ``counts`` are the events behind each masked message (default 1).
    """
    drain = _WordDrain(
        depth=config.depth,
        sim_th=config.sim_th,
        max_children=config.max_children,
        max_clusters=config.max_clusters,
        param_str=WILDCARD,
        parametrize_numeric_tokens=True,
    )
    # messages that fit a stored template keep it; seeds never merge with each other in Drain
    by_len: dict[int, list[tuple[int, str, tuple[str, ...]]]] = {}
    for seed in seeds:
        toks = tokenize(seed)[0]
        by_len.setdefault(len(toks), []).append((toks.count(WILDCARD), seed, toks))
    for v in by_len.values():
        v.sort()
    template_of: dict[str, str] = {seed: canonical(seed) for seed in seeds}
    weights = list(counts) if counts is not None else [1] * len(masked)
    members: dict[int, list[_Member]] = {}
    for text, weight in zip(masked, weights, strict=True):
        tokens, gaps = tokenize(text)
        known = next((s for _, s, st in by_len.get(len(tokens), ()) if fits(st, tokens)), None)
        if known is not None:
            template_of[text] = template_of[known]
            continue
        cluster, _ = drain.add_log_message(" ".join(tokens))
        members.setdefault(cluster.cluster_id, []).append(_Member(tokens, gaps, weight, text))
    for cid in sorted(members):
        for group in (g for part in _by_shape(members[cid]) for g in _split(part, config)):
            template = detokenize(_common(group), group[0].gaps)
            for m in group:
                template_of[m.text] = template
    if config.merge:
        final = merge_templates(sorted(set(template_of.values())), config)
    else:
        final = {t: t for t in template_of.values()}
    canon = {t: canonical(final[t]) for t in set(template_of.values())}  # few templates, many texts
    return {text: canon[t] for text, t in template_of.items()}


def fits(template_tokens: Sequence[str], tokens: Sequence[str]) -> bool:
    """True when equal-length tokens match the template (``<*>`` matches any one token)."""
    return all(a == b or a == WILDCARD for a, b in zip(template_tokens, tokens, strict=True))


class _Member(NamedTuple):
    tokens: tuple[str, ...]
    gaps: tuple[bool, ...]
    weight: int
    text: str


def _common(group: list[_Member]) -> tuple[str, ...]:
    first = group[0].tokens
    return tuple(t if all(m.tokens[i] == t for m in group) else WILDCARD for i, t in enumerate(first))


def _by_shape(group: list[_Member]) -> list[list[_Member]]:
    """A cluster whose members share no word is split by shape (words kept, tokens with digits as
    wildcards): Drain puts lines that start with an address or a number under one wildcard branch."""
    if len(group) < 2 or any(t != WILDCARD for t in _common(group)):
        return [group]
    shapes: dict[tuple[str, ...], list[_Member]] = {}
    for m in group:
        shapes.setdefault(tuple(WILDCARD if any(c.isdigit() for c in t) else t for t in m.tokens), []).append(m)
    return [shapes[k] for k in sorted(shapes)] if len(shapes) > 1 else [group]


def _split(group: list[_Member], config) -> list[list[_Member]]:
    """Split a cluster at a position whose few distinct values are plain words seen repeatedly."""
    if len(group) < 2 or config.split_max_values < 2:
        return [group]
    for i in range(len(group[0].tokens)):
        support: dict[str, int] = {}
        for m in group:
            support[m.tokens[i]] = support.get(m.tokens[i], 0) + max(m.weight, 1)
        if len(support) < 2 or len(support) > config.split_max_values:
            continue
        if sum(support.values()) < config.split_min_support * len(support):
            continue
        if not all(map(_PLAIN.fullmatch, support)):
            continue
        if all(v.lower() in _VALUES for v in support) or _after_assignment(group[0].tokens, i):
            continue
        parts: dict[str, list[_Member]] = {}
        for m in group:
            parts.setdefault(m.tokens[i], []).append(m)
        return [g for key in sorted(parts) for g in _split(parts[key], config)]
    return [group]


def _after_assignment(tokens: tuple[str, ...], i: int) -> bool:
    """True when token i is the value of a key=value pair (optionally quoted)."""
    j = i - 1 if i and tokens[i - 1] not in ('"', "'") else i - 2
    return j >= 0 and tokens[j] == "="


_PLAIN = re.compile(r"[A-Za-z][A-Za-z_-]*\d{0,2}[.!?]*")
_VALUES = frozenset({"true", "false", "null", "none", "nil", "undefined"})
