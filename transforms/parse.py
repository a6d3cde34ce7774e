"""ParseLogs: read input files, parse every physical line, stage events for templating.

Pass 1 of the batch job. For each input file one DoFn call reads the lines,
parses them (``aiops.parsing``), masks the messages (vectorised) and appends
Arrow batches to a staged Arrow IPC stream (cheaper to write and read back than
Parquet for an intermediate that lives a few seconds). It emits, per file:

- main output: ``(service, [(masked, (count, first_us, last_us, example)), ...])``
  for the template learner (the distinct masked messages, not the lines);
- ``staged``: (staged path, events), the input of pass 2;
- ``written``: dead-letter files it wrote (``WrittenFile``);
- ``stats``: one ``FileStats`` with the line accounting of the file;
- ``format_samples``: ``(path, [up to 200 raw lines])`` of lines that no format recognised
  (whole line = message), for files whose source has no learnt format and where at least
  20 lines or 20% of the lines fell back; the input of :func:`aiops.formats.learn_formats`.

With ``StageConfig.formats_path`` the pattern library (:mod:`aiops.formats`) is loaded once
per DoFn instance; a file whose source has an entry is parsed with that format first
(``--format auto`` only).

Example (see tests/test_transforms.py)::

    files | ParseLogs(StageConfig(staging="/tmp/out/_staging/r1", run_id="r1"))
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from aiops.balance import pack, parse_cost
from aiops.formats.library import FormatEntry, FormatLibrary
from aiops.formats.pattern import PatternError, compile_format
from aiops.parquet_io import PartitionedWriter, WrittenFile
from aiops.parsing.blocks import is_fast_line
from aiops.parsing.fields import Fields
from aiops.parsing.files import FileParse
from aiops.parsing.reader import LogParser, ParseConfig
from aiops.schema import (
    DeadLetter,
    FileStats,
    ParsedEvent,
    arrow_schema,
    rows_to_table,
)
from aiops.sources import InputFile, sample_density
from aiops.splitting import DEFAULT_CHUNK_BYTES, split_input
from aiops.templating.masking import mask_array
from transforms.gather import Gather

BATCH_EVENTS = 16_384
STAGED_SCHEMA = arrow_schema(ParsedEvent).append(pa.field("masked", pa.string()))
STAGED_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")
DEAD_LETTER_SCHEMA = arrow_schema(DeadLetter)
FORMAT_SAMPLE_LINES = 200  # fallback lines kept per file for format learning
FORMAT_SAMPLE_MIN_LINES = 20  # emit a sample when at least this many lines fell back ...
FORMAT_SAMPLE_MIN_SHARE = 0.2  # ... or at least this share of the file's lines


@dataclass(frozen=True)
class StageConfig:
    """What every stage of one run needs to know."""

    staging: str  # DIR/_staging/<run_id>
    run_id: str
    format: str = "auto"
    progress_dir: str | None = None  # local dir for live progress files, or None
    bins: int | None = None  # local workers to balance work across; None: one unit per file
    split_bytes: int = DEFAULT_CHUNK_BYTES  # uncompressed files larger than this are read in ranges
    formats_path: str | None = None  # the pattern library (formats.json) of learnt formats, if any


def work_units(items, bins: int | None, weight, label: str):
    """Group elements into ``bins`` balanced lists (local runner), else one list per element."""
    if not bins:
        return items | f"{label}Units" >> beam.Map(lambda item: [item])
    return (
        items
        | f"Collect{label}" >> Gather()
        | f"Pack{label}" >> beam.FlatMap(lambda all_items: pack([(i, weight(i)) for i in all_items], bins))
    )


class _Progress:
    """Writes this worker's running totals to a small JSON file about once a second."""

    def __init__(self, directory: str | None):
        self.path = os.path.join(directory, f"{uuid.uuid4().hex}.json") if directory else None
        self.bytes = self.lines = self.files = 0
        self._last = 0.0

    def add(self, nbytes: int = 0, lines: int = 0, files: int = 0) -> None:
        self.bytes += nbytes
        self.lines += lines
        self.files += files
        if self.path and (files or time.monotonic() - self._last > 1.0):
            self._last = time.monotonic()
            tmp = self.path + ".tmp"
            with open(tmp, "w") as fh:
                json.dump({"bytes": self.bytes, "lines": self.lines, "files": self.files}, fh)
            os.replace(tmp, self.path)


