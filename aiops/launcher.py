"""``aiops batch``: check arguments, run the pipeline, commit, write the manifest, validate.

Bad arguments, missing inputs, an unwritable output or an unreadable template
store fail here, before any pipeline starts, with one line and exit code 2.

Example::

    aiops batch --input 'demo-output/logs/*/*' --output /tmp/out
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable

import apache_beam as beam
from apache_beam.io.filesystem import BeamIOError
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions

from aiops import __version__
from aiops.anomaly.config import AnomalyConfig
from aiops.anomaly.sessions import SessionKey
from aiops.commit import commit_run, remove_staging, write_manifest
from aiops.formats.library import FormatLibrary, FormatLibraryError, library_path_next_to
from aiops.layout import Layout, batch_key, beside_store
from aiops.local_runner import local_runner
from aiops.progress import ProgressPrinter, print_summary
from aiops.sources import InputError, expand_inputs, filesystem_hint
from aiops.templating.store import FileTemplateStore, TemplateStoreError
from aiops.windowing import DEFAULT_WINDOW, parse_duration_us
from pipelines.batch import WORKER_PRELOAD, BatchOptions, build
from pipelines.options import JobOptions, job_flags
from transforms.anomalies import AnomalyContext
from transforms.parse import StageConfig


class UsageError(Exception):
    """A problem with the command line or the environment, reported in one line."""


class RunFailed(Exception):
    """The pipeline itself failed; the manifest records it and nothing was committed."""


class WorkerLog:
    """Where the local workers' stderr went; removed after the run unless a failure points at it."""

    def __init__(self, path: str | None):
        self.path = path
        self.kept = False

    def keep(self) -> str | None:
        """Keep the log (a manifest or an error message names it); returns its path."""
        self.kept = True
        return self.path


@contextlib.contextmanager
def worker_logs_aside(local: bool):
    """Send stderr (local SDK worker processes inherit it) to a log file during the run.

    The local workers log every gRPC channel they open at INFO; a user wants the
    progress line instead. Yields a stream on the real terminal and the :class:`WorkerLog`;
    the log is deleted at the end unless ``keep()`` was called (or the block raised).
    """
    if not local:
        yield sys.stderr, WorkerLog(None)
        return
    fd, log_path = tempfile.mkstemp(prefix="aiops-workers-", suffix=".log")
    log = WorkerLog(log_path)
    saved = os.dup(2)
    sys.stderr.flush()
    os.dup2(fd, 2)
    terminal = os.fdopen(os.dup(saved), "w")
    try:
        yield terminal, log
    except BaseException:
        log.keep()
        raise
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(fd)
        terminal.close()
        if not log.kept:
            os.remove(log_path)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _check_writable(root: str) -> None:
    probe = FileSystems.join(root, f"_probe-{secrets.token_hex(4)}")
    try:
        with FileSystems.create(probe, compression_type="uncompressed") as fh:
            fh.write(b"ok")
        FileSystems.delete([probe])
    # ValueError: unknown scheme or missing credentials; AssertionError: Beam's S3 client without boto3
    except (OSError, BeamIOError, ValueError, AssertionError) as exc:
        raise UsageError(f"output not writable: {root} ({filesystem_hint(exc)})") from exc


def llm_settings(opts):
    """LLMConfig and redaction rules from the flags (None when --llm none); bad values fail fast."""
    from aiops.llm.types import LLMConfig

    if opts.llm == "none":
        return None, None
    if opts.llm == "openai" and not opts.llm_base_url:
        raise UsageError("--llm openai needs --llm_base_url (e.g. http://localhost:8000 or https://api.openai.com)")
    project = opts.vertex_project or os.environ.get("GOOGLE_CLOUD_PROJECT", "")
    if opts.llm == "vertex" and not project:
        raise UsageError("--llm vertex needs --vertex_project (or $GOOGLE_CLOUD_PROJECT)")
    if opts.llm_max_requests < 0 or opts.llm_max_tokens < 0 or opts.llm_rate <= 0 or opts.llm_timeout <= 0:
        raise UsageError("--llm_max_requests/--llm_max_tokens must be >= 0, --llm_rate/--llm_timeout > 0")
    try:
        from aiops.llm.redact import RedactionConfig

        redaction = RedactionConfig.from_spec(list(opts.redact)) if opts.redact else RedactionConfig()
    except ValueError as exc:
        raise UsageError(f"bad --redact: {exc}") from exc
    config = LLMConfig(backend=opts.llm, model=opts.llm_model, base_url=opts.llm_base_url,
                       api_key_env=opts.llm_api_key_env, project=project, location=opts.vertex_location,
                       timeout_s=opts.llm_timeout, max_retries=max(0, opts.llm_retries), max_requests=opts.llm_max_requests, max_tokens=opts.llm_max_tokens,
                       max_prompt_chars=opts.llm_max_prompt_chars, rate_per_s=opts.llm_rate)
    return config, redaction


