"""The batch job's wiring: ParseLogs -> MineTemplates -> ApplyTemplates -> ScoreServices (KPIs, anomalies).

Only wiring lives here; the launcher (``aiops.launcher``) checks arguments,
chooses the runner, commits the staged files and writes the run manifest.

Example::

    aiops batch --input 'logs/*/*.log*' --output out/ --window 5m
    aiops batch --input 'gs://bucket/logs/2026-11-22/**' --output gs://bucket/aiops \\
        --runner DataflowRunner --project P --region europe-west1 --temp_location gs://bucket/tmp
"""

from __future__ import annotations

import json

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from aiops.anomaly.sessions import DEFAULT_SESSION_KEY, SessionKey
from aiops.parquet_io import WrittenFile
from aiops.schema import FileStats
from aiops.sources import InputFile
from aiops.splitting import DEFAULT_CHUNK_BYTES
from transforms.anomalies import AnomalyContext
from transforms.gather import Gather
from transforms.parse import ParseLogs, StageConfig
from transforms.scoring import ScoreServices
from transforms.templates import ApplyTemplates, MineTemplates

OUTPUTS_FILE = "outputs.json"
# Modules the job's DoFns import only when they run (the learner, the sequence model and what
# Arrow's group_by loads): forked local workers import them while the pipeline is being built.
WORKER_PRELOAD = ("aiops.templating.learner", "aiops.templating.cluster", "aiops.templating.merge",
                  "aiops.anomaly.sequence", "pyarrow.dataset", "pyarrow.acero")


class BatchOptions(PipelineOptions):
    """Flags of ``aiops batch``; every other flag goes to Beam (runner, project, workers...)."""

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--input", action="append", default=[],
                            help="File or glob to read (local, gs://, s3://; .gz/.bz2/.zst by extension). Repeatable.")
        parser.add_argument("--no_validate", "--no-validate", dest="no_validate", action="store_true",
                            help="Skip the Great Expectations checks at the end of the run.")
        parser.add_argument("--split_bytes", "--split-bytes", dest="split_bytes", type=int, default=DEFAULT_CHUNK_BYTES,
                            help="Uncompressed files larger than this many bytes are read as parallel byte "
                                 "ranges that start at an event (default 64 MiB).")
        parser.add_argument("--session_key", "--session-key", dest="session_key", default=DEFAULT_SESSION_KEY,
                            help="What groups events into sessions for sequence scoring: a column of the events "
                                 "table (trace_id, session_id, host...) or a regex whose first match in the "
                                 "message is the key, e.g. 'blk_-?\\d+'. Default: trace_id.")


def collect_outputs(outputs, staging: str):
    """One file listing every written file and every file's stats: what the launcher commits.

    Written once the job has finished everything else; a job that wrote nothing and read no file
    writes no list (the batch job always reads a file; the summaries job reads a missing list as empty).
    """

    def write(items):
        written = [w._asdict() for w in items if isinstance(w, WrittenFile)]
        stats = [s._asdict() for s in items if isinstance(s, FileStats)]
        path = FileSystems.join(staging, OUTPUTS_FILE)
        with FileSystems.create(path, compression_type="uncompressed") as fh:
            fh.write(json.dumps({"written": written, "stats": stats}).encode())
        return path

    return (
        outputs
        | "FlattenOutputs" >> beam.Flatten()
        | "CollectOutputs" >> Gather()
        | "WriteOutputList" >> beam.Map(write)
    )


def build(p: beam.Pipeline, files: list[InputFile], stage: StageConfig, store_path: str, ctx: AnomalyContext,
          session_key: SessionKey | None):
    """Wire the batch job into ``p``; returns the PCollection holding the outputs-list path."""
    window_us = ctx.window_us
    # no reshuffle after the list: ParseLogs packs the files into balanced units first
    parsed = p | "ListFiles" >> beam.Create(files, reshuffle=False) | "ParseLogs" >> ParseLogs(stage)
    mined = parsed.observations | "MineTemplates" >> MineTemplates(store_path, stage.staging)
    applied = parsed.staged | "ApplyTemplates" >> ApplyTemplates(
        mined.models, stage.staging, stage.run_id, window_us, stage.bins, session_key, ctx.config.top_values)
    scored = applied.scoring | "ScoreServices" >> ScoreServices(ctx, mined.models, stage.bins)
    samples = parsed.format_samples | "WriteFormatSamples" >> beam.Map(_write_samples, stage.staging)
    return collect_outputs((parsed.written, parsed.stats, mined.written, applied.written, scored, samples),
                           stage.staging)


def _write_samples(element, staging: str) -> WrittenFile:
    """Lines no format recognised, for the launcher to learn a format from after the run."""
    import hashlib

    source, lines = element
    name = hashlib.blake2b(source.encode(), digest_size=8).hexdigest()
    path = FileSystems.join(staging, "format_samples", f"{name}.json")
    with FileSystems.create(path, compression_type="uncompressed") as fh:
        fh.write(json.dumps({"source": source, "lines": list(lines)}).encode())
    return WrittenFile("format_samples", "", path, len(lines))
