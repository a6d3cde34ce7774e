"""Every default of the window scorers in one typed config (the README's tuning table).

A finding is written when its ``score`` reaches its ``threshold``; each threshold
and guard below is a field, and ``aiops batch --anomaly KEY=VALUE`` overrides it.

Example::

    >>> from aiops.anomaly.config import AnomalyConfig
    >>> AnomalyConfig().with_overrides(["frequency_z=8"]).frequency_z
    8.0
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class AnomalyConfig:
    """Thresholds and baseline settings shared by the batch and the streaming scorers."""

    # Baselines
    recent_windows: int = 12  # the "recent" baseline: this many windows before the scored one
    min_baseline_windows: int = 6  # fewer windows of history than this: warm-up, no frequency/silence flag
    history_days: int = 7  # earlier runs' template_windows read back as history (seasonal baseline)
    min_seasonal_values: int = 6  # same time of day (+-1 window) on earlier days: 6 = at least two days

    # frequency: counts of a service or a template far from expected (spikes and drops)
    frequency_z: float = 6.0  # robust z = (observed - expected) / sqrt(max(expected, spread^2) + 1)
    spike_ratio: float = 2.0  # a spike must also be at least this many times the expectation...
    spike_min_excess: float = 10.0  # ...and this many events above it
    error_spike_min_excess: float = 5.0  # the same for a service's ERROR/FATAL events (rarer, and they matter)
    drop_z: float = 3.5  # drops: the same z below -drop_z (a 3x fall of a busy series is rarely noise)
    drop_ratio: float = 3.0  # a drop must be at most expected / drop_ratio
    drop_min_expected: float = 20.0  # only series that expect at least this many events per window

    # silence: a service or a regular template that normally logs is (nearly) absent
    silence_score: float = 4.0  # missing events / sqrt(spread^2 + 0.25), summed over consecutive quiet windows
    silence_fraction: float = 0.1  # observed at most this share of expected
    silence_min_expected: float = 1.0  # events per window the series normally has
    regular_presence: float = 0.9  # a template is regular if present in this share of its last 3x recent_windows

    # new_template: first seen (per the template store) in this window, after a warm-up, when the
    # service's template vocabulary has settled (Good-Turing chance of any new template in the window)
    new_template_warmup_windows: int = 12  # the service must have logged this long before
    new_template_min_count: int = 1  # events of the new template in the window
    new_template_chance: float = 0.05  # flag when a new template in this window had at most this chance
    new_template_max_rate: float = 0.002  # and new templates came at most once per 500 events so far

    # content: numeric fields (geometric mean) and categorical values per template
    content_z: float = 6.0  # |log shift| / max(spread, content_min_spread)
    content_min_spread: float = 0.25  # floor of the spread of window log-means (about 28%)
    content_min_ratio: float = 2.0  # and the geometric mean moved at least this factor
    content_min_values: int = 5  # values in the window needed to judge it
    content_baseline_windows: int = 36  # windows of history used for the numeric baseline
    category_share: float = 0.5  # a value holding this share of a template's events in a window...
    category_max_history_share: float = 0.05  # ...that held at most this share before...
    category_min_events: int = 8  # ...among at least this many events in the window...
    category_min_history: int = 100  # ...and this many before
    top_values: int = 8  # categorical values kept per template, field and window

    # sessions: a session whose first or last event is this close to the run's first or last one may be
    # cut by the input's ends; the sequence model then judges only what a cut cannot explain
    session_open_margin_s: float = 10.0

    # sequence windows: anomalous sessions per window beyond their usual rate
    sequence_z: float = 3.0
    sequence_min_sessions: int = 3

    def with_overrides(self, pairs: list[str]) -> AnomalyConfig:
        """A copy with ``KEY=VALUE`` overrides; unknown keys or bad values raise ValueError."""
        fields = {f.name: f for f in dataclasses.fields(self)}
        changes: dict[str, object] = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            key = key.strip().replace("-", "_")
            if not sep or key not in fields:
                raise ValueError(f"unknown anomaly setting {pair!r}; known: {', '.join(sorted(fields))}")
            kind = int if isinstance(getattr(self, key), int) else float
            try:
                changes[key] = kind(value)
            except ValueError as exc:
                raise ValueError(f"bad value for {key}: {value!r}") from exc
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]
