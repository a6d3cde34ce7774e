"""``aiops stream``: check arguments, choose the source and runner, run the streaming job, write its manifest.

Locally (no ``--runner``) the job runs on the BundleBasedDirectRunner in streaming mode; ``--watch``
is served by :class:`aiops.streaming.feed.FolderFeed` and ``--duration`` (or Ctrl-C, or SIGTERM)
ends it cleanly: the feed stops, every open window fires, the files are flushed and the run
manifest ``DIR/runs/<run_id>.json`` records the line accounting. On a managed runner
(``--runner DataflowRunner`` ...) the job is submitted and keeps running; stop it with the
runner's drain. Bad arguments, a missing watch directory, an unwritable output or an unreadable
template store fail here with one line and exit code 2.

Example::

    aiops stream --watch 'incoming/*/*.log' --output out/ --window 1m --duration 10m
"""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import os
import re
import secrets
import signal
import sys
import time
from types import SimpleNamespace

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from aiops import __version__
from aiops.anomaly.config import AnomalyConfig
from aiops.commit import write_manifest
from aiops.launcher import RunFailed, UsageError, _check_writable, _now, job_main, llm_settings
from aiops.layout import Layout, beside_store
from aiops.templating.store import FileTemplateStore, TemplateStoreError
from aiops.windowing import DEFAULT_STREAM_WINDOW, StreamWindowing, parse_duration_us
from pipelines.options import JobOptions, job_flags
from pipelines.streaming import StreamConfig, StreamOptions, build
from transforms.stream_write import stats_dir_name

_SUBSCRIPTION = re.compile(r"^projects/[^/]+/subscriptions/[^/]+$")
_TOPIC = re.compile(r"^projects/[^/]+/topics/[^/]+$")


def _seconds(flag: str, value: str) -> float:
    try:
        return parse_duration_us(value) / 1_000_000
    except ValueError as exc:
        raise UsageError(f"bad --{flag}: {exc}") from exc


def _check_watch(pattern: str) -> None:
    if "://" in pattern:
        return  # object stores: a prefix needs no directory
    fixed = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
    directory = fixed if fixed.endswith("/") else os.path.dirname(fixed) or "."
    if not os.path.isdir(directory):
        raise UsageError(f"watch directory not found: {directory}")


def prepare(argv: list[str]) -> tuple[PipelineOptions, SimpleNamespace, StreamConfig, dict[str, float]]:
    options = PipelineOptions(argv)
    opts = job_flags(options, StreamOptions)
    opts.window = opts.window or DEFAULT_STREAM_WINDOW
    sources = [name for name in ("subscription", "topic", "watch") if getattr(opts, name)]
    if len(sources) != 1:
        raise UsageError("give exactly one source: --subscription, --topic or --watch")
    if not opts.output:
        raise UsageError("missing --output (a directory)")
    if opts.subscription and not _SUBSCRIPTION.match(opts.subscription):
        raise UsageError(f"bad --subscription {opts.subscription!r}: use projects/P/subscriptions/S")
    if opts.topic and not _TOPIC.match(opts.topic):
        raise UsageError(f"bad --topic {opts.topic!r}: use projects/P/topics/T")
    if opts.watch:
        _check_watch(opts.watch)
    try:
        policy = StreamWindowing.parse(opts.window, opts.allowed_lateness)
    except ValueError as exc:
        raise UsageError(f"bad --window or --allowed_lateness: {exc}") from exc
    try:
        anomaly = AnomalyConfig().with_overrides(opts.anomaly)
    except ValueError as exc:
        raise UsageError(f"bad --anomaly: {exc}") from exc
    timing = {name: _seconds(name, getattr(opts, name)) for name in
              ("template_refresh", "template_publish", "flush", "poll_interval", "watermark_delay")}
    timing["duration"] = 0.0 if opts.duration.strip() in ("0", "0s") else _seconds("duration", opts.duration)
    local = not options.view_as(StandardOptions).runner
    if timing["duration"] and not (local and opts.watch):
        raise UsageError("--duration works with --watch on the local runner (stop a managed job with its drain)")
    if (opts.subscription or opts.topic) and local:
        try:
            import google.cloud.pubsub  # noqa: F401  # the local runner reads Pub/Sub with the client library
        except ImportError as exc:
            raise UsageError("Pub/Sub needs the gcp extra: pip install 'aiops[gcp]'") from exc
    layout = Layout(opts.output.rstrip("/"))
    if local and "://" not in layout.root:
        os.makedirs(layout.root, exist_ok=True)
    _check_writable(layout.root)
    store_path = opts.templates or layout.default_store()
    try:
        FileTemplateStore(store_path).load()
    except TemplateStoreError as exc:
        raise UsageError(f"template store unreadable: {exc}") from exc
    if opts.run_id and not re.fullmatch(r"[\w.-]+", opts.run_id):
        raise UsageError(f"bad --run_id {opts.run_id!r}: use letters, digits, '.', '_' and '-'")
    run_id = opts.run_id or "stream-" + dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)
    llm, redaction = llm_settings(opts)
    cfg = StreamConfig(layout.root, run_id, store_path, policy, anomaly, opts.format, timing["template_refresh"],
                       timing["template_publish"], timing["flush"], llm, redaction)
    return options, opts, cfg, timing


