"""``make bench``: throughput and peak memory of the whole batch job vs a plain drain3 loop.

For each size (default 1M and 2M lines) it generates the seeded sample (24 rotated files over
6 services, so two workers can share them), then

* runs ``aiops batch --input 'DIR/logs/*/*' --output DIR/out --no-validate --direct_num_workers 2``
  as a subprocess, measuring wall-clock lines/s (``lines_read`` of the run manifest / wall time,
  start-up included) and the peak memory of the whole process tree (polled every 0.2 s, summed
  over the process and all its children): RSS, and PSS, which counts the pages the forked local
  workers share with the launcher once instead of in every process;
* runs the same job again with ``--session_key none --llm none`` ("core": read, parse, template,
  KPIs, window scoring and Parquet, without session scoring and the summaries step), to show what
  those two steps cost;
* runs ``bench/drain_loop.py`` (one process, drain3 with an explicit config) over the same files.

Each command runs ``--repeat`` times (default 2) and its best time counts, the drain loop's as
much as the job's: this machine is shared and the same command varies by ±10% from run to run.

Prints one table: size, lines/s and peak RSS (and the job's PSS) MiB of the job and of the core job, drain loop
lines/s, and the ratios job/drain and core/drain.

Example::

    .venv/bin/python bench/bench.py
    .venv/bin/python bench/bench.py --sizes 200000 --keep /tmp/bench-data
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiops.sample.generator import generate  # noqa: E402


def aiops_command() -> list[str]:
    script = Path(sys.executable).with_name("aiops")
    return [str(script)] if script.exists() else [sys.executable, "-m", "aiops.cli"]


def pss_bytes(pid: int) -> int:
    """Proportional set size of a process (shared pages split between their sharers); 0 if unreadable.

    The local workers are forked from the launcher and share its pages: RSS counts those in every
    process of the tree, PSS once. Read from ``smaps_rollup`` (cheap) rather than psutil's full smaps.
    """
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_measured(cmd: list[str], poll_s: float = 0.2) -> tuple[int, float, int, int, str]:
    """Run ``cmd``; return (exit code, wall seconds, peak RSS and peak PSS bytes of the tree, stdout)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ps = psutil.Process(proc.pid)
    peak = peak_pss = 0
    with tempfile.TemporaryFile("w+") as sink:
        pump = threading.Thread(target=lambda: sink.write(proc.stdout.read() if proc.stdout else ""))
        pump.start()
        while proc.poll() is None:
            total = total_pss = 0
            try:
                tree = [ps, *ps.children(recursive=True)]
            except psutil.NoSuchProcess:
                tree = []
            for p in tree:
                try:
                    total += p.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
                total_pss += pss_bytes(p.pid)
            peak, peak_pss = max(peak, total), max(peak_pss, total_pss)
            time.sleep(poll_s)
        pump.join()
        wall = time.perf_counter() - t0
        sink.seek(0)
        return proc.returncode, wall, peak, peak_pss, sink.read()


