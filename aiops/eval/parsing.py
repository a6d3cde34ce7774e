"""``aiops eval parsing``: accuracy of the template stage on Loghub-style benchmark data.

For every system directory under ``--data`` holding ``*_structured*.csv`` (columns ``Content`` and
``EventTemplate``), the Content lines are masked, learned with the default
:class:`~aiops.templating.TemplateConfig` (service = system name) and matched line by line; the
table gives GA, PA, FGA, FTA (see :mod:`aiops.eval.metrics`) and lines/s, per system and averaged.

With ``--extraction`` it measures the step before: each system's raw ``<Name>.log`` goes through
the real ``aiops batch`` job with the system's header format and with ``--format auto``, and the
table gives the share of lines whose extracted message equals ``Content`` (see
:mod:`aiops.eval.extraction`; header formats come from ``DIR/../README.md``,
``DIR/<System>/format.txt`` or ``--formats FILE``).

Example::

    python -m aiops.eval.parsing --data ../shared/data/loghub-2k
    python -m aiops.eval.parsing --data ../shared/data/loghub-2k --json
    python -m aiops.eval.parsing --data ../shared/data/loghub-2k --extraction
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import pyarrow as pa

from aiops.eval.metrics import Scores, evaluate
from aiops.templating import Observation, TemplateConfig, learn, mask_array

csv.field_size_limit(1 << 26)


def find_systems(data: Path) -> list[tuple[str, Path]]:
    """(system name, structured csv) for every sub-directory laid out like Loghub."""
    out = []
    for d in sorted(p for p in data.iterdir() if p.is_dir()):
        files = sorted(d.glob("*_structured_corrected.csv")) or sorted(d.glob("*_structured.csv"))
        if files:
            out.append((d.name, files[0]))
    return out


def read_structured(path: Path) -> tuple[list[str], list[str]]:
    with path.open(newline="", encoding="utf-8", errors="replace") as f:
        rows = list(csv.DictReader(f))
    return [r["Content"] for r in rows], [r["EventTemplate"] for r in rows]


def parse_lines(system: str, contents: list[str], config: TemplateConfig | None = None) -> list[str]:
    """Predicted template text per line, using the stage exactly as the batch job does."""
    masked = mask_array(pa.array(contents, pa.string())).to_pylist()
    observations = [Observation(m, 1, i, i, c) for i, (m, c) in enumerate(zip(masked, contents, strict=True))]
    model = learn(system, observations, config=config or TemplateConfig())
    return [model.match(c)[1] for c in contents]


def evaluate_system(system: str, path: Path) -> dict:
    contents, truth = read_structured(path)
    start = time.perf_counter()
    predicted = parse_lines(system, contents)
    seconds = time.perf_counter() - start
    s: Scores = evaluate(truth, predicted)
    return {
        "system": system, "lines": s.lines, "GA": s.ga, "PA": s.pa, "FGA": s.fga, "FTA": s.fta,
        "templates": s.predicted_groups, "truth_templates": s.truth_groups,
        "seconds": seconds, "lines_per_s": s.lines / seconds if seconds else 0.0,
    }


def average(rows: list[dict]) -> dict:
    n = len(rows)
    avg = {k: sum(r[k] for r in rows) / n for k in ("GA", "PA", "FGA", "FTA")}
    lines, seconds = sum(r["lines"] for r in rows), sum(r["seconds"] for r in rows)
    avg.update(system="average", lines=lines, seconds=seconds, lines_per_s=lines / seconds if seconds else 0.0,
               templates=sum(r["templates"] for r in rows), truth_templates=sum(r["truth_templates"] for r in rows))
    return avg


def format_table(rows: list[dict]) -> str:
    head = f"{'system':<12} {'lines':>6} {'GA':>6} {'PA':>6} {'FGA':>6} {'FTA':>6} {'tmpl':>5} {'truth':>5} {'lines/s':>8}"
    out = [head, "-" * len(head)]
    for r in rows:
        out.append(f"{r['system']:<12} {r['lines']:>6} {r['GA']:>6.3f} {r['PA']:>6.3f} {r['FGA']:>6.3f} "
                   f"{r['FTA']:>6.3f} {r['templates']:>5} {r['truth_templates']:>5} {r['lines_per_s']:>8.0f}")
    return "\n".join(out)


def run(data: Path, systems: list[str] | None = None) -> list[dict]:
    """Per-system result rows followed by the average row."""
    found = [(s, p) for s, p in find_systems(data) if not systems or s in systems]
    if not found:
        raise FileNotFoundError(f"no <System>/*_structured*.csv under {data}")
    rows = [evaluate_system(s, p) for s, p in found]
    return rows + [average(rows)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aiops eval parsing", description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="directory of <System>/ sub-directories")
    parser.add_argument("--system", action="append", help="only these systems (repeatable)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--extraction", action="store_true",
                        help="measure message extraction instead: run 'aiops batch' over each raw <Name>.log "
                             "with the system's header format and with --format auto, compare with Content")
    parser.add_argument("--formats", type=Path, metavar="FILE",
                        help="with --extraction: JSON {system: header spec}, overriding DIR/../README.md "
                             "and DIR/<System>/format.txt")
    args = parser.parse_args(argv)
    if args.formats and not args.extraction:
        parser.error("--formats needs --extraction")
    try:
        if args.extraction:
            from aiops.eval import extraction

            rows = extraction.run(args.data, args.system, args.formats)
            table = extraction.format_table(rows)
        else:
            rows = run(args.data, args.system)
            table = format_table(rows)
    except (FileNotFoundError, NotADirectoryError, ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(rows, indent=2) if args.json else table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
