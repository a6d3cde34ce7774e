"""``aiops sample``: a realistic, seeded multi-service day of logs with known incidents.

Writes one directory per service (the directory name is the service name), in six formats:

* ``web/``        nginx combined access log + ``$request_time`` (older files gzipped)
* ``checkout/``   JSON lines (``ts`` ISO-8601 with ms, level, trace_id, msg, latency_ms, order_id);
                  an order is a trace of several lines sharing one ``trace_id``
* ``auth/``       RFC 3164 syslog from sshd/CRON, PRI on some lines (older files gzipped)
* ``payments/``   logfmt with ``latency_ms`` and ``trace_id``
* ``inventory/``  Java ``date time,ms LEVEL [thread] logger - msg`` with multi-line stack traces (older gzipped)
* ``worker/``     Python logging with ``Traceback (most recent call last):`` blocks

Files rotate every 6 hours (``<stem>-YYYYmmddTHHMM.log[.gz]``). Traffic follows diurnal curves
with slowly wandering extra noise, rare-but-normal lines and a nightly routine job. Ten incidents
of the five detector kinds (frequency up and down, new_template, silence of a service and of a
periodic template, content numeric and categorical, sequence) are injected and listed in
``ground_truth.json`` with ``kind``, ``scenario``, ``service``, ``start``, ``end``,
``description`` and hints (schedule: :mod:`aiops.sample.incidents`). ``--no-incidents`` writes a
clean day (history for the detectors); ``--start`` lets a second day follow the first. The same
seed and parameters give the same bytes.

Example::

    $ .venv/bin/aiops sample --output /tmp/logs --lines 20000
    $ .venv/bin/aiops sample --output /tmp/day1 --no-incidents --seed 7
    $ .venv/bin/aiops sample --output /tmp/day2 --seed 8 --start 2026-11-23T00:00:00Z
    $ .venv/bin/python -m aiops.sample.generator --output /tmp/logs --seed 3 --hours 6

    >>> import tempfile, pathlib
    >>> gt = generate(pathlib.Path(tempfile.mkdtemp()), lines=3000)
    >>> sorted(gt.services) == sorted(SERVICES)
    True
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aiops.sample import apps, checkout, services
from aiops.sample.common import (
    HOUR_MS,
    MINUTE_MS,
    Cols,
    Incident,
    diurnal,
    iso,
    periods,
    rate_noise,
    sample_times,
    to_ms,
    write_log,
)
from aiops.sample.incidents import plan_incidents, plan_routine, rate_factors

DEFAULT_START = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)
DEFAULT_LINES = 150_000
ROTATE_HOURS = 6.0

Renderer = Callable[[np.random.Generator, np.ndarray, dict[str, Incident], Cols], list[str]]
# (rng, lines, start_ms, end_ms, per-minute rate, events by scenario) -> (sorted times, columns)
Planner = Callable[
    [np.random.Generator, int, int, int, np.ndarray, dict[str, Incident]], tuple[np.ndarray, Cols]
]


@dataclass(frozen=True)
class Service:
    share: float  # share of all physical lines
    curve: str  # diurnal shape
    render: Renderer
    stem: str  # file name stem
    gzip_rotated: bool
    lines_per_record: float  # mean physical lines per record (stack traces)
    plan: Planner | None = None  # record times and columns; None: independent records


SERVICES: dict[str, Service] = {
    "web": Service(0.44, "shop", services.render_web, "access", True, 1.0),
    "checkout": Service(
        0.10, "shop", checkout.render_checkout, "checkout", False, 1.0, checkout.plan_checkout
    ),
    "payments": Service(0.07, "shop", services.render_payments, "payments", False, 1.0),
    "auth": Service(0.05, "office", apps.render_auth, "auth", True, 1.0),
    "inventory": Service(0.18, "shop", apps.render_inventory, "inventory", True, 1.26, apps.plan_inventory),
    "worker": Service(0.16, "flat", apps.render_worker, "worker", False, 1.25),
}


@dataclass
class GroundTruth:
    """What was generated: parameters, line counts per file and service, and the incidents."""

    seed: int
    start: str
    end: str
    params: dict[str, object]
    files: dict[str, int] = field(default_factory=dict)
    services: dict[str, int] = field(default_factory=dict)
    incidents: list[dict[str, object]] = field(default_factory=list)
    routine: list[dict[str, object]] = field(default_factory=list)

    @property
    def total_lines(self) -> int:
        return sum(self.files.values())

    def to_json(self) -> dict[str, object]:
        return {
            "seed": self.seed,
            "start": self.start,
            "end": self.end,
            "params": self.params,
            "total_lines": self.total_lines,
            "services": self.services,
            "files": self.files,
            "incidents": self.incidents,
            "routine": self.routine,
        }

    @classmethod
    def load(cls, path: Path) -> GroundTruth:
        d = json.loads(path.read_text())
        return cls(
            d["seed"], d["start"], d["end"], d["params"], d["files"], d["services"], d["incidents"],
            d.get("routine", []),
        )  # fmt: skip


def _rate(
    rng: np.random.Generator, svc: str, start_ms: int, minutes: int, events: list[Incident]
) -> np.ndarray:
    grid = start_ms + np.arange(minutes, dtype=np.int64) * MINUTE_MS
    rate = diurnal((grid % (24 * HOUR_MS)) / HOUR_MS, SERVICES[svc].curve) * rate_noise(rng, minutes)
    return rate * rate_factors(svc, grid, events)


def _plan(
    rng: np.random.Generator,
    n: int,
    start_ms: int,
    end_ms: int,
    rate: np.ndarray,
    events: dict[str, Incident],
) -> tuple[np.ndarray, Cols]:
    """Default planner: independent records along the rate curve, no columns."""
    return sample_times(rng, n, start_ms, rate), {}


def _clean(out_dir: Path) -> None:
    for path in list(out_dir.glob("*.log")) + list(out_dir.glob("*.log.gz")):
        path.unlink()


def generate(
    out_dir: Path,
    *,
    seed: int = 7,
    start: dt.datetime = DEFAULT_START,
    hours: float = 24,
    lines: int | None = None,
    services: Sequence[str] | None = None,
    rotate_hours: float = ROTATE_HOURS,
    incidents: bool = True,
) -> GroundTruth:
    """Write the sample under ``out_dir`` and return (and write) its ground truth.

    ``lines`` is the approximate total of physical lines (default 150k); the exact counts are
    in the result. Existing ``*.log``/``*.log.gz`` files in the service directories are removed.
    ``incidents=False`` writes the same kind of traffic without any incident (a clean day).
    """
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of short-lived strings; the collector only costs time here
    try:
        return _generate(Path(out_dir), seed, start, hours, lines, services, rotate_hours, incidents)
    finally:
        if gc_was_enabled:
            gc.enable()


def _generate(
    out_dir: Path,
    seed: int,
    start: dt.datetime,
    hours: float,
    lines: int | None,
    services: Sequence[str] | None,
    rotate_hours: float,
    with_incidents: bool,
) -> GroundTruth:
    names = list(services or SERVICES)
    unknown = set(names) - set(SERVICES)
    if unknown:
        raise ValueError(f"unknown services {sorted(unknown)}; known: {sorted(SERVICES)}")
    total = DEFAULT_LINES if lines is None else int(lines)
    start_ms = to_ms(start)
    minutes = max(1, int(round(hours * 60)))
    end_ms = start_ms + minutes * MINUTE_MS
    incidents = plan_incidents(start_ms, minutes, names) if with_incidents else []
    routine = plan_routine(start_ms, end_ms, names)
    events = incidents + routine
    share_sum = sum(SERVICES[s].share for s in names)
    params: dict[str, object] = {"lines": total, "hours": hours, "services": names}
    params.update(rotate_hours=rotate_hours, incidents=with_incidents)
    gt = GroundTruth(
        seed,
        iso(start_ms),
        iso(end_ms),
        params,
        incidents=[i.to_json() for i in incidents],
        routine=[i.to_json() for i in routine],
    )
    for idx, name in enumerate(SERVICES):
        if name not in names:
            continue
        svc = SERVICES[name]
        rng = np.random.default_rng([seed, idx])
        n = int(round(total * svc.share / share_sum / svc.lines_per_record))
        mine = {i.scenario: i for i in events if i.service == name}
        rate = _rate(rng, name, start_ms, minutes, events)
        times, cols = (svc.plan or _plan)(rng, n, start_ms, end_ms, rate, mine)
        _clean(out_dir / name)
        chunks = periods(start_ms, end_ms, max(MINUTE_MS, int(rotate_hours * HOUR_MS)))
        cuts = np.searchsorted(times, [a for a, _ in chunks] + [end_ms]).tolist()
        gt.services[name] = 0
        for k, (a, b) in enumerate(chunks):
            if cuts[k] == cuts[k + 1]:
                continue  # nothing logged in this period: no file, as with a real logrotate
            part = slice(cuts[k], cuts[k + 1])
            records = svc.render(rng, times[part], mine, {c: v[part] for c, v in cols.items()})
            stamp = dt.datetime.fromtimestamp(a / 1000, dt.UTC).strftime("%Y%m%dT%H%M")
            compress = svc.gzip_rotated and k < len(chunks) - 1
            rel = f"{name}/{svc.stem}-{stamp}.log" + (".gz" if compress else "")
            gt.files[rel] = write_log(out_dir / rel, records, compress, b)
            gt.services[name] += gt.files[rel]
    gt.files = dict(sorted(gt.files.items()))
    (out_dir / "ground_truth.json").write_text(json.dumps(gt.to_json(), indent=2) + "\n")
    return gt


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="aiops sample", description="Generate a realistic multi-service day of logs."
    )
    p.add_argument(
        "--output", "-o", required=True, type=Path, help="directory to write (one subdir per service)"
    )
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--lines", type=int, default=DEFAULT_LINES, help="approximate total physical lines")
    p.add_argument("--hours", type=float, default=24.0)
    p.add_argument("--start", default=iso(to_ms(DEFAULT_START)), help="ISO-8601 start, UTC if no offset")
    p.add_argument("--services", default=None, help=f"comma-separated subset of {','.join(SERVICES)}")
    p.add_argument(
        "--no-incidents", action="store_true", help="a clean day: the same traffic without any incident"
    )
    a = p.parse_args(argv)
    start = dt.datetime.fromisoformat(a.start.replace("Z", "+00:00"))
    t0 = time.perf_counter()
    gt = generate(
        a.output,
        seed=a.seed,
        start=start,
        hours=a.hours,
        lines=a.lines,
        services=a.services.split(",") if a.services else None,
        incidents=not a.no_incidents,
    )
    secs = time.perf_counter() - t0
    print(
        f"wrote {gt.total_lines:,} lines in {len(gt.files)} files for {len(gt.services)} services "
        f"({gt.start} .. {gt.end}, {len(gt.incidents)} incidents) to {a.output} "
        f"in {secs:.1f}s ({gt.total_lines / max(secs, 1e-9):,.0f} lines/s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
