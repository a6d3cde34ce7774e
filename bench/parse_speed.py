"""Throughput of :class:`aiops.parsing.reader.LogParser` (single process, CPU-time lines/s per service dir).

Reads every file under ``--input`` (one sub-directory per service, as written by
``aiops sample``) into memory first, then times only ``feed``/``finish``. Prints a
digest of all outputs per directory so two implementations can be compared for
identical results.

    .venv/bin/aiops sample --output /tmp/ps/logs --lines 300000
    .venv/bin/python bench/parse_speed.py --input /tmp/ps/logs
    .venv/bin/python bench/parse_speed.py --input /tmp/ps/logs --profile web   # cProfile one dir
    PYTHONPATH=/tmp/old .venv/bin/python bench/parse_speed.py   # another aiops tree, to compare
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import os
import pstats
import sys
import time
from pathlib import Path

from aiops.parsing.reader import LogParser, ParseConfig
from aiops.sources import Truncated, read_lines


def load(service_dir: Path) -> list[tuple[str, int, list[bytes]]]:
    files = []
    for f in sorted(p for p in service_dir.iterdir() if p.is_file()):
        lines = [raw for raw in read_lines(str(f)) if not isinstance(raw, Truncated)]
        files.append((f"{service_dir.name}/{f.name}", int(os.stat(f).st_mtime) * 1_000_000, lines))
    return files


def parse_all(files, service: str) -> list:
    out: list = []
    for source, ref, lines in files:
        p = LogParser(source, ParseConfig(default_service=service, reference_time_us=ref))
        feed = p.feed
        extend = out.extend
        for n, raw in enumerate(lines, 1):
            extend(feed(raw, n))
        extend(p.finish())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default="/tmp/ps/logs")
    ap.add_argument("--repeat", type=int, default=5, help="best of N timings per dir")
    ap.add_argument("--profile", metavar="DIR", help="cProfile the parse of this service dir")
    args = ap.parse_args()
    root = Path(args.input)
    dirs = sorted(d for d in root.iterdir() if d.is_dir())
    if args.profile:
        files = load(root / args.profile)
        prof = cProfile.Profile()
        prof.runcall(parse_all, files, args.profile)
        pstats.Stats(prof).sort_stats("tottime").print_stats(20)
        return
    print(f"parser: {LogParser.__module__} from {sys.modules[LogParser.__module__].__file__}")
    total_lines = 0
    total_time = 0.0
    print(f"{'service':<11} {'lines':>9} {'lines/s':>10} {'us/line':>8}  digest")
    for d in dirs:
        files = load(d)
        n = sum(len(lines) for _, _, lines in files)
        best = float("inf")
        out: list = []
        for _ in range(args.repeat):
            t0 = time.process_time()
            out = parse_all(files, d.name)
            best = min(best, time.process_time() - t0)
        digest = hashlib.sha256(repr(out).encode()).hexdigest()[:16]
        total_lines += n
        total_time += best
        print(f"{d.name:<11} {n:>9,} {n / best:>10,.0f} {best / n * 1e6:>8.2f}  {digest} ({len(out):,} items)")
    print(f"{'overall':<11} {total_lines:>9,} {total_lines / total_time:>10,.0f} {total_time / total_lines * 1e6:>8.2f}")


if __name__ == "__main__":
    main()
