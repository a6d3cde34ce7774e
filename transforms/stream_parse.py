"""ParseStream: new files or Pub/Sub records in, per-(service, window) batches of parsed events out.

The streaming job's first stage. It parses with the batch job's parser (``LogParser`` through
:class:`aiops.parsing.files.FileParse` for files; one parser per record for Pub/Sub, so a
multi-line record such as a stack trace stays one event) and masks messages the same way,
then groups events into :class:`EventBatch` elements, one per service and event-time window,
timestamped with the window start: per-element overhead dominates Beam, so events travel in
Arrow tables, never one by one.

Tagged outputs: ``dead_letter`` (lists of DeadLetter rows) and ``stats`` (the line accounting:
one FileStats per file, or per subscription and bundle for Pub/Sub records).

Example (see tests/test_stream.py)::

    parsed = paths | ParseStream(StreamParseConfig(window_us=60_000_000, run_id="s1"))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput
from apache_beam.transforms.window import GlobalWindow, TimestampedValue
from apache_beam.utils.timestamp import MIN_TIMESTAMP, Timestamp
from apache_beam.utils.windowed_value import WindowedValue

from aiops.parsing.files import FileParse
from aiops.parsing.reader import LogParser, ParseConfig
from aiops.schema import DeadLetter, FileStats, ParsedEvent, rows_to_table
from aiops.sources import input_file
from aiops.streaming.records import RawRecord
from aiops.templating.masking import mask_array

BATCH_EVENTS = 16_384


class EventBatch(NamedTuple):
    """Events of one service in one window: parsed (STAGED_SCHEMA) or templated (Event schema)."""

    service: str
    window_start: int
    table: pa.Table
    first_seen: dict[str, int]  # templated batches: template id -> first seen (µs); {} before templating
    # When the data arrived, on the source's clock: the file listing or publish time (the element
    # timestamp the source gave it, which is not behind the source's watermark). Lateness is judged
    # against it, so whether a line is too late does not depend on how busy the pipeline is.
    arrival_us: int = 0


@dataclass(frozen=True)
class StreamParseConfig:
    window_us: int
    run_id: str
    format: str = "auto"


def batch_events(events: list[ParsedEvent], window_us: int, arrival_us: int | list[int] = 0) -> list[EventBatch]:
    """Group parsed events by (service, window start), masked, in arrival order within a group.

    ``arrival_us``: one arrival time for all events, or one per event (a group keeps its earliest).
    """
    if not events:
        return []
    table = rows_to_table(ParsedEvent, events)
    table = table.append_column("masked", mask_array(table.column("message")))
    times = table.column("event_time").cast(pa.int64()).to_numpy()
    starts = times - times % window_us
    services = table.column("service").to_numpy(zero_copy_only=False)
    keys = sorted(set(zip(services.tolist(), starts.tolist(), strict=True)))
    if isinstance(arrival_us, int):
        arrivals = np.full(len(events), arrival_us, dtype=np.int64)
    else:
        arrivals = np.asarray(arrival_us, dtype=np.int64)
    if len(keys) == 1:
        return [EventBatch(keys[0][0], keys[0][1], table, {}, int(arrivals.min()))]
    out = []
    for service, start in keys:
        mask = (services == service) & (starts == start)
        arrival = int(arrivals[mask].min())
        out.append(EventBatch(service, start, table.filter(pa.array(mask)), {}, arrival))
    return out


def _timestamped(batch: EventBatch) -> TimestampedValue:
    return TimestampedValue(batch, Timestamp(micros=batch.window_start))


class _ParseFn(beam.DoFn):
    def __init__(self, config: StreamParseConfig):
        self.config = config
        self.lines = Metrics.counter("aiops", "lines_read")
        self.events = Metrics.counter("aiops", "events_parsed")
        self.dead = Metrics.counter("aiops", "dead_letter_lines")
        self.blank = Metrics.counter("aiops", "blank_lines")
        self.dead_rows = Metrics.counter("aiops", "dead_letter_rows")

    def _batches(self, events: list[ParsedEvent], arrival_us: int | list[int]) -> list[TimestampedValue]:
        out = [_timestamped(b) for b in batch_events(events, self.config.window_us, arrival_us)]
        self.events.inc(len(events))
        events.clear()
        if isinstance(arrival_us, list):
            arrival_us.clear()
        return out

    def _dead(self, dead: list[DeadLetter]):
        if dead:
            self.dead.inc(sum(d.line_count for d in dead))
            self.dead_rows.inc(len(dead))
            yield beam.pvalue.TaggedOutput("dead_letter", [d._replace(run_id=self.config.run_id) for d in dead])


class ParseFilesFn(_ParseFn):
    """A new file's path in (the watch source delivers each file once); its batches out."""

    def process(self, path: str, arrived=beam.DoFn.TimestampParam):
        matched = FileSystems.match([path])[0].metadata_list
        if not matched:  # deleted between listing and reading: nothing was read, nothing to account for
            return
        f = input_file(matched[0])
        parser = LogParser(f.path, ParseConfig(format=self.config.format, default_service=f.service,
                                               reference_time_us=f.mtime_us))
        run = FileParse(f, parser)
        events: list[ParsedEvent] = []
        dead: list[DeadLetter] = []
        n_events = n_event_lines = 0
        for item in run:
            if type(item) is ParsedEvent:
                events.append(item)
                n_events += 1
                n_event_lines += item.line_count
                if len(events) >= BATCH_EVENTS:
                    yield from self._batches(events, arrived.micros)
            elif type(item) is DeadLetter:
                dead.append(item)
        yield from self._batches(events, arrived.micros)
        yield from self._dead(dead)
        self.lines.inc(run.lines_read)
        self.blank.inc(parser.blank_lines)
        dead_lines = sum(d.line_count for d in dead)
        yield beam.pvalue.TaggedOutput("stats", FileStats(f.path, f.size, run.lines_read, n_events, n_event_lines,
                                                           dead_lines, parser.blank_lines))


