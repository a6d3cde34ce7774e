"""The streaming job's sources: new files under a glob, or Pub/Sub messages, as records to parse.

``WatchFiles`` reads each new file once: ``fileio.MatchContinuously`` on Dataflow, Flink and
Spark; on the local runner the :class:`aiops.streaming.feed.FolderFeed` service (pass its
endpoint). ``ReadPubSub`` reads a subscription (or a topic, through a temporary subscription),
with attributes, and turns each message into a :class:`aiops.streaming.records.RawRecord`.

Example::

    paths = p | WatchFiles("gs://bucket/logs/**", interval_s=30)
    records = p | ReadPubSub(subscription="projects/P/subscriptions/S")
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.coders import StrUtf8Coder
from apache_beam.io import fileio
from apache_beam.testing.test_stream import TestStream

from aiops.streaming.records import record_from_pubsub


class WatchFiles(beam.PTransform):
    """PBegin -> PCollection[str]: the path of every new file, once."""

    def __init__(self, pattern: str, interval_s: float, endpoint: str | None = None):
        super().__init__()
        self.pattern, self.interval_s, self.endpoint = pattern, interval_s, endpoint

    def expand(self, pbegin):
        if self.endpoint:
            return pbegin | "FolderFeed" >> TestStream(coder=StrUtf8Coder(), endpoint=self.endpoint)
        return (
            pbegin
            | "MatchContinuously" >> fileio.MatchContinuously(self.pattern, interval=self.interval_s,
                                                              has_deduplication=True)
            | "FilePaths" >> beam.Map(lambda meta: meta.path)
        )


class ReadPubSub(beam.PTransform):
    """PBegin -> PCollection[RawRecord]."""

    def __init__(self, subscription: str | None = None, topic: str | None = None):
        super().__init__()
        self.subscription, self.topic = subscription, topic

    def expand(self, pbegin):
        path = self.subscription or self.topic or ""
        return (
            pbegin
            | "ReadPubSub" >> beam.io.ReadFromPubSub(subscription=self.subscription, topic=self.topic,
                                                     with_attributes=True)
            # The element timestamp is the publish time: the time of records that carry none.
            | "ToRecords" >> beam.Map(lambda m, ts=beam.DoFn.TimestampParam: record_from_pubsub(
                m.data, m.attributes, m.message_id or "", ts.micros, path))
        )
