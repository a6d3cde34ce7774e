"""Message-extraction accuracy of the real batch job on Loghub-style benchmark data.

For every system directory under ``DIR`` holding ``<Name>.log_structured*.csv`` and the raw
``<Name>.log`` beside it, the raw file is run through ``aiops batch`` (as a subprocess, the same
command a user runs) twice: once with ``--format SPEC`` (the system's header format) and once with
``--format auto``. The ``message`` of the event starting at physical line ``i + 1`` is compared with
the ``Content`` of csv row ``i``; the share of equal lines is reported.

Header formats are read from the data, never from a table in the code, in increasing priority:

1. the markdown table with a ``system`` and a ``format`` column in ``DIR/../README.md``;
2. ``DIR/<System>/format.txt`` (first non-empty line, taken verbatim);
3. a JSON file ``{system: spec}`` given with ``--formats``.

Specs use the logparser convention (``<Field>`` tokens, regex escapes such as ``\\[``) and are
passed to ``aiops batch`` unchanged. A system without a spec gets only the auto column.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

csv.field_size_limit(1 << 26)

AUTO = "auto"


# ---------------------------------------------------------------- formats


def _cells(row: str) -> list[str]:
    """Cells of one markdown table row; ``\\|`` and pipes inside backticks do not split."""
    row = row.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    cells, cur, in_code, i = [], [], False, 0
    while i < len(row):
        ch = row[i]
        if ch == "\\" and i + 1 < len(row) and row[i + 1] == "|" and not in_code:
            cur.append("|")
            i += 2
            continue
        if ch == "`":
            in_code = not in_code
        if ch == "|" and not in_code:
            cells.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    cells.append("".join(cur))
    return cells


def _cell_value(cell: str) -> str:
    """The cell text; a cell written as one code span gives its exact content (inner spaces kept)."""
    cell = cell.strip()
    m = re.fullmatch(r"(`+)(.*?)\1", cell, flags=re.S)
    return m.group(2) if m else cell


def formats_from_markdown(text: str) -> dict[str, str]:
    """``{system: spec}`` from every markdown table whose header has ``system`` and ``format`` columns."""
    out: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        head = lines[i]
        sep = lines[i + 1] if i + 1 < len(lines) else ""
        if head.lstrip().startswith("|") and re.fullmatch(r"\s*\|?[\s:\-|]+\|?\s*", sep) and "-" in sep:
            names = [_cell_value(c).lower() for c in _cells(head)]
            i += 2
            if "system" in names and "format" in names:
                si, fi = names.index("system"), names.index("format")
                while i < len(lines) and lines[i].lstrip().startswith("|"):
                    cells = _cells(lines[i])
                    if len(cells) > max(si, fi):
                        system, spec = _cell_value(cells[si]), _cell_value(cells[fi])
                        if system and spec:
                            out[system] = spec
                    i += 1
            continue
        i += 1
    return out


def load_formats(data: Path, systems: list[str], formats_file: Path | None = None) -> dict[str, str]:
    """Header spec per system from README table < ``<System>/format.txt`` < ``--formats`` JSON."""
    out: dict[str, str] = {}
    readme = data.resolve().parent / "README.md"
    if readme.is_file():
        out.update(formats_from_markdown(readme.read_text(encoding="utf-8", errors="replace")))
    for system in systems:
        path = data / system / "format.txt"
        if path.is_file():
            spec = next((ln.rstrip("\r\n") for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()), "")
            if spec:
                out[system] = spec
    if formats_file is not None:
        given = json.loads(formats_file.read_text(encoding="utf-8"))
        if not isinstance(given, dict) or not all(isinstance(v, str) for v in given.values()):
            raise ValueError(f"{formats_file}: expected a JSON object {{system: spec}}")
        out.update(given)
    return out


# ---------------------------------------------------------------- data


@dataclass(frozen=True)
class System:
    name: str
    log: Path  # raw log file
    structured: Path  # csv with a Content column, one row per physical line


def find_systems(data: Path) -> list[System]:
    """Every sub-directory holding ``<Name>.log_structured[_corrected].csv`` and ``<Name>.log``."""
    out = []
    for d in sorted(p for p in data.iterdir() if p.is_dir()):
        for pattern in ("*_structured_corrected.csv", "*_structured.csv"):
            for csv_path in sorted(d.glob(pattern)):
                log = d / re.sub(r"_structured(_corrected)?\.csv$", "", csv_path.name)
                if log.is_file():
                    out.append(System(d.name, log, csv_path))
                    break
            else:
                continue
            break
    return out


def read_contents(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8", errors="replace") as f:
        return [r["Content"] for r in csv.DictReader(f)]


# ---------------------------------------------------------------- the batch job


def extract_messages(log: Path, fmt: str, workdir: Path) -> dict[int, str]:
    """Run ``aiops batch`` over ``log`` with ``--format fmt``; ``{line_no: message}`` of the events."""
    import duckdb

    out_dir = Path(tempfile.mkdtemp(prefix="extract-", dir=workdir))
    cmd = [sys.executable, "-m", "aiops.cli", "batch", "--input", str(log), "--output", str(out_dir),
           "--format", fmt, "--no-validate", "--direct_running_mode", "in_memory"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"aiops batch failed ({proc.returncode}) on {log} --format {fmt!r}:\n{proc.stderr[-2000:]}")
    if not any((out_dir / "events").rglob("*.parquet")):
        return {}
    glob = str(out_dir / "events" / "**" / "*.parquet").replace("'", "''")
    with duckdb.connect() as con:
        rows = con.execute(f"select line_no, message from read_parquet('{glob}', hive_partitioning=true)").fetchall()
    return {int(n): m for n, m in rows}


def match_share(expected: list[str], extracted: dict[int, str]) -> tuple[int, float]:
    """(matching lines, share): row ``i`` of ``expected`` against the event at line ``i + 1``.

    A line that starts no event (dead letter, joined into a multi-line event) counts as a miss.
    """
    if not expected:
        return 0, 0.0
    hits = sum(1 for i, content in enumerate(expected) if extracted.get(i + 1) == content)
    return hits, hits / len(expected)


def evaluate_system(system: System, spec: str | None, workdir: Path) -> dict:
    expected = read_contents(system.structured)
    row: dict = {"system": system.name, "lines": len(expected), "spec": spec}
    start = time.perf_counter()
    for key, fmt in (("spec", spec), ("auto", AUTO)):
        if fmt is None:
            row[f"{key}_match"], row[f"{key}_share"] = None, None
            continue
        hits, share = match_share(expected, extract_messages(system.log, fmt, workdir))
        row[f"{key}_match"], row[f"{key}_share"] = hits, share
    row["seconds"] = time.perf_counter() - start
    return row


def average(rows: list[dict]) -> dict:
    avg: dict = {"system": "average", "lines": sum(r["lines"] for r in rows), "spec": None,
                 "seconds": sum(r["seconds"] for r in rows)}
    for key in ("spec", "auto"):
        shares = [r[f"{key}_share"] for r in rows if r[f"{key}_share"] is not None]
        avg[f"{key}_match"] = sum(r[f"{key}_match"] for r in rows if r[f"{key}_match"] is not None)
        avg[f"{key}_share"] = sum(shares) / len(shares) if shares else None
    return avg


def run(data: Path, systems: list[str] | None = None, formats_file: Path | None = None) -> list[dict]:
    """Per-system rows followed by the average row (mean of the per-system shares)."""
    found = [s for s in find_systems(data) if not systems or s.name in systems]
    if not found:
        raise FileNotFoundError(f"no <System>/<Name>.log with <Name>.log_structured*.csv under {data}")
    formats = load_formats(data, [s.name for s in found], formats_file)
    with tempfile.TemporaryDirectory(prefix="aiops-eval-extraction-") as tmp:
        rows = [evaluate_system(s, formats.get(s.name), Path(tmp)) for s in found]
    return rows + [average(rows)]


def _pct(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.2f}"


def format_table(rows: list[dict], target: float = 0.995) -> str:
    head = f"{'system':<12} {'lines':>6} {'spec %':>8} {'auto %':>8}"
    out = [head, "-" * len(head)]
    for r in rows:
        flag = ""
        if r["system"] != "average" and r["spec_share"] is not None and r["spec_share"] < target:
            flag = f"  < {100 * target:g}%"
        elif r["system"] != "average" and r["spec_share"] is None:
            flag = "  (no spec)"
        out.append(f"{r['system']:<12} {r['lines']:>6} {_pct(r['spec_share']):>8} {_pct(r['auto_share']):>8}{flag}")
    return "\n".join(out)
