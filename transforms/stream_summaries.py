"""SummariseStream: the flagged windows of the streaming job, explained as they close.

Each window's first firing with findings carries its evidence pack (built in ``CloseWindows``);
it becomes one redacted request, answered by the configured backend with the batch job's
``answer`` steps (judge, retry once, offline fallback), and the rows are written per window like
the other window tables: ``summaries/dt=.../stream-<service hash>-<window start>.parquet`` and one
``llm_requests`` file per attempt.

Example (see tests/test_stream.py)::

    results | SummariseStream(SummaryContext(out_dir, run_id, LLMConfig()), RedactionConfig(), out_dir)
"""

from __future__ import annotations

import apache_beam as beam

from aiops.llm.evidence import EvidencePack, evidence_hash
from aiops.llm.prompt import build_request
from aiops.llm.summary import SUMMARY_SCHEMA
from aiops.parquet_io import replace_table
from aiops.schema import LlmRequestRow, SummaryRow, rows_to_table
from transforms.stream_write import window_file
from transforms.summaries import SummaryContext, answer


def to_request(evidence: dict, ctx: SummaryContext, redaction):
    pack = EvidencePack(**evidence)
    request, _ = build_request(pack, evidence_hash(pack), ctx.llm.max_prompt_chars, ctx.llm.max_output_tokens,
                               redaction, SUMMARY_SCHEMA)
    return request


class WriteSummaryFn(beam.DoFn):
    """A SummaryRow or an LlmRequestRow -> its own file (a window's summary replaces an earlier one)."""

    def __init__(self, root: str):
        self.root = root

    def process(self, row):
        if isinstance(row, SummaryRow):
            path = window_file(self.root, "summaries", row.service, row.window_start)
            replace_table(rows_to_table(SummaryRow, [row]), path)
        else:
            base = window_file(self.root, "llm_requests", row.service, row.window_start)
            path = base.removesuffix(".parquet") + f"-a{row.attempt}.parquet"
            replace_table(rows_to_table(LlmRequestRow, [row]), path)
        yield path


class SummariseStream(beam.PTransform):
    """WindowResult -> paths of the summaries and llm_requests files written."""

    def __init__(self, ctx: SummaryContext, redaction, root: str):
        super().__init__()
        self.ctx, self.redaction, self.root = ctx, redaction, root

    def expand(self, results):
        ctx, redaction = self.ctx, self.redaction
        requests = (
            results
            | "FlaggedWindows" >> beam.Filter(lambda r: r.evidence is not None)
            | "BuildRequests" >> beam.Map(lambda r: to_request(r.evidence, ctx, redaction))
        )
        rows, attempts = answer(requests, ctx)
        return (rows, attempts) | "FlattenSummaryRows" >> beam.Flatten() | "WriteSummaries" >> beam.ParDo(
            WriteSummaryFn(self.root))