def run(argv: list[str]) -> int:
    options, opts, cfg, timing = prepare(argv)
    options.view_as(StandardOptions).streaming = True
    local = not options.view_as(StandardOptions).runner
    layout = Layout(cfg.root)
    source = opts.watch or opts.subscription or opts.topic
    manifest = {"run_id": cfg.run_id, "version": __version__, "kind": "stream", "status": "running",
                "started_at": _now(), "finished_at": None, "inputs": [source], "window": opts.window,
                "allowed_lateness": opts.allowed_lateness, "template_store": cfg.store_path,
                "anomaly_overrides": list(opts.anomaly)}
    feed = None
    if local and opts.watch:
        from aiops.streaming.feed import FolderFeed

        key = hashlib.blake2b(opts.watch.encode(), digest_size=6).hexdigest()
        feed = FolderFeed(opts.watch, timing["poll_interval"], timing["watermark_delay"], timing["duration"] or None,
                          state_path=beside_store(cfg.store_path, f"watched-{key}.json"))
    p = beam.Pipeline(runner="BundleBasedDirectRunner", options=options) if local else beam.Pipeline(options=options)
    from transforms.stream_sources import ReadPubSub, WatchFiles

    if opts.watch:
        items = p | "WatchFiles" >> WatchFiles(opts.watch, timing["poll_interval"], feed.start() if feed else None)
    else:
        items = p | "ReadPubSub" >> ReadPubSub(opts.subscription, opts.topic)
    build(items, records=not opts.watch, cfg=cfg)
    t0 = time.monotonic()
    write_manifest(layout, manifest)
    if not local:
        result = p.run()
        job_id = getattr(result, "job_id", None)
        manifest.update(status="submitted", job=job_id() if callable(job_id) else None)
        write_manifest(layout, manifest)
        print(f"aiops stream: submitted {cfg.run_id} to {options.view_as(StandardOptions).runner}", file=sys.stderr)
        return 0
    stopping = {"n": 0}

    def on_signal(signum, _frame):
        stopping["n"] += 1
        if feed is None or stopping["n"] > 1:
            raise KeyboardInterrupt
        print("\naiops stream: stopping: firing open windows (Ctrl-C again to abort)", file=sys.stderr)
        feed.stop()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    print(f"aiops stream: {cfg.run_id} reading {source} -> {cfg.root}"
          + (f" for {opts.duration}" if timing["duration"] else " (Ctrl-C stops)"), file=sys.stderr)
    try:
        result = p.run()
        result.wait_until_finish()
    except KeyboardInterrupt:
        manifest.update(status="aborted", finished_at=_now())
        write_manifest(layout, manifest)
        return 130
    except Exception as exc:  # the runner wraps worker errors in many types; record them, report one line
        manifest.update(status="failed", finished_at=_now(), error=f"{type(exc).__name__}: {exc}"[:2000])
        write_manifest(layout, manifest)
        raise RunFailed(f"pipeline failed: {type(exc).__name__}: {str(exc).strip().splitlines()[-1][:300]}") from exc
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        if feed is not None:
            feed.close()
    manifest.update(status="succeeded", finished_at=_now(), elapsed_s=round(time.monotonic() - t0, 3),
                    **accounting(cfg.root, cfg.run_id))
    write_manifest(layout, manifest)
    _print_summary(manifest, cfg.root)
    return 0


