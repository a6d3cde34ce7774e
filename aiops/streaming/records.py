"""What the streaming sources deliver: one record of raw text, with where it came from.

A Pub/Sub message is one record: its payload is one or more lines (a raw log line, a JSON
object, a stack trace) and its attributes may name the ``service`` (or ``app``) and the
``host`` (or ``hostname``). The record's source is ``pubsub://<subscription or topic>/<message
id>``, so a dead letter points at the message.

Example::

    >>> r = record_from_pubsub(b'{"msg": "up"}', {"service": "web"}, "7", 1_700_000_000_000_000,
    ...                        "projects/p/subscriptions/logs")
    >>> r.source, r.service, r.arrival_us
    ('pubsub://projects/p/subscriptions/logs/7', 'web', 1700000000000000)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

SERVICE_ATTRIBUTES = ("service", "app", "application")
HOST_ATTRIBUTES = ("host", "hostname")


class RawRecord(NamedTuple):
    source: str  # where the record came from (a message URI)
    data: bytes  # one or more physical lines
    service: str  # the attribute's service, else the subscription's or topic's name
    host: str | None  # the attribute's host, used when the record names none
    arrival_us: int  # publish time: the time of records that carry none


def _first(attributes: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = attributes.get(name)
        if value:
            return value
    return None


def record_from_pubsub(data: bytes, attributes: Mapping[str, str] | None, message_id: str, publish_us: int,
                       path: str) -> RawRecord:
    """A Pub/Sub message as a record (``path`` is the subscription or topic it was read from)."""
    attributes = attributes or {}
    service = _first(attributes, SERVICE_ATTRIBUTES) or path.rstrip("/").rsplit("/", 1)[-1] or "pubsub"
    return RawRecord(f"pubsub://{path}/{message_id}", data or b"", service, _first(attributes, HOST_ATTRIBUTES),
                     publish_us)
