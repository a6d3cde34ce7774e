"""The summarising pipeline: after a batch run is committed, explain its flagged windows.

Builds the evidence packs of the run with DuckDB over the committed tables, answers what the
cache already knows, sends at most ``max_requests`` windows (the most anomalous first; the
rest get the offline summary), runs ``SummariseWindows`` on the same runner as the batch job,
commits ``summaries`` and ``llm_requests`` and caches the good answers by evidence hash.

Example::

    aiops batch --input 'logs/*/*' --output out/ --llm openai --llm_base_url http://localhost:8000 --llm_model llama3.1
"""

from __future__ import annotations

import json
import pickle
import time
from collections import Counter

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from aiops import query
from aiops.commit import CommitSummary, commit_tables, remove_staging
from aiops.layout import SUMMARY_TABLES, Layout
from aiops.llm.evidence import EvidencePack, evidence_hash
from aiops.llm.offline import MODEL as OFFLINE_MODEL
from aiops.llm.offline import offline_summary
from aiops.llm.prompt import build_request
from aiops.llm.types import LLMConfig, LLMRequest
from aiops.parquet_io import WrittenFile
from pipelines.batch import OUTPUTS_FILE, collect_outputs
from transforms.summaries import SummariseWindows, SummaryContext, summary_row

REQUESTS_FILE = "requests.pickle"


def _severity(pack: EvidencePack) -> float:
    return -len(pack.findings) - 0.01 * pack.anomaly_count


def _cache_path(cache_dir: str, key: str) -> str:
    return FileSystems.join(cache_dir, f"{key}.json")


def _read_cache(cache_dir: str, key: str) -> dict | None:
    path = _cache_path(cache_dir, key)
    if not FileSystems.exists(path):
        return None
    with FileSystems.open(path, compression_type="uncompressed") as fh:
        return json.loads(fh.read().decode())


def _write_cache(cache_dir: str, key: str, entry: dict) -> None:
    if not FileSystems.exists(cache_dir):
        FileSystems.mkdirs(cache_dir)
    with FileSystems.create(_cache_path(cache_dir, key), compression_type="uncompressed") as fh:
        fh.write(json.dumps(entry).encode())


def summarise_run(layout: Layout, run_id: str, batch_key: str, window_us: int, llm: LLMConfig, redaction,
                  cache_dir: str, pipeline_factory) -> dict:
    """Summarise the run's flagged windows; returns what the manifest records."""
    from aiops.llm.evidence_sql import VIEWS, build_packs
    from aiops.llm.summary import SUMMARY_SCHEMA

    t0 = time.monotonic()
    if "://" in layout.root:
        return {"status": "skipped", "reason": "summaries read the output with DuckDB: local outputs only for now"}
    con = query.connect(layout.root, views=VIEWS)
    packs = sorted(build_packs(con, run_id, window_us), key=_severity)
    # the cache key covers the evidence and the backend: another model is another answer
    keyed = [(evidence_hash(p), p) for p in packs]
    model_key = f"{llm.backend}:{llm.model}"
    staging = layout.staging(f"{run_id}-summaries")
    to_send, ready = [], []
    sent = 0
    for h, pack in keyed:
        req, _ = build_request(pack, h, llm.max_prompt_chars, llm.max_output_tokens, redaction, SUMMARY_SCHEMA)
        cached = _read_cache(cache_dir, f"{h}-{_slug(model_key)}") if llm.backend != "offline" else None
        if cached is not None:
            ready.append(summary_row(req, cached["fields"], llm.backend, cached["model"], "cached", None, None, run_id))
        elif llm.backend == "offline" or sent < llm.max_requests:
            to_send.append(req)
            sent += llm.backend != "offline"
        else:
            ready.append(summary_row(req, offline_summary(req.evidence or {}), "offline", OFFLINE_MODEL,
                                     "fallback:budget", f"over --llm_max_requests {llm.max_requests}", None, run_id))
    ctx = SummaryContext(staging, run_id, llm)
    # no flagged window: no job to run, but the commit below still replaces what this batch key wrote before
    files = _run(pipeline_factory, ctx, to_send, ready) if to_send or ready else []
    summary = CommitSummary(files=[])
    commit_tables(layout, files, SUMMARY_TABLES, batch_key, run_id, summary)
    query.refresh_views(con, layout.root, ("summaries",))  # the files just committed
    statuses = _statuses(con, run_id)
    if llm.backend != "offline":
        for row in _good_rows(con, run_id):
            _write_cache(cache_dir, f"{row['evidence_hash']}-{_slug(model_key)}", {"model": row["model"], "fields": {
                k: (json.loads(row[k]) if k == "evidence" else row[k])
                for k in ("title", "summary", "suspected_cause", "evidence", "recommended_action", "confidence")}})
    remove_staging(staging)
    return {"status": "succeeded", "backend": llm.backend, "model": llm.model or None, "flagged_windows": len(packs),
            "requests_sent": sent, "statuses": statuses, "rows": summary.rows,
            "elapsed_s": round(time.monotonic() - t0, 3)}


def _run(pipeline_factory, ctx: SummaryContext, to_send: list[LLMRequest], ready: list) -> list[WrittenFile]:
    """SummariseWindows on the batch job's runner -> the files it staged (listed in a staged file)."""
    p = pipeline_factory()
    # The requests reach the job as one staged file rather than as Create's values: Beam pickles
    # a Create's values with bz2 four times while it builds and translates the job (~10 ms each
    # for 18 requests, growing with their number).
    path = FileSystems.join(ctx.staging, REQUESTS_FILE)
    with FileSystems.create(path, compression_type="uncompressed") as fh:
        fh.write(pickle.dumps(to_send))
    requests = p | "Requests" >> beam.Create([path]) | "ReadRequests" >> beam.FlatMap(_read_requests)
    if ctx.llm.backend != "offline":  # remote calls are worth spreading over workers; offline ones take microseconds
        requests = requests | "SpreadRequests" >> beam.Reshuffle()
    written = requests | "SummariseWindows" >> SummariseWindows(ctx, ready)
    collect_outputs((written,), ctx.staging)
    p.run().wait_until_finish()
    listing = FileSystems.join(ctx.staging, OUTPUTS_FILE)
    if not FileSystems.exists(listing):  # nothing written: collect_outputs lists no empty job
        return []
    with FileSystems.open(listing, compression_type="uncompressed") as fh:
        return [WrittenFile(**w) for w in json.loads(fh.read().decode())["written"]]


def _read_requests(path: str) -> list[LLMRequest]:
    with FileSystems.open(path, compression_type="uncompressed") as fh:
        return pickle.loads(fh.read())


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def _statuses(con, run_id: str) -> dict[str, int]:
    rows = con.execute("select status, count(*) from summaries where run_id = ? group by 1", [run_id]).fetchall()
    return dict(Counter({s: n for s, n in rows}))


def _good_rows(con, run_id: str) -> list[dict]:
    cols = ["evidence_hash", "model", "title", "summary", "suspected_cause", "evidence", "recommended_action",
            "confidence"]
    rows = con.execute(f"select {', '.join(cols)} from summaries where run_id = ? and status in ('ok', 'ok_after_retry')",
                       [run_id]).fetchall()
    return [dict(zip(cols, r, strict=True)) for r in rows]
