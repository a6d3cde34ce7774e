"""Live progress on a terminal and the end-of-run summary.

Local workers write their running totals to small files (see
``transforms.parse._Progress``); a thread here sums them once a second and
redraws one status line on stderr when it is a terminal.

Example::

    printer = ProgressPrinter("/tmp/aiops-progress-x", files=8, total_bytes=10_000_000)
    printer.start(); ...; printer.stop()
"""

from __future__ import annotations

import glob
import json
import os
import sys
import threading
import time


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


class ProgressPrinter:
    def __init__(self, directory: str, files: int, total_bytes: int, stream=None):
        self.directory = directory
        self.files = files
        self.total_bytes = total_bytes
        self.stream = stream or sys.stderr
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._t0 = time.monotonic()
        self._read_done: tuple[float, float] | None = None
        self.enabled = self.stream.isatty()

    def totals(self) -> dict[str, int]:
        out = {"bytes": 0, "lines": 0, "files": 0}
        for path in glob.glob(os.path.join(self.directory, "*.json")):
            try:
                with open(path) as fh:
                    data = json.load(fh)
            except (OSError, ValueError):
                continue  # being replaced right now; next tick reads it
            for key in out:
                out[key] += int(data.get(key, 0))
        return out

    def line(self) -> str:
        t = self.totals()
        elapsed = time.monotonic() - self._t0
        if t["files"] >= self.files and self.files:
            # Reading is done; pass 2 (templates, Parquet) has no per-line counter here.
            if self._read_done is None:
                self._read_done = (elapsed, t["lines"] / max(elapsed, 1e-6))
            at, rate = self._read_done
            return (f"read {t['files']} files, {_human(t['bytes'])}, {t['lines']:,} lines at {rate:,.0f} lines/s;"
                    f" templating and writing ({elapsed - at:.0f}s)")
        rate = t["lines"] / max(elapsed, 1e-6)
        return (f"reading: files {t['files']}/{self.files}  bytes {_human(t['bytes'])}/{_human(self.total_bytes)}"
                f"  lines {t['lines']:,}  {rate:,.0f} lines/s")

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            self.stream.write("\r\x1b[K" + self.line())
            self.stream.flush()

    def start(self) -> None:
        if self.enabled:
            self._thread.start()

    def stop(self) -> None:
        if self.enabled:
            self._stop.set()
            self._thread.join()
            self.stream.write("\r\x1b[K" + self.line() + "\n")
        for path in glob.glob(os.path.join(self.directory, "*")):
            os.remove(path)
        os.rmdir(self.directory)


def print_summary(manifest: dict, root: str, stream) -> None:
    """A short account of what the run read and wrote."""
    m = manifest
    rate = m["lines_read"] / m["elapsed_s"] if m.get("elapsed_s") else 0.0
    tables = m.get("tables", {})
    lines = [
        f"run {m['run_id']}: {m['status']} in {m.get('elapsed_s', 0):.1f}s ({rate:,.0f} lines/s)",
        f"  read     {m['input_files']} files, {_human(m.get('bytes_read', 0))}, {m['lines_read']:,} lines",
        f"  events   {m['events']:,} ({m['event_lines']:,} lines)   dead letters {m['dead_letter']:,} "
        f"({m['dead_letter_lines']:,} lines)   blank {m['blank']:,}",
        f"  templates {m.get('templates', 0):,} this run ({m.get('new_templates', 0):,} new)   "
        f"kpi rows {tables.get('kpis', 0):,}",
        f"  anomalies {tables.get('anomalies', 0):,} findings   sessions {tables.get('sessions', 0):,} "
        f"({m.get('anomalous_sessions', 0):,} flagged)",
        f"  wrote    {root}/{{events,templates,kpis,dead_letter,template_windows,anomalies,sessions}}",
        f"  manifest {root}/runs/{m['run_id']}.json",
    ]
    if m.get("summaries"):
        sm = m["summaries"]
        lines.append(f"  summaries {sm.get('rows', {}).get('summaries', 0):,} flagged windows ({sm.get('backend')}; "
                     + ", ".join(f"{k} {v}" for k, v in sorted((sm.get("statuses") or {}).items()))
                     + ")" if sm.get("status") == "succeeded" else f"  summaries {sm.get('status')}: "
                     f"{sm.get('error') or sm.get('reason')}")
    if m.get("validation") is not None:
        v = m["validation"]
        failed = [r for r in v.get("results", []) if not r.get("success")]
        lines.append(f"  validation {'passed' if v.get('success') else 'FAILED'}"
                     + ("" if not failed else ": " + ", ".join(f"{r.get('table')}.{r.get('check')}" for r in failed)))
    stream.write("\n".join(lines) + "\n")