class Observations:
    """Distinct (service, masked) with count, first and last time and one example."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], list] = {}

    def add(self, table: pa.Table) -> None:
        # int64 times: Observations and models carry µs ints, never datetimes.
        table = table.set_column(table.schema.get_field_index("event_time"), "event_time",
                                 table.column("event_time").cast(pa.int64()))
        grouped = table.group_by(["service", "masked"], use_threads=False).aggregate(
            [("event_time", "count"), ("event_time", "min"), ("event_time", "max"), ("message", "first")]
        )
        for svc, masked, n, lo, hi, example in zip(
            *(grouped.column(i).to_pylist() for i in range(6)), strict=True
        ):
            cur = self.rows.get((svc, masked))
            if cur is None:
                self.rows[(svc, masked)] = [n, lo, hi, example]
            else:
                cur[0] += n
                cur[1] = min(cur[1], lo)
                cur[2] = max(cur[2], hi)


class ParseFileFn(beam.DoFn):
    """One input file in, staged events and learner observations out."""

    def __init__(self, config: StageConfig):
        self.config = config
        self.lines = Metrics.counter("aiops", "lines_read")
        self.events = Metrics.counter("aiops", "events")
        self.dead = Metrics.counter("aiops", "dead_letter_lines")
        self.blank = Metrics.counter("aiops", "blank_lines")
        self.bytes = Metrics.counter("aiops", "bytes_read")
        self.fallback = Metrics.counter("aiops", "fallback_lines")

    def setup(self) -> None:
        self.progress = _Progress(self.config.progress_dir)
        path = self.config.formats_path
        self.library = FormatLibrary(path).load() if path and self.config.format == "auto" else None
        self._compiled: dict[str, Callable[[str, int], Fields | None] | None] = {}

    def learned_format(self, path: str) -> tuple[FormatEntry | None, Callable[[str, int], Fields | None] | None]:
        """The library entry for this file's source and its compiled parser (None if it does not compile)."""
        entry = self.library.match(path) if self.library is not None else None
        if entry is None:
            return None, None
        if entry.id not in self._compiled:
            try:
                self._compiled[entry.id] = compile_format(entry.kind, entry.pattern)
            except PatternError as e:  # a hand-edited library: parse as if there were no entry
                logging.getLogger(__name__).warning("format %s for %s ignored: %s", entry.id, entry.source_key, e)
                self._compiled[entry.id] = None
        return entry, self._compiled[entry.id]

    def process(self, unit: list[InputFile]):
        for f in unit:
            yield from self.process_file(f)

    def process_file(self, f: InputFile):
        cfg = self.config
        part = uuid.uuid4().hex
        entry, learned = self.learned_format(f.path)
        sampling = FORMAT_SAMPLE_LINES if cfg.format == "auto" and entry is None else 0
        parser = LogParser(f.path, ParseConfig(format=cfg.format, default_service=f.service, reference_time_us=f.mtime_us,
                                               learned=learned, sample_fallbacks=sampling))
        staged_path = FileSystems.join(cfg.staging, "parsed", f"{part}.arrows")
        dead_writer = PartitionedWriter(FileSystems.join(cfg.staging, "dead_letter"), part, "event_time", schema=DEAD_LETTER_SCHEMA)
        observations = Observations()
        stats = dict(events=0, event_lines=0, dead=0, bytes=0)
        events: list[ParsedEvent] = []
        tables: list[pa.Table] = []  # fast-path tables, interleaved with ``events`` by line number
        pending = [0]  # events waiting in ``events`` and ``tables``
        dead: list[DeadLetter] = []

        def on_bytes(n: int) -> None:
            stats["bytes"] += n
            self.progress.add(nbytes=n)

        with FileSystems.create(staged_path, compression_type="uncompressed") as fh:
            writer = pa.ipc.new_stream(fh, STAGED_SCHEMA, options=STAGED_OPTIONS)

            def flush() -> None:
                if events or tables:
                    table = _in_line_order(events, tables)
                    table = table.append_column("masked", mask_array(table.column("message")))
                    writer.write_table(table)
                    observations.add(table)
                    stats["events"] += table.num_rows
                    stats["event_lines"] += int(pc.sum(table.column("line_count")).as_py())
                    events.clear()
                    tables.clear()
                    pending[0] = 0
                if dead:
                    rows = [d._replace(run_id=cfg.run_id) for d in dead]
                    dead_writer.write(rows_to_table(DeadLetter, rows))
                    stats["dead"] += sum(d.line_count for d in dead)
                    dead.clear()

            def on_lines(n: int) -> None:
                self.progress.add(lines=n)

            run = FileParse(f, parser, on_bytes, on_lines, tables=True)
            for item in run:
                if type(item) is ParsedEvent:
                    events.append(item)
                    pending[0] += 1
                    if pending[0] >= BATCH_EVENTS:
                        flush()
                elif type(item) is DeadLetter:
                    dead.append(item)
                    if len(dead) >= BATCH_EVENTS:
                        flush()
                elif isinstance(item, pa.Table):  # events of a vectorised fast path
                    tables.append(item)
                    pending[0] += item.num_rows
                    if pending[0] >= BATCH_EVENTS:
                        flush()
            flush()
            writer.close()
        lines_read = run.lines_read
        self.progress.add(files=int(f.is_last_part))
        file_stats = FileStats(f.path, stats["bytes"], lines_read, stats["events"], stats["event_lines"],
                               stats["dead"], parser.blank_lines)
        self.lines.inc(lines_read)
        self.events.inc(stats["events"])
        self.dead.inc(stats["dead"])
        self.blank.inc(parser.blank_lines)
        self.bytes.inc(stats["bytes"])
        self.fallback.inc(parser.fallback_lines)
        # One element per service, not per distinct message: far fewer elements to move.
        by_service: dict[str, list] = {}
        for (service, masked), value in observations.rows.items():
            by_service.setdefault(service, []).append((masked, tuple(value)))
        yield from by_service.items()
        yield beam.pvalue.TaggedOutput("staged", (staged_path, stats["events"]))
        yield beam.pvalue.TaggedOutput("stats", file_stats)
        for written in dead_writer.close():
            yield beam.pvalue.TaggedOutput("written", written)
        fell_back = parser.fallback_lines
        if sampling and fell_back and (fell_back >= FORMAT_SAMPLE_MIN_LINES or fell_back >= FORMAT_SAMPLE_MIN_SHARE * lines_read):
            yield beam.pvalue.TaggedOutput("format_samples", (f.path, parser.fallback_sample))


