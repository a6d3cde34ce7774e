"""The learned templates of one service and the lookups of pass 2 (a Beam side input).

Example::

    >>> import pyarrow as pa
    >>> from aiops.templating import Observation, learn, mask_array
    >>> model = learn("app", [Observation("took <*> ms", 2, 0, 1, "took 3 ms")])
    >>> model.assign_array(mask_array(pa.array(["took 5 ms"]))).to_pylist()
    [0]
    >>> model.extract_params(0, pa.array(["took 5 ms"])).to_pylist()
    [['5']]
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from aiops.templating.learner import TemplateInfo, template_id
from aiops.templating.masking import mask
from aiops.templating.params import extract_array, extract_one
from aiops.templating.tokenize import WILDCARD, canonical, tokenize


class ServiceModel:
    """Templates of one service plus a dict masked message -> template index.

    Templates appended by the fallback of :meth:`index_of` (``index >= learned``) exist only in
    this process: resolve indexes to template ids right away, never ship indexes between workers.
    """

    def __init__(self, service: str, templates: list[TemplateInfo], index: dict[str, int],
                 sources: dict[int, list[str]] | None = None):
        self.service = service
        self.templates = list(templates)
        self.index = dict(index)
        self.sources = dict(sources or {})
        self.learned = len(self.templates)
        self._cache: dict = {}

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_cache"] = {}
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    # -- lookup -------------------------------------------------------------------------------
    def index_of(self, masked: str) -> int:
        """Template index of a masked message; unseen ones are matched, else appended."""
        idx = self.index.get(masked)
        if idx is None:
            idx = self._match_template(masked)
            if idx is None:
                text = canonical(masked)
                idx = next((i for i, t in enumerate(self.templates) if t.template == text), None)
                if idx is None:
                    idx = len(self.templates)
                    self.templates.append(TemplateInfo(template_id(text), text, 0, 0, 0, masked))
                    self._cache.pop("by_len", None)
            self.index[masked] = idx
            self._cache.pop("keys", None)
        return idx

    def _match_template(self, masked: str) -> int | None:
        by_len = self._cache.get("by_len")
        if by_len is None:
            by_len = {}
            for i, t in enumerate(self.templates):
                toks = tokenize(t.template)[0]
                by_len.setdefault(len(toks), []).append((toks.count(WILDCARD), t.template, i, toks))
            for v in by_len.values():
                v.sort()
            self._cache["by_len"] = by_len
        toks = tokenize(masked)[0]
        for _, _, i, ttoks in by_len.get(len(toks), ()):  # fewest wildcards first
            if all(a == b or a == WILDCARD for a, b in zip(ttoks, toks, strict=True)):
                return i
        # a wildcard may span several tokens: try regexes, most specific first
        for _, _, i, ttoks in sorted(x for v in by_len.values() for x in v):
            if WILDCARD in ttoks and self._regex(i).match(masked):
                return i
        return None

    def _regex(self, i: int) -> re.Pattern[str]:
        from aiops.templating.params import template_regex

        key = ("rx", i)
        rx = self._cache.get(key)
        if rx is None:
            rx = self._cache[key] = re.compile(template_regex(self.templates[i].template)[0], re.DOTALL)
        return rx

    def assign_array(self, masked: pa.Array | pa.ChunkedArray) -> pa.Array:
        """int32 template index per masked message (vectorised; unknown values via :meth:`index_of`)."""
        if isinstance(masked, pa.ChunkedArray):
            masked = masked.combine_chunks() if masked.num_chunks else pa.array([], pa.string())
        keys = self._cache.get("keys")
        if keys is None:
            names = list(self.index)
            keys = (pa.array(names, pa.string()), pa.array([self.index[n] for n in names], pa.int32()))
            self._cache["keys"] = keys
        pos = pc.index_in(masked.cast(pa.string()), value_set=keys[0])
        out = pc.take(keys[1], pos)
        if out.null_count:
            missing = pc.unique(pc.filter(masked, pc.is_null(pos))).to_pylist()
            extra = {m: self.index_of(m if m is not None else "") for m in missing}
            filled = np.array([extra.get(m, -1) for m in masked.to_pylist()], np.int32)
            out = pc.coalesce(out, pa.array(filled))
        return out.cast(pa.int32())

    def extract_params(self, index: int, messages: pa.Array | pa.ChunkedArray) -> pa.Array:
        """list<string> parameters of raw messages for template ``index`` ([] when they do not fit)."""
        return extract_array(self.templates[index].template, messages)

    def match(self, message: str) -> tuple[str, str, list[str]]:
        """(template_id, template, params) for one raw message."""
        t = self.templates[self.index_of(mask(message))]
        return t.template_id, t.template, extract_one(t.template, message)
