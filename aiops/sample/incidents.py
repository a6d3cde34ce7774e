"""The incident schedule of ``aiops sample``: what is injected, where, and how it changes the traffic.

Every incident has the detector ``kind`` that should see it (one of
``aiops.schema.ANOMALY_KINDS``), a descriptive ``scenario`` and the ``service`` as the batch job
names it (``auth/`` holds syslog lines whose app-name, ``sshd`` or ``CRON``, is their service;
``directory`` then gives the directory). The default day (positions are
fractions of the generated range; 24 h shown) holds, never two at once in one service:

======================  ============  =========  =====  ===  ==========================================
scenario                kind          service    start  min  what the logs show
======================  ============  =========  =====  ===  ==========================================
brute_force             frequency     sshd       02:10  18   x40 failed ssh passwords from one address
throughput_drop         frequency     worker     04:19  30   3 of 4 workers OOM-killed: lines at ~28%,
                                                             jobs ~16%, polling goes on, backlog grows
service_silent          silence       worker     09:14  20   no line at all (process hung)
rate_limited_responses  content       payments   10:19  20   ``status=200 outcome=rate_limited`` on ~75%
                                                             of acquirer responses (value never seen)
new_error               new_template  inventory  11:17  72   WarehouseSync aborts with a new exception
error_spike             frequency     web        14:10  15   5xx burst on /api and /api/checkout
error_spike             frequency     checkout   14:10  15   UpstreamError/timeouts end ~45% of orders
order_flow_broken       sequence      checkout   15:43  25   on 2 of 3 pods ~65% of orders skip
                                                             "Payment authorized" (~40% of all orders)
latency_degradation     content       payments   17:02  30   latency_ms x20
scheduled_job_stop      silence       inventory  19:12  40   the periodic "Cache refresh took" line
                                                             stops; requests are served as usual
======================  ============  =========  =====  ===  ==========================================

Routine events (not incidents, listed under ``routine`` in ``ground_truth.json``): the nightly
report export at 01:00 UTC lifts worker traffic by half for 20 minutes, every day.

Durations are capped at 5% of the range (72 min for a day), so short test ranges keep every
incident inside them.

Example::

    >>> from aiops.sample.incidents import plan_incidents
    >>> [i.kind for i in plan_incidents(0, 1440, ["auth", "worker"])]
    ['frequency', 'frequency', 'silence']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from aiops.sample.common import DAY_MS, HOUR_MS, MINUTE_MS, Incident


class Planned(NamedTuple):
    kind: str
    scenario: str
    service: str
    frac: float  # position as a fraction of the range
    minutes: int  # nominal duration
    rate: float  # multiplier of the service's line rate while it lasts
    description: str
    details: dict[str, object]
    logged_as: str = ""  # service name in the lines themselves, when not the directory


SCHEDULE: tuple[Planned, ...] = (
    Planned(
        "frequency", "brute_force", "auth", 0.09, 18, 40.0,
        "ssh brute force: burst of failed password attempts from one address",
        {"source_ip": "185.220.101.47", "direction": "up"}, "sshd",
    ),
    Planned(
        "frequency", "throughput_drop", "worker", 0.18, 30, 0.28,
        "3 of 4 worker processes OOM-killed: worker lines fall to ~28% (job lines to ~16%), queue "
        "polling goes on with a growing backlog, heartbeats only from worker-1",
        {"direction": "down", "factor": 0.28, "template_hint": "Job <*> (<*>) started, queue=<*> attempt=<*>"},
    ),
    Planned(
        "silence", "service_silent", "worker", 0.385, 20, 0.0,
        "worker writes no logs at all (process hung)", {},
    ),
    Planned(
        "content", "rate_limited_responses", "payments", 0.43, 20, 1.0,
        "acquirer gateway throttles: ~75% of authorization responses are status=200 with "
        "outcome=rate_limited, a value never seen before",
        {"field": "outcome", "value": "rate_limited", "template_hint": "Authorization response for order <*>"},
    ),
    Planned(
        "new_template", "new_error", "inventory", 0.47, 90, 1.0,
        "new error: WarehouseSync aborts with PayloadFormatException (never seen before)",
        {"template_hint": "Warehouse sync aborted for <*>"},
    ),
    Planned(
        "frequency", "error_spike", "web", 0.59, 15, 1.4,
        "5xx burst on /api and /api/checkout (upstream payments errors)", {"direction": "up"},
    ),
    Planned(
        "frequency", "error_spike", "checkout", 0.59, 15, 1.5,
        "checkout ERRORs: UpstreamError from payments and timeouts calling inventory end ~45% of orders",
        {"direction": "up"},
    ),
    Planned(
        "sequence", "order_flow_broken", "checkout", 0.655, 25, 1.0,
        "checkout v2.14.0 on checkout-2/3 skips payment authorization: ~40% of orders go from "
        "cart validation to 'Order placed' without 'Payment authorized'",
        {"session_key": "trace_id", "missing_step": "Payment authorized for order <*> via <*>"},
    ),
    Planned(
        "content", "latency_degradation", "payments", 0.71, 30, 1.0,
        "payments latency_ms x20 (slow acquirer)", {"field": "latency_ms", "factor": 20},
    ),
    Planned(
        "silence", "scheduled_job_stop", "inventory", 0.80, 40, 1.0,
        "stock cache refresh thread blocked: the periodic 'Cache refresh took <*> ms' line stops "
        "while requests are served as usual",
        {"template_hint": "Cache refresh took <*> ms (<*> entries)"},
    ),
)  # fmt: skip

# Routine, every day at a fixed UTC time: (scenario, service, hour, minutes, rate, description).
ROUTINE = (
    ("nightly_report_export", "worker", 1.0, 20, 1.5, "nightly export_report jobs (normal, every day)"),
)


def plan_incidents(start_ms: int, minutes: int, names: Sequence[str]) -> list[Incident]:
    """Incident windows, minute-aligned, scaled to the range (never longer than 5% of it)."""
    out = []
    for p in SCHEDULE:
        if p.service not in names:
            continue
        dur = max(1, min(p.minutes, int(minutes * 0.05)))
        at = min(int(round(p.frac * minutes)), max(0, minutes - dur))
        out.append(
            Incident(
                p.kind, p.scenario, p.service, start_ms + at * MINUTE_MS, start_ms + (at + dur) * MINUTE_MS,
                p.description, dict(p.details), p.logged_as,
            )
        )  # fmt: skip
    return out


def plan_routine(start_ms: int, end_ms: int, names: Sequence[str]) -> list[Incident]:
    """The routine events of every day in ``[start_ms, end_ms)`` (kind ``routine``)."""
    out = []
    for scenario, svc, hour, dur, _, desc in ROUTINE:
        if svc not in names:
            continue
        day = start_ms - start_ms % DAY_MS
        while day < end_ms:
            a = day + int(hour * HOUR_MS)
            b = a + dur * MINUTE_MS
            if a >= start_ms and b <= end_ms:
                out.append(Incident("routine", scenario, svc, a, b, desc))
            day += DAY_MS
    return out


def rate_factors(svc: str, grid: np.ndarray, events: Sequence[Incident]) -> np.ndarray:
    """Per-minute multiplier of ``svc``'s line rate from its incidents and routine events."""
    factor = {(p.scenario, p.service): p.rate for p in SCHEDULE}
    factor.update({(r[0], r[1]): r[4] for r in ROUTINE})
    out = np.ones(len(grid))
    for ev in events:
        if ev.service == svc:
            out[ev.mask(grid)] *= factor[(ev.scenario, svc)]
    return out