def _learn_formats(staging: str, store_path: str, llm) -> list[dict]:
    """Propose, validate and save formats for sources whose lines no format recognised (next runs use them)."""
    import json

    from aiops.formats.learn import HeuristicProposer, LLMProposer, learn_formats
    from aiops.formats.library import FormatLibrary

    with FileSystems.open(FileSystems.join(staging, "outputs.json"), compression_type="uncompressed") as fh:
        written = [w for w in json.loads(fh.read().decode())["written"] if w["table"] == "format_samples"]
    if not written:
        return []
    samples = []
    for w in written:
        with FileSystems.open(w["path"], compression_type="uncompressed") as fh:
            d = json.loads(fh.read().decode())
        samples.append((d["source"], d["lines"]))
    library = FormatLibrary(library_path_next_to(store_path)).load()
    proposer: HeuristicProposer | LLMProposer = HeuristicProposer()
    if llm is not None and llm.backend != "offline":
        from aiops.llm.backends import make_backend
        from aiops.llm.redact import redact

        proposer = LLMProposer(make_backend(llm), redact=lambda text: redact(text).text)
    entries = learn_formats(samples, library, proposer)
    if entries:
        library.save()
    return [{"id": e.id, "source_key": e.source_key, "kind": e.kind, "pattern": e.pattern,
             "validated_share": e.validated_share, "proposer": e.proposer} for e in entries]


def _counter(result, name: str) -> int:
    """A Beam counter's committed value (0 when the runner reports none)."""
    from apache_beam.metrics.metric import MetricsFilter

    counters = result.metrics().query(MetricsFilter().with_name(name))["counters"]
    return int(sum(c.committed or 0 for c in counters))


def prepare(argv: list[str]):
    options = PipelineOptions(argv)
    # s3:// (and other filesystems) read their credentials and endpoints from the pipeline options.
    FileSystems.set_options(options)
    opts = job_flags(options, BatchOptions)
    opts.window = opts.window or DEFAULT_WINDOW
    if not opts.input:
        raise UsageError("missing --input (a file or glob; repeatable)")
    if not opts.output:
        raise UsageError("missing --output (a directory)")
    if opts.split_bytes < 1024:
        raise UsageError("bad --split_bytes: use at least 1024")
    try:
        window_us = parse_duration_us(opts.window)
    except ValueError as exc:
        raise UsageError(f"bad --window: {exc}") from exc
    try:
        anomaly_config = AnomalyConfig().with_overrides(opts.anomaly)
    except ValueError as exc:
        raise UsageError(f"bad --anomaly: {exc}") from exc
    try:
        session_key = SessionKey.parse(opts.session_key) if opts.session_key.lower() != "none" else None
    except ValueError as exc:
        raise UsageError(f"bad --session_key: {exc}") from exc
    llm, redaction = llm_settings(opts)
    try:
        files = expand_inputs(opts.input)
    except InputError as exc:
        raise UsageError(str(exc)) from exc
    layout = Layout(opts.output.rstrip("/"))
    _check_writable(layout.root)
    store_path = opts.templates or layout.default_store()
    store = FileTemplateStore(store_path)
    try:
        store.load()
    except TemplateStoreError as exc:
        raise UsageError(f"template store unreadable: {exc}") from exc
    try:
        FormatLibrary(library_path_next_to(store_path)).load()
    except FormatLibraryError as exc:
        raise UsageError(f"format library unreadable: {exc}") from exc
    return options, opts, files, layout, store_path, store, window_us, anomaly_config, session_key, (llm, redaction)


