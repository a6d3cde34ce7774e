"""The local runner's ``--watch`` source: new files under a glob, delivered once each, with a watermark.

Beam's continuous file matching (``fileio.MatchContinuously``, a splittable DoFn) runs on
Dataflow, Flink and Spark but not on the Python BundleBasedDirectRunner (its SDF override fails
in streaming mode). Locally, :class:`FolderFeed` plays that role: it polls the glob through
Beam's ``FileSystems`` (local paths, gs://, s3://), and serves each new file once its size has
stopped changing, through the runner's TestStream service protocol (an in-process gRPC server;
``TestStream(endpoint=...)`` reads it as an unbounded source). Along with the files (each stamped with the watermark when it was found: its arrival time) it sends

- the watermark: the arrival clock minus ``watermark_delay`` (never decreasing);
- processing-time advances, so processing-time triggers (the Parquet flushes) fire;
- at the end (``duration_s`` elapsed or :meth:`stop`), a final watermark at +infinity, so every
  open window fires, then a day of processing time, so the last Parquet flush fires and the job
  ends cleanly.

Example::

    feed = FolderFeed("/var/log/app/*/*.log", interval_s=2)
    paths = p | TestStream(coder=StrUtf8Coder(), endpoint=feed.start())
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator

from apache_beam.io.filesystem import BeamIOError
from apache_beam.io.filesystems import FileSystems
from apache_beam.portability.api import beam_runner_api_pb2 as pb
from apache_beam.testing.test_stream_service import TestStreamServiceController
from apache_beam.utils.timestamp import MAX_TIMESTAMP

_Event = pb.TestStreamPayload.Event
_TAG = "None"  # the TestStream's main output
FINAL_CLOCK_ADVANCE_US = 86_400_000_000
LOG = logging.getLogger(__name__)


class FolderFeed:
    """Poll ``pattern``; serve new, settled files once each as a TestStream event stream."""

    def __init__(self, pattern: str, interval_s: float = 2.0, watermark_delay_s: float = 5.0,
                 duration_s: float | None = None, clock: Callable[[], float] = time.time,
                 state_path: str | None = None):
        self.pattern = pattern
        self.state_path = state_path  # the files served so far, kept so that a restarted job skips them
        self.interval_s = interval_s
        self.watermark_delay_s = watermark_delay_s
        self.duration_s = duration_s
        self.clock = clock
        self.served: set[str] = self._load_state()
        self._stop = threading.Event()
        self._server: TestStreamServiceController | None = None

    # -- the TestStream service side -----------------------------------------------------------
    def start(self) -> str:
        """Start the gRPC service; returns the endpoint for ``TestStream(endpoint=...)``."""
        self._server = TestStreamServiceController(self)
        self._server.start()
        return self._server.endpoint

    def stop(self) -> None:
        """End the stream: the next poll sends the final watermark."""
        self._stop.set()

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def read_multiple(self, _tags) -> Iterator[_Event]:  # called by TestStreamServiceController.Events
        return self.events()

    # -- the events ----------------------------------------------------------------------------
    def poll(self, sizes: dict[str, int]) -> list[str]:
        """Files that appeared and whose size did not change since the previous poll."""
        try:
            found = FileSystems.match([self.pattern])[0].metadata_list
        except (BeamIOError, OSError, ValueError) as exc:  # a flaky listing: try again next poll
            LOG.warning("cannot list %s: %s", self.pattern, exc)
            return []
        ready = []
        # Forget served files that are gone (rotated away): the state stays the size of the folder.
        listed = {meta.path for meta in found}
        gone = self.served - listed
        self.served -= gone
        for meta in sorted(found, key=lambda m: m.path):
            if meta.path in self.served or meta.path.endswith("/"):
                continue
            size = int(meta.size_in_bytes)
            if sizes.get(meta.path) == size:
                ready.append(meta.path)
                sizes.pop(meta.path)
            else:
                sizes[meta.path] = size
        if ready or gone:
            self.served.update(ready)
            self._save_state()
        return ready

    def _load_state(self) -> set[str]:
        if not self.state_path or not FileSystems.exists(self.state_path):
            return set()
        with FileSystems.open(self.state_path, compression_type="uncompressed") as fh:
            return set(json.loads(fh.read().decode()).get("served", []))

    def _save_state(self) -> None:
        if self.state_path:
            tmp = self.state_path + ".tmp"
            with FileSystems.create(tmp, compression_type="uncompressed") as fh:
                fh.write(json.dumps({"pattern": self.pattern, "served": sorted(self.served)}).encode())
            FileSystems.rename([tmp], [self.state_path])

    def events(self) -> Iterator[_Event]:
        started = last = self.clock()
        watermark = 0
        sizes: dict[str, int] = {}
        while not self._stop.is_set():
            now = self.clock()
            ready = self.poll(sizes)
            watermark = max(watermark, int((now - self.watermark_delay_s) * 1_000) * 1_000)
            if ready:  # stamped with the watermark: a file's arrival time on the source's clock
                yield _files(ready, watermark)
            yield _Event(watermark_event=_Event.AdvanceWatermark(tag=_TAG, new_watermark=watermark))
            advance = int((now - last) * 1_000) * 1_000
            if advance > 0:
                yield _Event(processing_time_event=_Event.AdvanceProcessingTime(advance_duration=advance))
                last += advance / 1_000_000
            if self.duration_s is not None and now - started >= self.duration_s:
                break
            self._stop.wait(self.interval_s)
        # One last poll: files that settled since the previous one are still read.
        last_ready = self.poll(sizes)
        if last_ready:
            yield _files(last_ready, max(watermark, int((self.clock() - self.watermark_delay_s) * 1_000) * 1_000))
        yield _Event(watermark_event=_Event.AdvanceWatermark(tag=_TAG, new_watermark=MAX_TIMESTAMP.micros))
        # The runner's clock is ours: move it past every pending processing-time trigger (the last Parquet
        # flush), or the runner would wait for it forever.
        yield _Event(processing_time_event=_Event.AdvanceProcessingTime(advance_duration=FINAL_CLOCK_ADVANCE_US))


def _files(paths: list[str], stamp_us: int) -> _Event:
    from apache_beam.coders import StrUtf8Coder

    coder = StrUtf8Coder()
    return _Event(element_event=_Event.AddElements(tag=_TAG, elements=[
        pb.TestStreamPayload.TimestampedElement(encoded_element=coder.encode(p), timestamp=stamp_us) for p in paths]))
