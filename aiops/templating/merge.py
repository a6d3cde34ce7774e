"""Post-clustering merge of templates that differ only in variable positions.

Example::

    >>> from aiops.templating.merge import merge_templates
    >>> merge_templates(["a <*> c", "a b c"])["a b c"]
    'a <*> c'
"""

from __future__ import annotations

from collections.abc import Sequence

from aiops.templating.tokenize import WILDCARD, detokenize, tokenize


def _compatible(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """b fits a position by position, and merging keeps at least half of b's literal words.

    Without the second rule a template of wildcards only (Drain makes one from lines that
    start with an address) swallows every template of its length.
    """
    if not all(x == y or x == WILDCARD or y == WILDCARD for x, y in zip(a, b, strict=True)):
        return False
    literals = sum(1 for y in b if y != WILDCARD)
    kept = sum(1 for x, y in zip(a, b, strict=True) if x == y and y != WILDCARD)
    return 2 * kept >= literals


def merge_templates(templates: Sequence[str], config=None) -> dict[str, str]:
    """Map each template to the merged template it belongs to (itself when not merged)."""
    groups: dict[int, list[tuple[tuple[str, ...], tuple[bool, ...], str]]] = {}
    for t in sorted(set(templates)):
        toks, gaps = tokenize(t)
        groups.setdefault(len(toks), []).append((toks, gaps, t))
    out: dict[str, str] = {}
    for items in groups.values():
        # most general first, so specific templates fold into them
        items.sort(key=lambda x: (-x[0].count(WILDCARD), x[2]))
        merged: list[list] = []  # [tokens, gaps, [originals]]
        for toks, gaps, t in items:
            for m in merged:
                if _compatible(m[0], toks):
                    m[0] = tuple(x if x == y else WILDCARD for x, y in zip(m[0], toks, strict=True))
                    m[2].append(t)
                    break
            else:
                merged.append([toks, gaps, [t]])
        for toks, gaps, originals in merged:
            text = detokenize(toks, gaps)
            for t in originals:
                out[t] = text
    return out
