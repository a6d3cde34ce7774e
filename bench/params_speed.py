"""Speed of :func:`aiops.templating.params.extract_array` (µs per message, single core).

Two corpora, each processed as pass 2 does it (messages grouped by template, one call per group):

* ``--sample DIR``: logs written by ``aiops sample``; parsed, masked, templates learned per service
  (``learn``) and assigned (``ServiceModel.assign_array``), then split in batches of ``--batch`` events.
* ``--data DIR``: Loghub-2k ``*_structured*.csv`` (Content grouped by the ground-truth
  EventTemplate), repeated ``--repeat`` times.

"before" is the regex-only path (``params._extract_regex``, the previous ``extract_array``) or the
``extract_array`` of another params.py given with ``--impl``. Outputs are checked to be equal.

    .venv/bin/aiops sample --output /tmp/pp/logs --lines 300000
    .venv/bin/python bench/params_speed.py --sample /tmp/pp/logs --data ../shared/data/loghub-2k
"""

from __future__ import annotations

import argparse
import csv
import gzip
import importlib.util
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from aiops.parsing import LogParser, ParseConfig
from aiops.templating import Observation, learn, mask_array, params

Groups = list[tuple[str, pa.Array]]


def sample_groups(root: Path, batch: int) -> Groups:
    out: Groups = []
    for service_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        messages: list[str] = []
        for f in sorted(service_dir.iterdir()):
            parser = LogParser(str(f), ParseConfig(default_service=service_dir.name))
            opener = gzip.open if f.suffix == ".gz" else open
            with opener(f, "rb") as fh:
                items = [x for i, line in enumerate(fh, 1) for x in parser.feed(line.rstrip(b"\r\n"), i)]
            items += parser.finish()
            messages += [x.message for x in items if hasattr(x, "message")]
        arr = pa.array(messages, pa.string())
        masked = mask_array(arr)
        counts = Counter(masked.to_pylist())
        first = dict(zip(masked.to_pylist(), messages, strict=True))
        model = learn(service_dir.name, [Observation(m, c, 0, 0, first[m]) for m, c in counts.items()])
        for a in range(0, len(arr), batch):
            sub, idx = arr.slice(a, batch), np.asarray(model.assign_array(masked.slice(a, batch)))
            order = np.argsort(idx, kind="stable")
            idx_sorted = idx[order]
            sub = sub.take(pa.array(order))
            bounds = np.concatenate([[0], np.flatnonzero(np.diff(idx_sorted)) + 1, [len(idx_sorted)]])
            for s, e in zip(bounds[:-1], bounds[1:], strict=True):
                out.append((model.templates[int(idx_sorted[s])].template, sub.slice(s, e - s)))
    return out


def loghub_groups(data: Path, repeat: int) -> Groups:
    out: Groups = []
    for f in sorted(data.glob("*/*_structured*.csv")):
        groups: dict[str, list[str]] = {}
        with open(f, newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                groups.setdefault(r["EventTemplate"], []).append(r["Content"])
        out += [(t, pa.array(m * repeat, pa.string())) for t, m in groups.items()]
    return out


def timed(fn: Callable[[str, pa.Array], pa.Array], groups: Groups, rounds: int) -> tuple[float, list]:
    best, result = float("inf"), []
    for _ in range(rounds):
        t0 = time.perf_counter()
        result = [fn(t, m) for t, m in groups]
        best = min(best, time.perf_counter() - t0)
    return best, result


def paths(groups: Groups) -> tuple[int, int, int]:
    """(rows of templates without parameters, rows the scan decided, rows left to the regex)."""
    none = scan = 0
    for t, m in groups:
        arr = m.combine_chunks() if isinstance(m, pa.ChunkedArray) else m
        if params._regex(t)[1] == 0:
            none += len(arr)
        else:
            scan += len(params._scan(params._plan(t), arr)[0]) + arr.null_count
    return none, scan, sum(len(m) for _, m in groups) - none - scan


def report(name: str, groups: Groups, before: Callable, rounds: int) -> None:
    rows = sum(len(m) for _, m in groups)
    t_old, old = timed(before, groups, rounds)
    t_new, new = timed(params.extract_array, groups, rounds)
    assert all(a.equals(b) for a, b in zip(old, new, strict=True)), "outputs differ"
    none, scan, regex = paths(groups)
    sizes = np.array([len(m) for _, m in groups])
    print(f"{name}: {rows:,} messages in {len(groups):,} calls (median {int(np.median(sizes))} rows, "
          f"{int((sizes < params._MIN_VECTOR).sum())} below {params._MIN_VECTOR})\n"
          f"  rows: {scan:,} decided by the scan ({scan / rows:.1%}), {regex:,} by the regex, "
          f"{none:,} of templates without <*>")
    print(f"  before {t_old / rows * 1e6:.3f} µs/msg   after {t_new / rows * 1e6:.3f} µs/msg   "
          f"speed-up x{t_old / t_new:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", type=Path, help="directory written by `aiops sample`")
    ap.add_argument("--data", type=Path, help="Loghub-2k directory")
    ap.add_argument("--batch", type=int, default=16_384, help="events per pass-2 batch (sample; parse BATCH_EVENTS)")
    ap.add_argument("--repeat", type=int, default=20, help="Loghub messages repeated this many times")
    ap.add_argument("--rounds", type=int, default=3, help="best of this many timings")
    ap.add_argument("--impl", type=Path, help="another params.py whose extract_array is 'before'")
    args = ap.parse_args()
    before: Callable = params._extract_regex
    if args.impl:
        spec = importlib.util.spec_from_file_location("params_before", args.impl)
        assert spec and spec.loader
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        before = mod.extract_array
    if args.sample:
        report(f"sample {args.sample} (learned templates, batches of {args.batch:,})",
               sample_groups(args.sample, args.batch), before, args.rounds)
    if args.data:
        report(f"loghub {args.data} x{args.repeat} (ground-truth templates)",
               loghub_groups(args.data, args.repeat), before, args.rounds)


if __name__ == "__main__":
    main()
