"""Commit a run's staged files into the tables, update the template store, write the manifest.

Nothing a run writes is visible until this step: the pipeline writes under
``DIR/_staging/<run_id>/`` and lists the files it finished in ``outputs.json``.
Committing moves each listed file to ``DIR/<table>/dt=.../<batch_key>-<run_id>-<n>.parquet``
and then removes the files an earlier run of the same batch key had committed,
so a re-run replaces its output instead of duplicating it, and a failed run
(which never reaches this step) leaves the previous output as it was.

Example::

    >>> summary = commit_run(layout, run_id, batch_key, store)   # doctest: +SKIP
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa
from apache_beam.io.filesystems import FileSystems

from aiops.layout import PARTITIONED_TABLES, Layout
from aiops.parquet_io import WrittenFile, write_table
from aiops.schema import FileStats, TemplateRow, TimestampUs, rows_to_table
from aiops.templating.learner import StoredTemplate, update_store
from aiops.templating.store import TemplateStore


@dataclass
class CommitSummary:
    """What a run committed: files and rows per table, and the line accounting."""

    files: list[FileStats]
    rows: dict[str, int] = field(default_factory=dict)
    paths: dict[str, int] = field(default_factory=dict)
    templates: int = 0
    new_templates: int = 0

    def totals(self) -> dict[str, int]:
        return {
            "lines_read": sum(f.lines_read for f in self.files),
            "bytes_read": sum(f.bytes_read for f in self.files),
            "events": sum(f.events for f in self.files),
            "event_lines": sum(f.event_lines for f in self.files),
            "dead_letter": self.rows.get("dead_letter", 0),
            "dead_letter_lines": sum(f.dead_letter_lines for f in self.files),
            "blank": sum(f.blank_lines for f in self.files),
        }


def merge_file_stats(stats) -> list[FileStats]:
    """One row per source: a big file read in several ranges reports once per range."""
    merged: dict[str, list[int]] = {}
    for s in stats:
        acc = merged.setdefault(s.source, [0] * 6)
        for i, value in enumerate(s[1:]):
            acc[i] += value
    return [FileStats(source, *values) for source, values in sorted(merged.items())]


def _read_json(path: str):
    with FileSystems.open(path, compression_type="uncompressed") as fh:
        return json.loads(fh.read().decode())


def _write_bytes(path: str, data: bytes) -> None:
    with FileSystems.create(path, compression_type="uncompressed") as fh:
        fh.write(data)


def _existing(layout: Layout, table: str) -> list[str]:
    pattern = FileSystems.join(layout.table_dir(table), "dt=*", "*.parquet")
    return [m.path for m in FileSystems.match([pattern])[0].metadata_list]


def _basename(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _load_models(paths: Sequence[str]) -> list:
    models = []
    for path in paths:
        with FileSystems.open(path, compression_type="uncompressed") as fh:
            models.append(pickle.loads(fh.read()))
    return models


def templates_table(stored: Sequence[StoredTemplate]) -> pa.Table:
    rows = [
        TemplateRow(t.template_id, t.template, t.service, TimestampUs(t.first_seen), TimestampUs(t.last_seen),
                    sum(t.counts.values()), t.example)
        for t in sorted(stored, key=lambda t: (t.service, -sum(t.counts.values()), t.template_id))
    ]
    return rows_to_table(TemplateRow, rows)


def commit_run(layout: Layout, staging: str, run_id: str, batch_key: str, store: TemplateStore,
               sequence_dir: str | None = None) -> CommitSummary:
    """Move the staged files into place, update the stores and the templates table."""
    listing = _read_json(FileSystems.join(staging, "outputs.json"))
    written = [WrittenFile(**w) for w in listing["written"]]
    summary = CommitSummary(files=merge_file_stats(FileStats(**s) for s in listing["stats"]))

    # 1. The template store first: if saving it fails, no table has changed yet.
    models = _load_models([w.path for w in written if w.table == "models"])
    stored = store.load()
    known = {(t.service, t.template_id) for t in stored}
    updated = update_store(stored, models, batch_key)
    store.save(updated)
    summary.templates = sum(len(m.templates) for m in models)
    summary.new_templates = sum(
        1 for m in models for t in m.templates if (m.service, t.template_id) not in known
    )
    tmp = FileSystems.join(staging, "templates.parquet")
    write_table(templates_table(updated), tmp)
    FileSystems.mkdirs(layout.table_dir("templates")) if not FileSystems.exists(layout.table_dir("templates")) else None
    final_templates = FileSystems.join(layout.table_dir("templates"), "templates.parquet")
    if FileSystems.exists(final_templates):
        FileSystems.delete([final_templates])
    FileSystems.rename([tmp], [final_templates])

    # Sequence models replace the ones the next run would load as its prior.
    for w in written:
        if w.table == "sequence_models" and sequence_dir:
            if not FileSystems.exists(sequence_dir):
                FileSystems.mkdirs(sequence_dir)
            target = FileSystems.join(sequence_dir, _basename(w.path))
            if FileSystems.exists(target):
                FileSystems.delete([target])
            FileSystems.rename([w.path], [target])

    # 2. New partition files in, then the same batch key's older files out.
    commit_tables(layout, written, PARTITIONED_TABLES, batch_key, run_id, summary)
    return summary


def commit_tables(layout: Layout, written: Sequence[WrittenFile], tables: Sequence[str], batch_key: str, run_id: str,
                  summary: CommitSummary) -> None:
    """Move each table's new files in, then remove the files the same batch key had committed before."""
    prefix = f"{batch_key}-"
    for table in tables:
        old = [p for p in _existing(layout, table) if _basename(p).startswith(prefix)]
        mine = [w for w in written if w.table == table]
        for n, w in enumerate(sorted(mine, key=lambda w: (w.dt, w.path))):
            target_dir = FileSystems.join(layout.table_dir(table), f"dt={w.dt}")
            if not FileSystems.exists(target_dir):
                FileSystems.mkdirs(target_dir)
            FileSystems.rename([w.path], [FileSystems.join(target_dir, f"{prefix}{run_id}-{n:05d}.parquet")])
        if old:
            FileSystems.delete(old)
        summary.rows[table] = sum(w.rows for w in mine)
        summary.paths[table] = len(mine)


def write_manifest(layout: Layout, manifest: dict) -> str:
    path = layout.manifest(manifest["run_id"])
    if not FileSystems.exists(layout.runs_dir()):
        FileSystems.mkdirs(layout.runs_dir())
    _write_bytes(path, json.dumps(manifest, indent=2, sort_keys=False).encode())
    return path


def remove_staging(staging: str) -> None:
    if FileSystems.exists(staging):
        FileSystems.delete([staging])
