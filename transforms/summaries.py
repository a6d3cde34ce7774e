"""SummariseWindows: evidence packs -> RunInference on the configured backend -> validated summaries.

Each pack becomes one request (redacted, fenced, capped). Answers are validated against the
summary schema and must cite the pack's own template ids or lines; an invalid answer is retried
once with the problem stated; a second failure, or a failing backend (timeouts, 429/5xx after
retries, missing credentials, budget spent), falls back to the offline summary and the row says
why. Every attempt is a row of ``llm_requests`` with the exact prompt that was sent.

Example (see tests/test_summaries.py)::

    written = packs | SummariseWindows(SummaryContext(staging, run_id, llm_config))
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from aiops.llm.offline import MODEL as OFFLINE_MODEL
from aiops.llm.offline import offline_summary
from aiops.llm.prompt import retry_request
from aiops.llm.types import LLMConfig, LLMRequest, LLMResponse
from aiops.parquet_io import write_table_files
from aiops.schema import LlmRequestRow, SummaryRow, TimestampUs, arrow_schema, datetime_to_us, rows_to_table
from transforms.gather import Gather


@dataclass(frozen=True)
class SummaryContext:
    staging: str
    run_id: str
    llm: LLMConfig


def _us(iso: str) -> TimestampUs:
    import datetime as dt

    return datetime_to_us(dt.datetime.fromisoformat(iso.replace("Z", "+00:00")))


def _validate(resp: LLMResponse, req: LLMRequest):
    from aiops.llm.summary import parse_summary

    pack = req.evidence or {}
    ids = {f["template_id"] for f in pack.get("findings", []) if f.get("template_id")}
    ids |= {ln["template_id"] for ln in pack.get("lines", []) if ln.get("template_id")}
    lines = {ln["line"] for ln in pack.get("lines", [])}
    return parse_summary(resp.text or "", ids, lines)


def summary_row(req: LLMRequest, fields: dict, backend: str, model: str, status: str, error: str | None,
                resp: LLMResponse | None, run_id: str) -> SummaryRow:
    pack = req.evidence or {}
    return SummaryRow(
        _us(pack["window_start"]), _us(pack["window_end"]), pack["service"],
        sorted({n["service"] for n in pack.get("neighbours", [])}), int(pack.get("anomaly_count", 0)),
        fields["title"], fields["summary"], fields["suspected_cause"], json.dumps(fields["evidence"]),
        fields["recommended_action"], fields["confidence"], backend, model, status, error,
        resp.prompt_tokens if resp else 0, resp.completion_tokens if resp else 0,
        round(resp.latency_ms, 1) if resp else 0.0, req.request_id, run_id,
    )


def request_row(req: LLMRequest, attempt: int, resp: LLMResponse, redactions: dict[str, int], backend: str,
                run_id: str) -> LlmRequestRow:
    pack = req.evidence or {}
    return LlmRequestRow(
        req.request_id, attempt, _us(pack["window_start"]), pack["service"], backend, resp.model,
        req.system, req.prompt, sum(redactions.values()), json.dumps(redactions, sort_keys=True), resp.status,
        resp.error, resp.prompt_tokens, resp.completion_tokens, round(resp.latency_ms, 1), run_id,
    )


class JudgeFn(beam.DoFn):
    """(request, response) of one attempt -> summaries row, or a retry request; and its llm_requests row."""

    def __init__(self, ctx: SummaryContext, attempt: int):
        self.ctx, self.attempt = ctx, attempt
        self.fallbacks = Metrics.counter("aiops", "summary_fallbacks")

    def process(self, element):
        req, resp = element
        backend = self.ctx.llm.backend
        yield beam.pvalue.TaggedOutput("requests", request_row(req, self.attempt, resp, req.redactions or {}, backend,
                                                               self.ctx.run_id))
        if resp.status != "ok":  # the backend failed for good (after its own retries): offline summary
            self.fallbacks.inc()
            yield self._fallback(req, f"fallback:{resp.status.removeprefix('error:')}", resp.error, resp)
            return
        summary, problem = _validate(resp, req)
        if summary is not None:
            status = "offline" if backend == "offline" else ("ok" if self.attempt == 1 else "ok_after_retry")
            yield summary_row(req, summary.to_json(), backend, resp.model, status, None, resp, self.ctx.run_id)
        elif self.attempt == 1:
            yield beam.pvalue.TaggedOutput("retry", retry_request(req, problem or "invalid"))
        else:
            self.fallbacks.inc()
            yield self._fallback(req, "fallback:invalid_output", problem, resp)

    def _fallback(self, req: LLMRequest, status: str, error: str | None, resp: LLMResponse | None) -> SummaryRow:
        fields = offline_summary(req.evidence or {})
        return summary_row(req, fields, "offline", OFFLINE_MODEL, status, error, resp, self.ctx.run_id)


def _order(row) -> tuple[str, ...]:
    return tuple(map(str, row[:3]))


class WriteTablesFn(beam.DoFn):
    """Every row of the step (SummaryRow and LlmRequestRow, gathered) -> each table's Parquet files, one per day.

    Both tables share one Gather (one GroupByKey) rather than a ToList each: ToList
    (CombineGlobally) adds a default-value branch (a Create and a side input), and every
    GroupByKey is one more runner stage, for a step of a few dozen rows. No rows, no list, no
    file, as ToList's empty list wrote none.
    """

    def __init__(self, staging: str):
        self.staging = staging

    def process(self, rows):
        for table, row_type in (("summaries", SummaryRow), ("llm_requests", LlmRequestRow)):
            mine = sorted((r for r in rows if isinstance(r, row_type)), key=_order)
            if mine:
                yield from write_table_files(self.staging, table, "window_start", rows_to_table(row_type, mine),
                                             arrow_schema(row_type))


class SummariseWindows(beam.PTransform):
    """LLMRequest (one per flagged window) -> WrittenFile of the summaries and llm_requests tables."""

    def __init__(self, ctx: SummaryContext, ready: Sequence[SummaryRow] = ()):
        super().__init__()
        self.ctx, self.ready = ctx, list(ready)

    def expand(self, requests):
        ctx = self.ctx
        rows, attempts = answer(requests, ctx)
        parts = [rows, attempts]
        if self.ready:  # cached, or over budget; none with the offline backend, so no steps for nothing
            parts.append(requests.pipeline | "ReadySummaries" >> beam.Create(self.ready, reshuffle=False))
        return (
            parts
            | "FlattenRows" >> beam.Flatten()
            | "GatherRows" >> Gather()
            | "WriteTables" >> beam.ParDo(WriteTablesFn(ctx.staging)).with_output_types(Any)
        )


def answer(requests, ctx: SummaryContext):
    """Requests -> (SummaryRow per request, LlmRequestRow per attempt): answer, judge, retry once, fall back.

    Applied inside the caller's composite (the batch and the streaming summaries share it).
    """
    from transforms.llm_inference import Complete

    # Output types declared Any (here, in Complete and WriteTables) spare Beam inferring them from
    # the bytecode at every build; the coders stay the pickling ones it chose from the inferred types.
    first = (
        requests
        | "Complete" >> Complete(ctx.llm)
        | "Judge" >> beam.ParDo(JudgeFn(ctx, 1)).with_output_types(Any)
        .with_outputs("requests", "retry", main="rows")
    )
    second = (
        first.retry
        | "CompleteRetry" >> Complete(ctx.llm)
        | "JudgeRetry" >> beam.ParDo(JudgeFn(ctx, 2)).with_output_types(Any)
        .with_outputs("requests", "retry", main="rows")
    )
    rows = (first.rows, second.rows) | "FlattenAnswers" >> beam.Flatten()
    attempts = (first.requests, second.requests) | "FlattenRequests" >> beam.Flatten()
    return rows, attempts
