"""Log-parsing accuracy metrics: GA, PA, FGA and FTA.

* GA, grouping accuracy (Zhu et al., ICSE-SEIP 2019): share of lines whose predicted group holds
  exactly the same lines as their ground-truth group.
* PA, parsing accuracy: share of lines whose predicted template equals the ground-truth template
  after :func:`normalize_template`.
* FGA, F1 of grouping accuracy, and FTA, F1 of template accuracy (Jiang et al., Loghub-2.0,
  ISSTA 2024): a predicted group is correct when its line set equals a ground-truth group's; for
  FTA its template must also equal that group's template.  Precision is over predicted groups,
  recall over ground-truth groups.

Example::

    >>> from aiops.eval.metrics import evaluate
    >>> truth = ["a <*>", "a <*>", "b"]
    >>> pred = ["a <*>", "a <*>", "b <*>"]
    >>> m = evaluate(truth, pred)
    >>> (m.ga, round(m.pa, 3), m.fga, m.fta)
    (1.0, 0.667, 1.0, 0.5)
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Hashable, Sequence
from typing import NamedTuple

_PLACEHOLDER = re.compile(r"<\*>|<[A-Z][A-Z0-9_]*>")
_RUNS = re.compile(r"(?:<\*>)+")
_SPACES = re.compile(r"\s+")


class Scores(NamedTuple):
    ga: float
    pa: float
    fga: float
    fta: float
    lines: int
    truth_groups: int
    predicted_groups: int


def normalize_template(template: str) -> str:
    """Every placeholder (``<*>``, ``<NUM>``-style) -> ``<*>``, adjacent ones merged, whitespace single."""
    text = _PLACEHOLDER.sub("<*>", template)
    text = _RUNS.sub("<*>", text)
    return _SPACES.sub(" ", text).strip()


def _groups(labels: Sequence[Hashable]) -> dict[Hashable, frozenset[int]]:
    out: dict[Hashable, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        out[label].append(i)
    return {k: frozenset(v) for k, v in out.items()}


def _f1(correct: int, predicted: int, truth: int) -> float:
    if not correct:
        return 0.0
    p, r = correct / predicted, correct / truth
    return 2 * p * r / (p + r)


def grouping_accuracy(truth: Sequence[Hashable], predicted: Sequence[Hashable]) -> float:
    """GA: lines in a predicted group whose line set equals their true group's line set."""
    return evaluate([str(t) for t in truth], [str(p) for p in predicted]).ga


def parsing_accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """PA: lines whose normalised predicted template equals the normalised true template."""
    if not truth:
        return 0.0
    ok = sum(normalize_template(t) == normalize_template(p) for t, p in zip(truth, predicted, strict=True))
    return ok / len(truth)


def evaluate(
    truth: Sequence[str], predicted: Sequence[str], predicted_groups: Sequence[Hashable] | None = None
) -> Scores:
    """All four scores for per-line true and predicted templates.

    Lines are grouped by their template text, or by ``predicted_groups`` (e.g. template ids) when given.
    """
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} true templates but {len(predicted)} predicted")
    n = len(truth)
    if n == 0:
        return Scores(0.0, 0.0, 0.0, 0.0, 0, 0, 0)
    true_groups = _groups(truth)
    pred_groups = _groups(predicted if predicted_groups is None else predicted_groups)
    true_sets = {lines: label for label, lines in true_groups.items()}
    ga_lines = 0
    fga_ok = fta_ok = 0
    for lines in pred_groups.values():
        label = true_sets.get(lines)
        if label is None:
            continue
        ga_lines += len(lines)
        fga_ok += 1
        some = next(iter(lines))
        if normalize_template(str(label)) == normalize_template(predicted[some]):
            fta_ok += 1
    pa = sum(normalize_template(t) == normalize_template(p) for t, p in zip(truth, predicted, strict=True)) / n
    return Scores(
        ga=ga_lines / n,
        pa=pa,
        fga=_f1(fga_ok, len(pred_groups), len(true_groups)),
        fta=_f1(fta_ok, len(pred_groups), len(true_groups)),
        lines=n,
        truth_groups=len(true_groups),
        predicted_groups=len(pred_groups),
    )