def run(argv: list[str]) -> int:
    options, opts, files, layout, store_path, store, window_us, anomaly_config, session_key, llm = prepare(argv)
    # forked here, single-threaded: the idle ones exit when the pool closes below, or with this process
    runner, local = local_runner(options, argv, fork=True, preload=WORKER_PRELOAD)
    started = _now()
    run_id = opts.run_id or dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)
    key = batch_key([f.path for f in files])
    staging = layout.staging(run_id)
    progress_dir = tempfile.mkdtemp(prefix="aiops-progress-") if local else None
    bins = options.view_as(DirectOptions).direct_num_workers if local else None
    stage = StageConfig(staging=staging, run_id=run_id, format=opts.format, progress_dir=progress_dir, bins=bins,
                        split_bytes=opts.split_bytes, formats_path=library_path_next_to(store_path))
    manifest = {
        "run_id": run_id, "version": __version__, "status": "running", "started_at": started,
        "finished_at": None, "inputs": list(opts.input), "batch_key": key, "format": opts.format,
        "window": opts.window, "session_key": opts.session_key, "anomaly_overrides": list(opts.anomaly),
        "template_store": store_path, "input_files": len(files),
        "input_bytes": sum(f.size for f in files),
    }
    t0 = time.monotonic()
    with worker_logs_aside(local) as (terminal, log):
        printer = ProgressPrinter(progress_dir, len(files), manifest["input_bytes"], terminal) if progress_dir else None
        try:
            if printer:
                printer.start()
            p = beam.Pipeline(runner=runner, options=options) if runner else beam.Pipeline(options=options)
            ctx = AnomalyContext(layout.root, staging, run_id, key, window_us, layout.sequence_models(store_path),
                                 anomaly_config)
            build(p, files, stage, store_path, ctx, session_key)
            result = p.run()
            result.wait_until_finish()
            manifest["anomalous_sessions"] = _counter(result, "anomalous_sessions")
        except Exception as exc:  # the runner wraps worker errors in many types; record, clean up, re-raise
            manifest.update(status="failed", finished_at=_now(), error=f"{type(exc).__name__}: {exc}"[:2000],
                            worker_log=log.keep())
            write_manifest(layout, manifest)
            remove_staging(staging)
            raise RunFailed(f"pipeline failed: {type(exc).__name__}: {str(exc).strip().splitlines()[-1][:300]}"
                            f" (worker log: {log.path})") from exc
        finally:
            if printer:
                printer.stop()
            if runner is not None and runner.pool is not None:
                runner.pool.close()
    learned = _learn_formats(staging, store_path, llm[0])
    summary = commit_run(layout, staging, run_id, key, store, layout.sequence_models(store_path))
    remove_staging(staging)
    elapsed = time.monotonic() - t0
    manifest.update(summary.totals())
    manifest.update(
        status="succeeded", finished_at=_now(), elapsed_s=round(elapsed, 3),
        files=[s._asdict() for s in summary.files], tables=summary.rows,
        templates=summary.templates, new_templates=summary.new_templates, validation=None,
        formats_learned=learned,
    )
    write_manifest(layout, manifest)
    code = 0
    if not opts.no_validate:
        from aiops.validation import validate_output

        report = validate_output(layout.root, run_id)
        manifest["validation"] = report.to_dict()
        if not report.success:
            manifest["status"] = "failed_validation"
            code = 1
        write_manifest(layout, manifest)
    if llm[0] is not None:
        manifest["summaries"] = _summarise(layout, run_id, key, window_us, llm, store_path, options, argv, local)
        write_manifest(layout, manifest)
    print_summary(manifest, layout.root, sys.stderr)
    return code


def _summarise(layout: Layout, run_id: str, key: str, window_us: int, llm, store_path: str, options, argv,
               local: bool) -> dict:
    """Run the summarising pipeline; its failure is recorded, never fatal (the tables are committed)."""
    from pipelines.summaries import summarise_run

    def factory():
        runner, _ = local_runner(options, argv)  # a new runner: the batch job's has run
        if local:  # a few dozen requests: one process, no worker start-up
            small = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
            return beam.Pipeline(runner=runner, options=PipelineOptions(
                [a for a in argv if not a.startswith(("--direct_running_mode", "--direct_num_workers"))] + small))
        return beam.Pipeline(options=options)

    cache_dir = beside_store(store_path, "llm_cache")
    with worker_logs_aside(local) as (_, log):
        try:
            return summarise_run(layout, run_id, key, window_us, llm[0], llm[1], cache_dir, factory)
        except Exception as exc:  # the summaries are an extra: record why they are missing, keep the run
            return {"status": "failed", "error": f"{type(exc).__name__}: {str(exc).strip()[:500]}", "worker_log": log.keep()}


def _help() -> str:
    import argparse

    parser = argparse.ArgumentParser(
        prog="aiops batch",
        description="Parse, template and compute KPIs over log files; write Parquet tables.",
        epilog="Any other flag is a Beam pipeline option, e.g. --runner DataflowRunner --project P "
        "--region R --temp_location gs://B/tmp, or --direct_num_workers N locally. "
        "Without --runner the job runs locally on every core (FnApiRunner, multi_processing).",
    )
    BatchOptions._add_argparse_args(parser)
    JobOptions._add_argparse_args(parser)
    return parser.format_help()


def job_main(prog: str, run_job: Callable[[list[str]], int], help_text: Callable[[], str], argv: list[str]) -> int:
    """A job command: --help, or run; a UsageError exits 2 and a RunFailed 1, each with one line."""
    if "-h" in argv or "--help" in argv:
        print(help_text())
        return 0
    try:
        return run_job(argv)
    except UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except RunFailed as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str]) -> int:
    return job_main("aiops batch", run, _help, argv)
