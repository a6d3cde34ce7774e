"""Score one closed window of one service against a bounded history kept in streaming state.

The streaming job runs the batch scorers (:func:`aiops.anomaly.windows.score_service`) on a grid
of the service's last windows: :class:`ServiceHistory` keeps the ``template_windows`` rows of at
most ``keep`` windows (36 by default: the longest baseline the scorers read, see
``AnomalyConfig.content_baseline_windows``) and the first-seen time of at most ``max_templates``
templates (the least recently seen are forgotten first), so the state of a service is bounded
by ``keep`` x (its templates active per window) rows. The seasonal baseline needs days of
history and is therefore a batch-only feature.

Example::

    >>> from aiops.anomaly.config import AnomalyConfig
    >>> from aiops.anomaly.partials import TemplateWindowAcc
    >>> h = ServiceHistory(keep=36)
    >>> for k in range(12):
    ...     _ = h.score("web", k * 60, {"t": TemplateWindowAcc(events=100)}, 60, AnomalyConfig(), "s")
    >>> [r.kind for r in h.score("web", 12 * 60, {"t": TemplateWindowAcc(events=900)}, 60, AnomalyConfig(), "s")]
    ['frequency', 'frequency']
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiops.anomaly.config import AnomalyConfig
from aiops.anomaly.grid import assemble
from aiops.anomaly.partials import TemplateWindowAcc, to_rows
from aiops.anomaly.windows import score_service
from aiops.schema import AnomalyRow, TemplateWindowRow

DEFAULT_KEEP_WINDOWS = max(AnomalyConfig().content_baseline_windows, 3 * AnomalyConfig().recent_windows)
DEFAULT_MAX_TEMPLATES = 20_000


@dataclass
class ServiceHistory:
    keep: int = DEFAULT_KEEP_WINDOWS
    max_templates: int = DEFAULT_MAX_TEMPLATES
    rows: dict[int, list[TemplateWindowRow]] = field(default_factory=dict)  # window start -> its rows
    first_seen: dict[str, int] = field(default_factory=dict)  # template id -> first seen (µs)
    texts: dict[str, str] = field(default_factory=dict)  # template id -> template
    last_seen: dict[str, int] = field(default_factory=dict)  # template id -> last window start with events

    def learn_templates(self, first_seen: dict[str, int], texts: dict[str, str]) -> None:
        """Remember first-seen times and texts (an earlier time wins; 0 means unknown)."""
        for tid, t in first_seen.items():
            old = self.first_seen.get(tid)
            if old is None or (t and (not old or t < old)):
                self.first_seen[tid] = t
        self.texts.update(texts)

    def score(self, service: str, start: int, per_template: dict[str, TemplateWindowAcc], window_us: int,
              config: AnomalyConfig, run_id: str) -> list[AnomalyRow]:
        """Findings of window ``start`` (a re-fired window replaces its rows in the history)."""
        for tid in per_template:
            self.last_seen[tid] = max(self.last_seen.get(tid, start), start)
        before = [r for s in sorted(self.rows) if s < start for r in self.rows[s]]
        known = {tid: t for tid, t in self.first_seen.items() if tid in per_template or tid in self.last_seen}
        grid = assemble(service, {start: per_template}, before, known, self.texts, (start, start), window_us)
        found = [r for r in score_service(grid, config, run_id) if r.window_start == start]
        self.rows[start] = to_rows(service, start, window_us, per_template, run_id, config.top_values)
        self._trim()
        return found

    def _trim(self) -> None:
        for s in sorted(self.rows)[: max(0, len(self.rows) - self.keep)]:
            del self.rows[s]
        if len(self.last_seen) > self.max_templates:
            oldest = sorted(self.last_seen, key=lambda t: self.last_seen[t])[: len(self.last_seen) - self.max_templates]
            for tid in oldest:
                for d in (self.last_seen, self.first_seen, self.texts):
                    d.pop(tid, None)
