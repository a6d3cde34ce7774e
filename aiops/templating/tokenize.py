"""Split masked messages into tokens for clustering, and rebuild template text from tokens.

Tokens are whitespace-separated words further split at punctuation delimiters (``= , ; : ( ) [ ] { }``
and quotes); delimiters are kept as tokens of their own so templates keep them.  Each token
remembers whether whitespace preceded it, so the template text can be rebuilt faithfully.

Example::

    >>> from aiops.templating.tokenize import tokenize, detokenize
    >>> toks, gaps = tokenize("user=<*>, uid=<*>")
    >>> toks
    ('user', '=', '<*>', ',', 'uid', '=', '<*>')
    >>> detokenize(toks, gaps)
    'user=<*>, uid=<*>'
"""

from __future__ import annotations

import re

WILDCARD = "<*>"
_DELIMS = "=,;:()\\[\\]{}\"'|"
# A word is a run of non-space, non-delimiter characters that does not contain "<*>"; the
# lookahead is only tried at "<", which keeps tokenising fast on long messages.
_TOKEN = re.compile(rf"(\s*)(<\*>|[{_DELIMS}]|(?:[^\s{_DELIMS}<]|<(?!\*>))+)")
DELIM_SET = frozenset("=,;:()[]{}\"'|")
_RUNS = re.compile(r"(?:<\*>){2,}")
_SPACES = re.compile(r"\s+")


def tokenize(masked: str) -> tuple[tuple[str, ...], tuple[bool, ...]]:
    """Return (tokens, gaps): gaps[i] is True when whitespace precedes token i."""
    pairs = _TOKEN.findall(masked)
    if not pairs:
        return (), ()
    spaces, tokens = zip(*pairs, strict=True)  # pairs are (space, token) 2-tuples
    return tokens, tuple(map(bool, spaces))


def detokenize(tokens: tuple[str, ...] | list[str], gaps: tuple[bool, ...] | list[bool]) -> str:
    """Rebuild text from tokens (single spaces where whitespace was), canonical ``<*>`` runs."""
    parts: list[str] = []
    for i, (tok, gap) in enumerate(zip(tokens, gaps, strict=True)):
        if gap and i:
            parts.append(" ")
        parts.append(tok)
    return canonical("".join(parts))


def is_word(token: str) -> bool:
    """True for tokens that are not a single delimiter character."""
    return token not in DELIM_SET  # the set holds one-character strings only


def canonical(template: str) -> str:
    """Canonical template text: whitespace runs -> one space, stripped, ``<*><*>`` -> ``<*>``."""
    return _RUNS.sub(WILDCARD, _SPACES.sub(" ", template).strip())
