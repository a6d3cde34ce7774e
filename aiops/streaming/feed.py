"""The local runner's ``--watch`` source: new files under a glob, delivered once each, with a watermark.

Beam's continuous file matching (``fileio.MatchContinuously``, a splittable DoFn) runs on
Dataflow, Flink and Spark but not on the Python BundleBasedDirectRunner (its SDF override fails
in streaming mode). Locally, :class:`FolderFeed` plays that role: it polls the glob through
Beam's ``FileSystems`` (local paths, gs://, s3://), and serves each new file once its size has
stopped changing, through the runner's TestStream service protocol (an in-process gRPC server;
``TestStream(endpoint=...)`` reads it as an unbounded source). Along with the files it sends

- the watermark: the arrival clock minus ``watermark_delay`` (never decreasing);
- processing-time advances, so processing-time triggers (the Parquet flushes) fire;
- at the end (``duration_s`` elapsed or :meth:`stop`), a final watermark at +infinity, so every
  open window fires and the job ends cleanly.

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
        self.served: list[str] = self._load_state()
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
        served = set(self.served)
        for meta in sorted(found, key=lambda m: m.path):
            if meta.path in served or meta.path.endswith("/"):
                continue
            size = int(meta.size_in_bytes)
            if sizes.get(meta.path) == size:
                ready.append(meta.path)
                sizes.pop(meta.path)
            else:
                sizes[meta.path] = size
        if ready:
            self.served.extend(ready)
            self._save_state()
        return ready

    def _load_state(self) -> list[str]:
        if not self.state_path or not FileSystems.exists(self.state_path):
            return []
        with FileSystems.open(self.state_path, compression_type="uncompressed") as fh:
            return list(json.loads(fh.read().decode()).get("served", []))

    def _save_state(self) -> None:
        if self.state_path:
            tmp = self.state_path + ".tmp"
            with FileSystems.create(tmp, compression_type="uncompressed") as fh:
                fh.write(json.dumps({"pattern": self.pattern, "served": self.served}).encode())
            FileSystems.rename([tmp], [self.state_path])

    def events(self) -> Iterator[_Event]:
        started = last = self.clock()
        watermark = 0
        sizes: dict[str, int] = {}
        while not self._stop.is_set():
            now = self.clock()
            ready = self.poll(sizes)
            if ready:
                stamp = int(now * 1_000) * 1_000
                yield _Event(element_event=_Event.AddElements(tag=_TAG, elements=[
                    pb.TestStreamPayload.TimestampedElement(encoded_element=_encode(p), timestamp=stamp) for p in ready]))
            watermark = max(watermark, int((now - self.watermark_delay_s) * 1_000) * 1_000)
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
            stamp = int(self.clock() * 1_000) * 1_000
            yield _Event(element_event=_Event.AddElements(tag=_TAG, elements=[
                pb.TestStreamPayload.TimestampedElement(encoded_element=_encode(p), timestamp=stamp) for p in last_ready]))
        yield _Event(watermark_event=_Event.AdvanceWatermark(tag=_TAG, new_watermark=MAX_TIMESTAMP.micros))


def _encode(path: str) -> bytes:
    from apache_beam.coders import StrUtf8Coder

    return StrUtf8Coder().encode(path)
