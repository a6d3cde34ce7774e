"""Where things live under --output: tables, staging, manifests, the template store.

Each run writes into ``DIR/_staging/<run_id>/`` and is committed at the end by
moving its files into ``DIR/<table>/dt=YYYY-MM-DD/``. Committed file names start
with the run's batch key (a hash of its input list), which is how a re-run of the
same inputs finds and replaces its earlier files instead of duplicating them.

Example::

    >>> from aiops.layout import Layout
    >>> Layout("/data/out").table_dir("events")
    '/data/out/events'
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from apache_beam.io.filesystems import FileSystems

PARTITIONED_TABLES = ("events", "dead_letter", "kpis", "template_windows", "anomalies", "sessions")
SUMMARY_TABLES = ("summaries", "llm_requests")  # committed after the summarising pipeline


def batch_key(inputs: list[str]) -> str:
    """A stable key for a set of input files (order-independent)."""
    digest = hashlib.blake2b("\n".join(sorted(set(inputs))).encode(), digest_size=6)
    return digest.hexdigest()


def join(*parts: str) -> str:
    return FileSystems.join(*parts) if parts[0] else "/".join(parts[1:])


def beside_store(store_path: str, name: str) -> str:
    """``name`` in the template store's directory: what learns across runs lives with the templates."""
    parent = store_path.rstrip("/").rsplit("/", 1)[0] if "/" in store_path else "."
    return join(parent, name)


@dataclass(frozen=True)
class Layout:
    root: str

    def table_dir(self, table: str) -> str:
        return join(self.root, table)

    def runs_dir(self) -> str:
        return join(self.root, "runs")

    def manifest(self, run_id: str) -> str:
        return join(self.root, "runs", f"{run_id}.json")

    def default_store(self) -> str:
        return join(self.root, "_store", "templates.json.gz")

    def sequence_models(self, store_path: str) -> str:
        """Sequence models persist next to the template store they belong with."""
        return beside_store(store_path, "sequence_models")

    def staging(self, run_id: str) -> str:
        return join(self.root, "_staging", run_id)

    def staged(self, run_id: str, kind: str) -> str:
        return join(self.staging(run_id), kind)
