"""KPIs of the batch job: ApplyTemplates' partials staged per work unit, finalised per service.

ApplyTemplates computes KPI partials vectorised per batch and merges them per (service,
window) for its whole work unit; ``stage_kpis`` writes them to one staged file and hands
ScoreServices (transforms/scoring.py) a small ("kpis", (path, services)) item. The scoring unit
that owns a service merges that service's partials from every file (``merge_kpis``), finalises
them with the template first-seen times of the models and writes the ``kpis`` rows
(``kpi_table``), in the same step as the anomaly scorers: a chain of combine, group and write
stages cost the local runner more than the arithmetic.

Example (see tests/test_transforms.py)::

    item = stage_kpis({("web", t0): KpiAccumulator(events=3)}, staging)    # in ApplyTemplates
    table = kpi_table(merge_kpis([item[1][0]], {"web"}), models, window_us, run_id)
"""

from __future__ import annotations

import pickle
import uuid

from apache_beam.io.filesystems import FileSystems

from aiops.kpi import KpiAccumulator, finalize
from aiops.schema import KpiRow, rows_to_table

KpiPartials = dict[tuple[str, int], KpiAccumulator]


def first_seen_by_service(models: dict) -> dict[str, dict[str, int]]:
    return {svc: {t.template_id: t.first_seen for t in m.templates} for svc, m in models.items()}


def stage_kpis(partials: KpiPartials, staging: str) -> tuple[str, tuple[str, list[str]]] | None:
    """Stage a unit's KPI partials; the ("kpis", (path, services)) item for ScoreServices (None if empty)."""
    if not partials:
        return None
    path = FileSystems.join(staging, "kpi_partials", f"{uuid.uuid4().hex}.pkl")
    with FileSystems.create(path, compression_type="uncompressed") as fh:
        fh.write(pickle.dumps(partials, protocol=pickle.HIGHEST_PROTOCOL))
    return "kpis", (path, sorted({service for service, _ in partials}))


def merge_kpis(paths: list[str], services: set[str]) -> KpiPartials:
    """The KPI partials of ``services`` from staged files, merged per (service, window)."""
    merged: KpiPartials = {}
    for path in sorted(paths):
        with FileSystems.open(path, compression_type="uncompressed") as fh:
            partials: KpiPartials = pickle.loads(fh.read())
        for key, acc in partials.items():
            if key[0] in services:
                mine = merged.get(key)
                merged[key] = acc if mine is None else mine.merge(acc)
    return merged


def kpi_table(merged: KpiPartials, models: dict, window_us: int, run_id: str):
    """The ``kpis`` rows (``KpiRow`` schema) of merged partials, ordered by window and service."""
    services = {service for service, _ in merged}
    seen = first_seen_by_service({s: m for s, m in models.items() if s in services})
    rows = [finalize(service, start, window_us, acc, seen.get(service, {}), run_id)
            for (service, start), acc in sorted(merged.items(), key=lambda kv: (kv[0][1], kv[0][0]))]
    return rows_to_table(KpiRow, rows)
