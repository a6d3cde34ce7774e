"""Event-time window bookkeeping of one service: which windows are open, due, late or closed.

Pure logic (no Beam): the stateful stage ``CloseWindows`` keeps one :class:`WindowBook` per
service in state and calls :meth:`WindowBook.advance` from an event-time timer, so the book
only learns the watermark through timers that fired. The policy is
:class:`aiops.windowing.StreamWindowing`:

- data for a window whose end is ahead of the watermark is *on time*;
- data for a window whose end is behind it but ``end + allowed_lateness`` is not is *late*: it
  is added and the window fires again (its rows are replaced);
- data for a window whose ``end + allowed_lateness`` is behind it is *too late*: the caller
  dead-letters it (reason ``too_late``) and counts it.

"The watermark" here is the later of what the service's timers showed and the data's arrival
time on the source's clock (see :meth:`WindowBook.admit`).

After a window with data fires, up to ``quiet_windows`` following windows without data are
fired empty (once they ended on the wall clock too), so a service that stops logging is scored
(silence) instead of forgotten.

Example::

    >>> from aiops.windowing import StreamWindowing
    >>> book = WindowBook(StreamWindowing(window_us=60, allowed_lateness_us=120), quiet_windows=1)
    >>> book.admit(0), book.admit(60)
    ('on_time', 'on_time')
    >>> book.add(0, None, {}); book.add(60, None, {})
    >>> book.advance(60)          # window 0 ended: fire it
    ([0], [])
    >>> book.fired(0).revision
    1
    >>> book.admit(0)             # late, within the allowed lateness
    'late'
    >>> book.add(0, None, {}); book.advance(180)   # fire 0 again (and 60); 0 is now closed
    ([0, 60], [0])
    >>> book.admit(0)
    'too_late'
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiops.anomaly.partials import TemplateWindowAcc
from aiops.kpi import KpiAccumulator
from aiops.windowing import StreamWindowing

ON_TIME, LATE, TOO_LATE = "on_time", "late", "too_late"
SAMPLES_PER_TEMPLATE = 3  # raw lines a window keeps per template, for the evidence of its summary
MAX_SAMPLED_TEMPLATES = 64
NEVER = -(2**62)


@dataclass
class OpenWindow:
    """What one service logged in one window so far."""

    kpi: KpiAccumulator = field(default_factory=KpiAccumulator)
    partials: dict[str, TemplateWindowAcc] = field(default_factory=dict)
    revision: int = 0  # firings so far; the rows of the latest replace the earlier ones
    dirty: bool = True  # data arrived since the last firing
    empty: bool = False  # fired only to score a quiet window
    samples: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # template -> [(level, raw line)]
    summarised: bool = False  # a summary was requested for it (once per window)


@dataclass
class WindowBook:
    policy: StreamWindowing
    quiet_windows: int = 12
    windows: dict[int, OpenWindow] = field(default_factory=dict)
    horizon: int = NEVER  # the latest watermark a timer has shown us
    last_data: int = NEVER  # start of the latest window that had data and fired
    last_fired: int = NEVER  # start of the latest window fired (with data or empty)
    quiet_paused: bool = False  # the watermark ran ahead of the clock (input ended): no quiet windows until data
    # templates seen since the last firing: id -> (first seen µs, text); the stage hands them to the history
    seen: dict[str, tuple[int, str]] = field(default_factory=dict)

    def admit(self, start: int, arrival_us: int = NEVER) -> str:
        """How data for window ``start`` that arrived at ``arrival_us`` (source clock) is treated.

        Judged against the later of the arrival and the latest watermark a timer showed: a window
        this book closed stays closed, and data that arrived after its window's expiry is too late
        even when no timer of this service has fired for a while.
        """
        now = max(self.horizon, arrival_us)
        if self.policy.expiry_of(start) <= now:
            return TOO_LATE
        return ON_TIME if self.policy.end_of(start) > now else LATE

    def add(self, start: int, kpi: KpiAccumulator | None, partials: dict[str, TemplateWindowAcc],
            samples: dict[str, tuple[str, str]] | None = None) -> None:
        """Merge admitted data into its window (open it if needed); keep a few raw lines per template."""
        w = self.windows.setdefault(start, OpenWindow())
        for tid, sample in (samples or {}).items():
            kept = w.samples.get(tid)
            if kept is None and len(w.samples) < MAX_SAMPLED_TEMPLATES:
                w.samples[tid] = [sample]
            elif kept is not None and len(kept) < SAMPLES_PER_TEMPLATE:
                kept.append(sample)
        if kpi is not None:
            w.kpi.merge(kpi)
        for tid, acc in partials.items():
            mine = w.partials.get(tid)
            if mine is None:
                w.partials[tid] = acc
            else:
                mine.merge(acc)
        w.dirty, w.empty = True, False
        self.quiet_paused = False

    def advance(self, watermark: int, now_us: int | None = None) -> tuple[list[int], list[int]]:
        """The watermark reached ``watermark``: windows to fire now and windows that closed.

        Quiet windows are opened only once they ended on the clock ``now_us`` too (when given):
        the end of a bounded input moves the watermark to +infinity, which is not silence.

        The caller fires (reads) the windows in the first list, then calls :meth:`fired` for each,
        and drops the ones in the second list with :meth:`close`.
        """
        self.horizon = max(self.horizon, watermark)
        if now_us is not None and watermark > now_us:
            self.quiet_paused = True  # a watermark ahead of the clock: waiting for quiet windows would spin
        if self.last_data != NEVER and not self.quiet_paused:
            step = self.policy.window_us
            start = max(self.last_data, self.last_fired) + step
            last_quiet = self.last_data + self.quiet_windows * step
            until = self.horizon if now_us is None else min(self.horizon, now_us)
            while start <= last_quiet and self.policy.end_of(start) <= until:
                if start not in self.windows and self.policy.expiry_of(start) > self.horizon:
                    self.windows[start] = OpenWindow(empty=True)
                start += step
        due = sorted(s for s, w in self.windows.items() if w.dirty and self.policy.end_of(s) <= self.horizon)
        closed = sorted(s for s in self.windows if self.policy.expiry_of(s) <= self.horizon)
        return due, closed

    def drain(self) -> tuple[list[int], list[int]]:
        """The input ended (watermark at +infinity): fire every window with unfired data, close all.

        No quiet windows: the end of the input is not silence.
        """
        self.quiet_paused = True
        return sorted(s for s, w in self.windows.items() if w.dirty), sorted(self.windows)

    def fired(self, start: int) -> OpenWindow:
        w = self.windows[start]
        w.revision += 1
        w.dirty = False
        self.last_fired = max(self.last_fired, start)
        if not w.empty:
            self.last_data = max(self.last_data, start)
        return w

    def close(self, start: int) -> None:
        self.windows.pop(start, None)

    def next_timer(self) -> int | None:
        """When the book next needs the watermark: the earliest due firing, expiry or quiet window."""
        times = [self.policy.end_of(s) if w.dirty else self.policy.expiry_of(s) for s, w in self.windows.items()]
        if self.last_data != NEVER and not self.quiet_paused:
            nxt = max(self.last_data, self.last_fired, max(self.windows, default=NEVER)) + self.policy.window_us
            if nxt <= self.last_data + self.quiet_windows * self.policy.window_us:
                times.append(self.policy.end_of(nxt))
        return min(times) if times else None
