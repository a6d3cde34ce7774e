"""The streaming job's wiring: ParseStream -> TemplateStream -> CloseWindows -> the table writers, SummariseStream.

The same pure stages as the batch job (parser, masking, template learner and ids, KPI maths,
window scorers) in streaming transforms; only wiring lives here. ``aiops.stream_launcher``
checks the arguments, chooses the runner and the source, and writes the run manifest.

Example::

    aiops stream --watch '/var/log/app/*/*.log' --output out/ --window 1m --allowed-lateness 10m
    aiops stream --subscription projects/P/subscriptions/logs --output gs://bucket/aiops \\
        --runner DataflowRunner --project P --region europe-west1 --temp_location gs://bucket/tmp \\
        --enable_streaming_engine
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from aiops.anomaly.config import AnomalyConfig
from aiops.llm.redact import RedactionConfig
from aiops.llm.types import LLMConfig
from aiops.windowing import (
    DEFAULT_ALLOWED_LATENESS,
    DEFAULT_WATERMARK_DELAY,
    StreamWindowing,
)
from transforms.stream_parse import ParseStream, StreamParseConfig
from transforms.stream_summaries import SummariseStream
from transforms.stream_templates import TemplateStream
from transforms.stream_windows import CloseWindows
from transforms.stream_write import AppendTables, WriteWindowResults
from transforms.summaries import SummaryContext


class StreamOptions(PipelineOptions):
    """Flags of ``aiops stream`` (plus the shared ``JobOptions``); every other flag goes to Beam."""

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--subscription", default=None,
                            help="Read Pub/Sub messages from projects/P/subscriptions/S (payload: raw lines or JSON "
                                 "records; attributes service/app and host/hostname name the service and host).")
        parser.add_argument("--topic", default=None,
                            help="Read Pub/Sub messages from projects/P/topics/T (through a temporary subscription).")
        parser.add_argument("--watch", default=None,
                            help="Read every new file matching this glob once (local, gs://, s3://; .gz/.bz2/.zst).")
        parser.add_argument("--allowed_lateness", "--allowed-lateness", dest="allowed_lateness",
                            default=DEFAULT_ALLOWED_LATENESS,
                            help="How long after its end a window still takes late data; its rows are then replaced. "
                                 "Later data is dead-lettered as too_late (default 10m).")
        parser.add_argument("--template_refresh", "--template-refresh", dest="template_refresh", default="30s",
                            help="How often workers reload the template store (default 30s).")
        parser.add_argument("--template_publish", "--template-publish", dest="template_publish", default="30s",
                            help="How often, at most, the learner publishes new templates to the store (default 30s).")
        parser.add_argument("--flush", default="10s",
                            help="Triggering frequency of the events and dead_letter Parquet files (default 10s).")
        parser.add_argument("--poll_interval", "--poll-interval", dest="poll_interval", default="2s",
                            help="--watch: how often the glob is listed (default 2s).")
        parser.add_argument("--watermark_delay", "--watermark-delay", dest="watermark_delay",
                            default=DEFAULT_WATERMARK_DELAY,
                            help="--watch on the local runner: the watermark trails the arrival clock by this much "
                                 "(default 5s).")
        parser.add_argument("--duration", default="0",
                            help="Local runner: stop after this long (e.g. 10m), fire every open window and exit; "
                                 "0 (default) runs until Ctrl-C.")


@dataclass(frozen=True)
class StreamConfig:
    """Everything the streaming stages need, from the flags."""

    root: str
    run_id: str
    store_path: str
    policy: StreamWindowing = field(default_factory=StreamWindowing)
    anomaly: AnomalyConfig = field(default_factory=AnomalyConfig)
    format: str = "auto"
    refresh_s: float = 30.0
    publish_s: float = 30.0
    flush_s: float = 10.0
    llm: LLMConfig | None = None  # None: no summaries (--llm none)
    redaction: RedactionConfig | None = None


class StreamOutputs(NamedTuple):
    results: beam.PCollection  # WindowResult per window firing
    appended: beam.PCollection  # paths of events / dead_letter files
    window_files: beam.PCollection  # paths of kpis / template_windows / anomalies files
    summaries: beam.PCollection | None  # paths of summaries / llm_requests files


def build(items, records: bool, cfg: StreamConfig) -> StreamOutputs:
    """Wire the job onto ``items`` (file paths, or RawRecords when ``records``)."""
    parsed = items | "ParseStream" >> ParseStream(StreamParseConfig(cfg.policy.window_us, cfg.run_id, cfg.format),
                                                  records)
    templated = parsed.batches | "TemplateStream" >> TemplateStream(cfg.store_path, cfg.run_id, cfg.refresh_s,
                                                                    cfg.publish_s)
    closed = templated | "CloseWindows" >> CloseWindows(cfg.policy, cfg.anomaly, cfg.run_id)
    dead = (parsed.dead_letter, closed.dead_letter) | "FlattenDeadLetters" >> beam.Flatten()
    appended = (closed.events, dead, parsed.stats) | "AppendTables" >> AppendTables(cfg.root, cfg.run_id, cfg.flush_s)
    window_files = closed.results | "WriteWindowResults" >> WriteWindowResults(cfg.root)
    summaries = None
    if cfg.llm is not None:
        ctx = SummaryContext(cfg.root, cfg.run_id, cfg.llm)
        summaries = closed.results | "SummariseStream" >> SummariseStream(ctx, cfg.redaction, cfg.root)
    return StreamOutputs(closed.results, appended, window_files, summaries)