def _in_line_order(events: list[ParsedEvent], tables: list[pa.Table]) -> pa.Table:
    """One table of a file's pending events in line order: per-line rows and fast-path tables interleave."""
    if not tables:
        return rows_to_table(ParsedEvent, events)
    if not events:
        return pa.concat_tables(tables)
    table = pa.concat_tables([rows_to_table(ParsedEvent, events), *tables])
    return table.take(pc.sort_indices(table.column("line_no")))


def _file_cost(f: InputFile) -> int:
    """Estimated parse cost of a file or range, from its size and the density of its head."""
    return parse_cost(f.path, (f.end or f.size) - f.start, sample_density(f.path, f.start, fast_line=is_fast_line))


class ParseLogs(beam.PTransform):
    """PCollection[InputFile] -> tagged outputs: main (observations), staged (path, rows), written, stats,
    format_samples (path, lines)."""

    def __init__(self, config: StageConfig):
        super().__init__()
        self.config = config

    def expand(self, files):
        cfg = self.config
        parts = files | "SplitLargeFiles" >> beam.FlatMap(lambda f: split_input(f, cfg.format, cfg.split_bytes))
        return (
            work_units(parts, cfg.bins, _file_cost, "Files")
            | "SpreadFiles" >> beam.Reshuffle()
            | "ParseFiles" >> beam.ParDo(ParseFileFn(self.config)).with_outputs(
                "staged", "written", "stats", "format_samples", main="observations")
        )


__all__ = ["ParseLogs", "StageConfig", "WrittenFile", "STAGED_SCHEMA"]