def accounting(root: str, run_id: str) -> dict:
    """The run's line accounting from what it wrote (the local runner's counters are not reliable:
    in streaming mode it reports only the first bundle of each step)."""
    import duckdb

    con = duckdb.connect()

    def one(select: str, pattern: str, where: str = "true") -> list[int]:
        if not glob.glob(pattern):
            return [0] * (select.count(",") + 1)
        row = con.execute(f"select {select} from read_parquet(?) where {where}", [pattern]).fetchone() or ()
        return [int(v or 0) for v in row]

    def appended(table: str) -> str:
        return os.path.join(root, table, "*", f"stream-{run_id}-*.parquet")

    def windowed(table: str) -> str:
        return os.path.join(root, table, "*", "stream-*.parquet")

    lines, blank, sources = one("sum(lines_read), sum(blank_lines), count(distinct source)",
                                os.path.join(root, stats_dir_name(run_id), "*", "*.parquet"))
    events, event_lines = one("count(*), sum(line_count)", appended("events"))
    dead, dead_lines, late = one("count(*), sum(line_count), sum(line_count) filter (where reason like 'too_late%')",
                                 appended("dead_letter"))
    mine = f"run_id = '{run_id}'"  # run ids are generated or checked by prepare(): no quotes
    (kpi_rows,) = one("count(*)", windowed("kpis"), mine)
    (anomalies,) = one("count(*)", windowed("anomalies"), mine)
    (summaries,) = one("count(*)", windowed("summaries"), mine)
    return {"summaries": summaries, "lines_read": lines, "blank": blank, "events": events, "event_lines": event_lines, "dead_letter": dead,
            "dead_letter_lines": dead_lines, "too_late_lines": late, "sources": sources, "kpi_rows": kpi_rows,
            "anomalies": anomalies}


def _print_summary(m: dict, root: str) -> None:
    rate = m["lines_read"] / m["elapsed_s"] if m.get("elapsed_s") else 0.0
    print("\n".join([
        f"run {m['run_id']}: {m['status']} in {m['elapsed_s']:.1f}s ({rate:,.0f} lines/s)",
        f"  read     {m['sources']:,} sources, {m['lines_read']:,} lines",
        f"  events   {m['events']:,}   dead letters {m['dead_letter']:,} "
        f"({m['too_late_lines']:,} lines too late)   blank {m['blank']:,}",
        f"  windows  {m['kpi_rows']:,} kpi rows   anomalies {m['anomalies']:,}   summaries {m['summaries']:,}",
        f"  wrote    {root}/{{events,dead_letter,kpis,template_windows,anomalies,summaries,llm_requests}}",
        f"  manifest {root}/runs/{m['run_id']}.json",
    ]), file=sys.stderr)


def _help() -> str:
    import argparse

    parser = argparse.ArgumentParser(
        prog="aiops stream",
        description="Parse, template, window and score logs as they arrive; write the batch job's Parquet tables.",
        epilog="Any other flag is a Beam pipeline option, e.g. --runner DataflowRunner --project P --region R "
        "--temp_location gs://B/tmp --enable_streaming_engine. Without --runner the job runs locally "
        "(BundleBasedDirectRunner, streaming).",
    )
    JobOptions._add_argparse_args(parser)
    StreamOptions._add_argparse_args(parser)
    return parser.format_help()


def main(argv: list[str]) -> int:
    return job_main("aiops stream", run, _help, argv)
