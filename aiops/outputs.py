"""Locate the tables and run manifests of a batch-job output directory.

The layout (written by the batch job)::

    DIR/events/dt=YYYY-MM-DD/*.parquet       Event rows
    DIR/dead_letter/dt=YYYY-MM-DD/*.parquet  DeadLetter rows
    DIR/kpis/dt=YYYY-MM-DD/*.parquet         KpiRow rows (dt of window_start)
    DIR/template_windows/dt=.../*.parquet    TemplateWindowRow rows (per service, template, window)
    DIR/anomalies/dt=.../*.parquet           AnomalyRow rows (dt of window_start)
    DIR/sessions/dt=.../*.parquet            SessionRow rows (dt of first_time)
    DIR/summaries/dt=.../*.parquet           SummaryRow rows (dt of window_start)
    DIR/llm_requests/dt=.../*.parquet        LlmRequestRow rows (dt of window_start)
    DIR/templates/*.parquet                  TemplateRow snapshot (not partitioned)
    DIR/runs/<run_id>.json                   run manifests

Anything whose name starts with ``_`` or ``.`` (``DIR/_staging/``, ``.part`` files)
is not part of any table. A table directory may be missing or empty.

Example::

    >>> from aiops.outputs import table_files, load_manifests
    >>> table_files("demo-output", "events")          # doctest: +SKIP
    ['demo-output/events/dt=2024-05-01/part-0.parquet']
    >>> [m["run_id"] for m in load_manifests("demo-output")]  # doctest: +SKIP
    ['20240501T120000Z-3f2a']
"""

from __future__ import annotations

import json
import os

from aiops.schema import (
    AnomalyRow,
    DeadLetter,
    Event,
    KpiRow,
    LlmRequestRow,
    SessionRow,
    SummaryRow,
    TemplateRow,
    TemplateWindowRow,
)

# Parquet tables: name -> row type.
TABLES: dict[str, type] = {
    "events": Event,
    "dead_letter": DeadLetter,
    "kpis": KpiRow,
    "templates": TemplateRow,
    "template_windows": TemplateWindowRow,
    "anomalies": AnomalyRow,
    "sessions": SessionRow,
    "summaries": SummaryRow,
    "llm_requests": LlmRequestRow,
}
# Tables written under hive partitions ``dt=YYYY-MM-DD`` (they get a ``dt`` DATE column).
PARTITIONED = frozenset(
    {"events", "dead_letter", "kpis", "template_windows", "anomalies", "sessions", "summaries", "llm_requests"}
)
RUNS_DIR = "runs"


class OutputDirError(Exception):
    """The output directory is missing or unusable; the message is one line for the user."""


def is_hidden(name: str) -> bool:
    """True for path components that are not part of any table (``_staging``, ``.tmp``)."""
    return name.startswith(("_", "."))


def check_root(root: str) -> str:
    """Return ``root`` as an absolute path, or raise OutputDirError if it is not a directory."""
    if not os.path.isdir(root):
        raise OutputDirError(f"output directory not found: {root}")
    return os.path.abspath(root)


def _visible_files(directory: str, suffix: str) -> list[str]:
    found: list[str] = []
    if not os.path.isdir(directory):
        return found
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(d for d in dirnames if not is_hidden(d))
        found.extend(
            os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(suffix) and not is_hidden(f)
        )
    return found


def table_files(root: str, table: str) -> list[str]:
    """The Parquet files of ``table`` under ``root``, hidden files/dirs excluded, sorted."""
    if table not in TABLES:
        raise KeyError(f"unknown table {table!r}; known: {', '.join(TABLES)}")
    return _visible_files(os.path.join(root, table), ".parquet")


def manifest_files(root: str) -> list[str]:
    """The run manifests ``DIR/runs/*.json`` (not recursive), hidden files excluded, sorted."""
    directory = os.path.join(root, RUNS_DIR)
    if not os.path.isdir(directory):
        return []
    return [
        os.path.join(directory, f)
        for f in sorted(os.listdir(directory))
        if f.endswith(".json") and not is_hidden(f) and os.path.isfile(os.path.join(directory, f))
    ]


def load_manifests(root: str) -> list[dict]:
    """All run manifests as dicts, in file-name order."""
    manifests = []
    for path in manifest_files(root):
        with open(path, encoding="utf-8") as fh:
            manifests.append(json.load(fh))
    return manifests


def load_manifest(root: str, run_id: str) -> dict | None:
    """The manifest of ``run_id`` (by file name, then by its ``run_id`` key), or None."""
    path = os.path.join(root, RUNS_DIR, f"{run_id}.json")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    for manifest in load_manifests(root):
        if manifest.get("run_id") == run_id:
            return manifest
    return None