def bench_size(work: Path, size: int, workers: int, repeat: int = 2) -> dict[str, float]:
    logs, out = work / "logs", work / "out"
    t0 = time.perf_counter()
    gt = generate(logs, lines=size)
    # Flush the freshly written sample to disk first: otherwise the kernel writes it back while the
    # first measured run is going (measured: that run ~1 s slower at 1M than the same run later).
    os.sync()
    gen_s = time.perf_counter() - t0
    print(
        f"[{size:,}] generated {gt.total_lines:,} lines in {len(gt.files)} files in {gen_s:.1f}s", flush=True
    )
    glob_ = f"{logs}/*/*"
    result: dict[str, float] = {"size": size, "generate_s": gen_s}
    for label, extra in (("job", []), ("core", ["--session_key", "none", "--llm", "none"])):
        cmd = [*aiops_command(), "batch", "--input", glob_, "--output", str(out), "--no-validate", *extra]
        cmd += ["--direct_num_workers", str(workers)]
        walls, peak, peak_pss = [], 0, 0
        for _ in range(repeat):
            shutil.rmtree(out, ignore_errors=True)
            rc, wall, rss, pss, output = run_measured(cmd)
            if rc != 0:
                print(output[-4000:])
                raise SystemExit(f"batch job failed with exit {rc}: {' '.join(cmd)}")
            walls.append(wall)
            peak, peak_pss = max(peak, rss), max(peak_pss, pss)
        manifest = json.loads(max((out / "runs").glob("*.json"), key=lambda p: p.stat().st_mtime).read_text())
        lines = int(manifest["lines_read"])
        wall = min(walls)
        times = ", ".join(f"{w:.1f}" for w in walls)
        print(f"[{size:,}] {label}: {lines:,} lines in {times}s (best {wall:.1f}s), "
              f"peak RSS {peak / 2**20:,.0f} MiB, PSS {peak_pss / 2**20:,.0f} MiB", flush=True)
        result.update({"lines": lines, f"{label}_s": wall, f"{label}_lps": lines / wall,
                       f"{label}_peak_mib": peak / 2**20, f"{label}_pss_mib": peak_pss / 2**20})
    drains = []
    for _ in range(repeat):
        rc, dwall, dpeak, _, dout = run_measured([sys.executable, str(ROOT / "bench" / "drain_loop.py"), glob_])
        if rc != 0:
            raise SystemExit(f"drain loop failed: {dout[-2000:]}")
        drains.append(json.loads(dout.strip().splitlines()[-1]))
    drain = max(drains, key=lambda d: d["lines_per_s"])
    times = ", ".join(f"{d['seconds']:.1f}" for d in drains)
    print(f"[{size:,}] drain loop: {drain['lines']:,} lines in {times}s (best {drain['seconds']:.1f}s)", flush=True)
    result.update({"drain_lps": drain["lines_per_s"]})
    return result


def table(results: list[dict[str, float]]) -> str:
    head = ["size", "lines", "job s", "job lines/s", "job RSS MiB", "job PSS MiB", "core s", "core lines/s",
            "core RSS MiB", "drain lines/s", "job/drain", "core/drain"]
    rows = [
        [f"{r['size']:,}", f"{r['lines']:,}", f"{r['job_s']:.1f}", f"{r['job_lps']:,.0f}", f"{r['job_peak_mib']:,.0f}",
         f"{r['job_pss_mib']:,.0f}", f"{r['core_s']:.1f}", f"{r['core_lps']:,.0f}", f"{r['core_peak_mib']:,.0f}",
         f"{r['drain_lps']:,.0f}",
         f"{r['job_lps'] / r['drain_lps']:.2f}", f"{r['core_lps'] / r['drain_lps']:.2f}"]
        for r in results
    ]  # fmt: skip
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1000000,2000000", help="comma-separated line counts")
    p.add_argument("--keep", type=Path, default=None, help="keep generated data and outputs here")
    p.add_argument("--workers", type=int, default=2, help="--direct_num_workers for the job")
    p.add_argument("--repeat", type=int, default=2,
                   help="runs of each command; the best time counts (this machine is shared: ±10%% run to run)")
    a = p.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in a.sizes.split(",") if s.strip()]
    base = a.keep or Path(tempfile.mkdtemp(prefix="aiops-bench-"))
    results = []
    try:
        for size in sizes:
            results.append(bench_size(base / f"size-{size}", size, a.workers, max(1, a.repeat)))
    finally:
        if a.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    print()
    print(table(results))
    print(
        f"(job: whole `aiops batch` process tree, {a.workers} workers, start-up included; core: the same with"
        " --session_key none --llm none; RSS/PSS: peak of the process tree's sum; PSS counts the pages the forked"
        " workers share with the launcher once)"
    )
    if a.keep:
        (a.keep / "bench.json").write_text(json.dumps(results, indent=2) + "\n")
        print(f"data and results kept in {a.keep}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