class ParseRecordsFn(_ParseFn):
    """Pub/Sub records in, one parser per record; events wait for the bundle's end to travel in bigger batches."""

    def start_bundle(self):
        self._pending: list[ParsedEvent] = []
        self._arrivals: list[int] = []  # per pending event: its record's publish time
        self._stats: dict[str, list[int]] = {}  # per subscription: bytes, lines, events, event lines, dead lines, blank

    def process(self, record: RawRecord, arrived=beam.DoFn.TimestampParam):
        parser = LogParser(record.source, ParseConfig(format=self.config.format, default_service=record.service,
                                                      reference_time_us=record.arrival_us))
        lines = record.data.split(b"\n") if record.data else []
        if lines and lines[-1] == b"":
            lines.pop()  # a trailing newline ends the last line; it is not a line of its own
        items = [item for i, raw in enumerate(lines, 1) for item in parser.feed(raw.removesuffix(b"\r"), i)]
        items += parser.finish()
        self.lines.inc(len(lines))
        self.blank.inc(parser.blank_lines)
        stats = self._stats.setdefault(record.source.rsplit("/", 1)[0], [0] * 6)
        dead = [d for d in items if type(d) is DeadLetter]
        for item in items:
            if type(item) is ParsedEvent:
                self._pending.append(item._replace(host=record.host) if item.host is None and record.host else item)
                self._arrivals.append(arrived.micros)
                stats[2] += 1
                stats[3] += item.line_count
        for i, n in enumerate((len(record.data), len(lines)), 0):
            stats[i] += n
        stats[4] += sum(d.line_count for d in dead)
        stats[5] += parser.blank_lines
        yield from self._dead(dead)
        if len(self._pending) >= BATCH_EVENTS:
            yield from self._batches(self._pending, self._arrivals)

    def finish_bundle(self):
        for batch in self._batches(self._pending, self._arrivals):
            yield WindowedValue(batch.value, batch.timestamp, [GlobalWindow()])
        for source, (nbytes, lines, events, event_lines, dead, blank) in self._stats.items():
            stats = FileStats(source, nbytes, lines, events, event_lines, dead, blank)
            yield TaggedOutput("stats", WindowedValue(stats, MIN_TIMESTAMP, [GlobalWindow()]))


class ParseStream(beam.PTransform):
    """PCollection[str path] or PCollection[RawRecord] -> EventBatch; tagged dead_letter, stats."""

    def __init__(self, config: StreamParseConfig, records: bool = False):
        super().__init__()
        self.config = config
        self.records = records

    def expand(self, items):
        fn = ParseRecordsFn(self.config) if self.records else ParseFilesFn(self.config)
        return items | "ParseItems" >> beam.ParDo(fn).with_outputs("dead_letter", "stats", main="batches")


