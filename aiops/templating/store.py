"""Persistent template store: the templates learned so far, per service, with per-batch counts.

:class:`FileTemplateStore` keeps them in one JSON file (gzip when the path ends in ``.gz``) through
Beam's ``FileSystems``, so local paths, ``gs://`` and ``s3://`` all work.  Saving writes a temporary
file next to the target and renames it over the target (atomic on local disks).

Example::

    >>> import tempfile, os
    >>> from aiops.templating.learner import StoredTemplate
    >>> from aiops.templating.store import FileTemplateStore
    >>> store = FileTemplateStore(os.path.join(tempfile.mkdtemp(), "templates.json.gz"))
    >>> store.load()
    []
    >>> store.save([StoredTemplate("svc", "0123456789abcdef", "took <*> ms", 1, 2, {"b1": 3}, "took 3 ms")])
    >>> store.load()[0].counts
    {'b1': 3}
"""

from __future__ import annotations

import json
import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence

from aiops.templating.learner import StoredTemplate

FORMAT_VERSION = 1


class TemplateStoreError(Exception):
    """The store exists but cannot be read or written."""


class TemplateStore(ABC):
    @abstractmethod
    def load(self) -> list[StoredTemplate]: ...

    @abstractmethod
    def save(self, templates: Sequence[StoredTemplate]) -> None: ...


class InMemoryTemplateStore(TemplateStore):
    """A store in memory: the fake for tests."""

    def __init__(self, templates: Sequence[StoredTemplate] = ()):
        self.templates = [_copy(t) for t in templates]
        self.saves = 0

    def load(self) -> list[StoredTemplate]:
        return [_copy(t) for t in self.templates]

    def save(self, templates: Sequence[StoredTemplate]) -> None:
        self.templates = [_copy(t) for t in templates]
        self.saves += 1


def _copy(t: StoredTemplate) -> StoredTemplate:
    return t._replace(counts=dict(t.counts))


def to_json(templates: Sequence[StoredTemplate]) -> bytes:
    rows = [t._asdict() for t in sorted(templates, key=lambda t: (t.service, t.template_id))]
    return json.dumps({"version": FORMAT_VERSION, "templates": rows}, sort_keys=True).encode("utf-8")


def from_json(data: bytes, where: str = "template store") -> list[StoredTemplate]:
    try:
        doc = json.loads(data.decode("utf-8"))
        if doc.get("version") != FORMAT_VERSION:
            raise ValueError(f"unsupported version {doc.get('version')!r}")
        return [
            StoredTemplate(
                service=str(r["service"]), template_id=str(r["template_id"]), template=str(r["template"]),
                first_seen=int(r["first_seen"]), last_seen=int(r["last_seen"]),
                counts={str(k): int(v) for k, v in r["counts"].items()}, example=str(r["example"]),
            )
            for r in doc["templates"]
        ]
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as e:
        raise TemplateStoreError(f"{where} is not a valid template store ({type(e).__name__}: {e})") from e


class FileTemplateStore(TemplateStore):
    """JSON file (``.gz`` = gzip) on any Beam file system: local, ``gs://``, ``s3://``."""

    def __init__(self, path: str):
        self.path = path

    def _compression(self):
        from apache_beam.io.filesystem import CompressionTypes

        return CompressionTypes.GZIP if self.path.endswith(".gz") else CompressionTypes.UNCOMPRESSED

    def load(self) -> list[StoredTemplate]:
        from apache_beam.io.filesystems import FileSystems

        try:
            if not FileSystems.exists(self.path):
                return []
            with FileSystems.open(self.path, compression_type=self._compression()) as f:
                data = f.read()
        except Exception as e:  # IO or decompression error
            raise TemplateStoreError(f"cannot read template store {self.path}: {type(e).__name__}: {e}") from e
        return from_json(data, f"template store {self.path}")

    def save(self, templates: Sequence[StoredTemplate]) -> None:
        from apache_beam.io.filesystems import FileSystems

        tmp = f"{self.path}.tmp-{uuid.uuid4().hex}"
        try:
            with FileSystems.create(tmp, compression_type=self._compression()) as f:
                f.write(to_json(templates))
            FileSystems.rename([tmp], [self.path])  # replaces the target (os.rename / object copy)
        except Exception as e:
            try:
                if FileSystems.exists(tmp):
                    FileSystems.delete([tmp])
            except Exception:  # noqa: BLE001 - best-effort clean-up
                pass
            raise TemplateStoreError(f"cannot write template store {self.path}: {type(e).__name__}: {e}") from e
