"""Baseline: a plain single-process drain3 loop over log files (lines/s), for ``bench/bench.py``.

Reads every line of the given files (``.gz``/``.bz2``/``.zst`` decompressed by extension) and
feeds it to ``TemplateMiner.add_log_message``. The miner always gets an explicit
``TemplateMinerConfig`` (never the no-config constructor, which would read ``drain3.ini``)
with two masking instructions, an IPv4 address and a number. Prints one JSON object.

Example::

    .venv/bin/python bench/drain_loop.py 'demo-output/logs/*/*'
    .venv/bin/python bench/drain_loop.py 'demo-output/logs/web/*' --limit 100000
"""

from __future__ import annotations

import argparse
import bz2
import glob
import gzip
import io
import json
import sys
import time
from collections.abc import Iterator

import zstandard
from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig


def make_miner() -> TemplateMiner:
    config = TemplateMinerConfig()
    config.masking_instructions = [
        MaskingInstruction(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b", "IP"),
        MaskingInstruction(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?![\w.])", "NUM"),
    ]
    config.profiling_enabled = False
    return TemplateMiner(persistence_handler=None, config=config)


def read_lines(path: str) -> Iterator[str]:
    if path.endswith(".gz"):
        raw: io.BufferedIOBase = gzip.open(path, "rb")  # type: ignore[assignment]
    elif path.endswith(".bz2"):
        raw = bz2.open(path, "rb")  # type: ignore[assignment]
    elif path.endswith(".zst"):
        raw = zstandard.ZstdDecompressor().stream_reader(open(path, "rb"))  # type: ignore[assignment]
    else:
        raw = open(path, "rb")
    with raw, io.TextIOWrapper(raw, encoding="utf-8", errors="replace") as text:
        for line in text:
            yield line.rstrip("\n")


def run(patterns: list[str], limit: int | None = None) -> dict[str, float]:
    paths = sorted({p for pattern in patterns for p in glob.glob(pattern)})
    miner = make_miner()
    add = miner.add_log_message
    n = 0
    t0 = time.perf_counter()
    for path in paths:
        for line in read_lines(path):
            add(line)
            n += 1
            if limit is not None and n >= limit:
                break
        if limit is not None and n >= limit:
            break
    secs = time.perf_counter() - t0
    return {
        "files": len(paths),
        "lines": n,
        "seconds": round(secs, 3),
        "lines_per_s": round(n / secs, 1) if secs else 0.0,
        "clusters": len(miner.drain.clusters),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="single-process drain3 loop (lines/s)")
    p.add_argument("patterns", nargs="+", help="files or globs")
    p.add_argument("--limit", type=int, default=None, help="stop after N lines")
    a = p.parse_args(argv)
    result = run(a.patterns, a.limit)
    print(json.dumps(result))
    return 0 if result["lines"] else 1


if __name__ == "__main__":
    sys.exit(main())
