"""Learn per-service log templates from masked messages, and look them up.

Pass 1 of the batch job aggregates, per service, the distinct masked messages
(:class:`Observation`); :func:`learn` clusters them with Drain (after our own tokenisation) seeded
with the stored templates, merges clusters that differ only in variable positions, and returns a
small picklable :class:`ServiceModel`.  Pass 2 looks every masked message up
(:meth:`ServiceModel.assign_array`) and extracts parameters (:meth:`ServiceModel.extract_params`).
Template ids are a stable hash of the template text.  The result does not depend on the order of
the observations (they are sorted first).

Example::

    >>> from aiops.templating import Observation, learn, mask
    >>> msgs = ["Invalid user admin from 1.2.3.4", "Invalid user test from 5.6.7.8"]
    >>> obs = [Observation(mask(m), 1, 0, 0, m) for m in msgs]
    >>> model = learn("sshd", obs)
    >>> model.match("Invalid user oracle from 9.9.9.9")[1:]
    ('Invalid user <*> from <*>', ['oracle', '9.9.9.9'])
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from aiops.templating.tokenize import canonical


@dataclass(frozen=True)
class TemplateConfig:
    """The one general configuration of template learning (no per-system settings)."""

    sim_th: float = 0.5
    depth: int = 4
    max_children: int = 100
    max_clusters: int | None = None
    merge: bool = True
    split_max_values: int = 4  # split a drain cluster on a position with at most this many plain words
    split_min_support: float = 2.0  # ... seen on average at least this many times each
    # Drain learns from at most this many distinct masked messages (the most frequent first, ties
    # in a hash order that mixes shapes); the rest are matched to what was learned, and only those
    # that fit no template are clustered in a second round. Bounds the serial learning time when
    # identifiers no mask catches make most messages distinct. None: learn from all.
    max_learned: int | None = 10_000


class Observation(NamedTuple):
    masked: str
    count: int  # type: ignore[assignment]
    first_seen: int  # µs since epoch, UTC
    last_seen: int
    example: str


class StoredTemplate(NamedTuple):
    service: str
    template_id: str
    template: str
    first_seen: int
    last_seen: int
    counts: dict[str, int]  # batch key -> events
    example: str


class TemplateInfo(NamedTuple):
    template_id: str
    template: str
    first_seen: int
    last_seen: int
    count: int  # type: ignore[assignment]  # events in this run
    example: str


def template_id(template: str) -> str:
    """Stable 16-hex-char id of the canonical template text."""
    return hashlib.blake2b(canonical(template).encode("utf-8"), digest_size=8).hexdigest()


def learn(
    service: str,
    observations: Iterable[Observation],
    stored: Sequence[StoredTemplate] = (),
    config: TemplateConfig = TemplateConfig(),
):
    """Learn the templates of one service; see the module docstring."""
    from aiops.templating.cluster import cluster_templates
    from aiops.templating.model import ServiceModel

    merged: dict[str, list] = {}
    for o in observations:
        cur = merged.get(o.masked)
        if cur is None:
            merged[o.masked] = [o.count, o.first_seen, o.last_seen, o.example]
        else:
            cur[0] += o.count
            if o.first_seen < cur[1] or (o.first_seen == cur[1] and o.example < cur[3]):
                cur[1], cur[3] = o.first_seen, o.example
            cur[2] = max(cur[2], o.last_seen)
    obs = sorted((Observation(k, *v) for k, v in merged.items()), key=lambda o: (-o.count, o.masked))
    seeds = sorted({canonical(s.template): s for s in stored if s.service == service}.values(),
                   key=lambda s: s.template)
    head, tail = _head_and_tail(obs, config.max_learned)
    # assignment: masked text / seed template -> final template text
    assignment = cluster_templates([s.template for s in seeds], [o.masked for o in head], config,
                                   [o.count for o in head])
    if tail:
        # Round two: the learned templates are seeds, so the tail mostly just fits them.
        second = cluster_templates(sorted(set(assignment.values())), [o.masked for o in tail], config,
                                   [o.count for o in tail])
        assignment = {k: second.get(v, v) for k, v in assignment.items()}
        assignment.update((o.masked, second[o.masked]) for o in tail)

    infos: dict[str, list] = {}
    sources: dict[str, list[str]] = {}
    for s in seeds:
        t = assignment[s.template]
        info = infos.setdefault(t, [None, None, 0, None])
        info[0] = s.first_seen if info[0] is None else min(info[0], s.first_seen)
        info[1] = s.last_seen if info[1] is None else max(info[1], s.last_seen)
        info[3] = info[3] or s.example
        sources.setdefault(t, []).append(s.template_id)
    run_first: dict[str, int] = {}
    for o in obs:
        t = assignment[o.masked]
        info = infos.setdefault(t, [None, None, 0, None])
        info[1] = o.last_seen if info[1] is None else max(info[1], o.last_seen)
        info[2] += o.count
        if t not in run_first or o.first_seen < run_first[t]:
            run_first[t] = o.first_seen
            info[3] = o.example
    templates = []
    for t in sorted(infos):
        first, last, count, example = infos[t]
        if t in run_first:
            first = run_first[t] if first is None else min(first, run_first[t])
        templates.append(TemplateInfo(template_id(t), t, first, last, count, example))
    position = {t.template: i for i, t in enumerate(templates)}
    index = {o.masked: position[assignment[o.masked]] for o in obs}
    src = {position[t]: ids for t, ids in sources.items()}
    return ServiceModel(service, templates, index, src)


def _head_and_tail(obs: list[Observation], cap: int | None) -> tuple[list[Observation], list[Observation]]:
    """Split sorted observations into the ones Drain learns from and the rest (both keep order)."""
    if not cap or len(obs) <= cap:
        return obs, []
    ranked = sorted(obs, key=lambda o: (-o.count, hashlib.blake2b(o.masked.encode(), digest_size=8).digest()))
    head_keys = {o.masked for o in ranked[:cap]}
    return [o for o in obs if o.masked in head_keys], [o for o in obs if o.masked not in head_keys]


def update_store(stored: Sequence[StoredTemplate], models: Sequence, batch_key: str) -> list[StoredTemplate]:
    """New store content: the models' templates (counts merged) + stored templates of other services."""
    by_id = {(s.service, s.template_id): s for s in stored}
    services = {m.service for m in models}
    out = [s for s in stored if s.service not in services]
    for m in models:
        for i, t in enumerate(m.templates[: m.learned]):
            counts: dict[str, int] = {}
            first, last = t.first_seen, t.last_seen
            for sid in m.sources.get(i, ()):
                s = by_id.get((m.service, sid))
                if s is None:
                    continue
                for k, v in s.counts.items():
                    if k != batch_key:
                        counts[k] = counts.get(k, 0) + v
                first, last = min(first, s.first_seen), max(last, s.last_seen)
            if t.count:
                counts[batch_key] = t.count
            out.append(StoredTemplate(m.service, t.template_id, t.template, first, last, counts, t.example))
    return sorted(out, key=lambda s: (s.service, s.template))
