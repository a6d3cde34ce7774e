"""ComputeKpis: merge KPI partials per (service, window) and write the ``kpis`` table.

The partials come vectorised from ApplyTemplates; this stage only merges them
(CombinePerKey, so the runner can lift the combine), finalises the rows with the
template first-seen times from the models, and writes one file per ``dt``.

Example (see tests/test_transforms.py)::

    kpi_written = partials | ComputeKpis(models, staging, run_id, window_us)
"""

from __future__ import annotations

import uuid

import apache_beam as beam

from aiops.kpi import KpiAccumulator, finalize
from aiops.parquet_io import DAY_US, PartitionedWriter
from aiops.schema import KpiRow, arrow_schema, rows_to_table
from transforms.gather import Gather


class KpiCombineFn(beam.CombineFn):
    def create_accumulator(self) -> KpiAccumulator:
        return KpiAccumulator()

    def add_input(self, acc: KpiAccumulator, value: KpiAccumulator) -> KpiAccumulator:
        return acc.merge(value)

    def merge_accumulators(self, accs) -> KpiAccumulator:
        out = KpiAccumulator()
        for acc in accs:
            out.merge(acc)
        return out

    def extract_output(self, acc: KpiAccumulator) -> KpiAccumulator:
        return acc


def first_seen_by_service(models: dict) -> dict[str, dict[str, int]]:
    return {svc: {t.template_id: t.first_seen for t in m.templates} for svc, m in models.items()}


class WriteKpisFn(beam.DoFn):
    def __init__(self, staging: str):
        self.staging = staging

    def process(self, element):
        _, rows = element
        writer = PartitionedWriter(f"{self.staging}/kpis", uuid.uuid4().hex, "window_start", "kpis", arrow_schema(KpiRow))
        writer.write(rows_to_table(KpiRow, sorted(rows, key=lambda r: (r.window_start, r.service))))
        yield from writer.close()


class ComputeKpis(beam.PTransform):
    """((service, window_start), KpiAccumulator) -> WrittenFile of the kpis table."""

    def __init__(self, models, staging: str, run_id: str, window_us: int):
        super().__init__()
        self.models = models
        self.staging = staging
        self.run_id = run_id
        self.window_us = window_us

    def expand(self, partials):
        run_id, window_us = self.run_id, self.window_us
        first_seen = (self.models | "FirstSeenByService" >> Gather()
                      | "IndexFirstSeen" >> beam.Map(lambda pairs: first_seen_by_service(dict(pairs))))
        return (
            partials
            | "MergeKpiPartials" >> beam.CombinePerKey(KpiCombineFn())
            | "FinalizeKpis" >> beam.Map(
                lambda kv, seen: finalize(kv[0][0], kv[0][1], window_us, kv[1], seen.get(kv[0][0], {}), run_id),
                beam.pvalue.AsSingleton(first_seen, default_value={}),  # no models: no events, no KPIs
            )
            | "KeyByDay" >> beam.Map(lambda row: (row.window_start // DAY_US, row))
            | "GroupByDay" >> beam.GroupByKey()
            | "WriteKpis" >> beam.ParDo(WriteKpisFn(self.staging))
        )
