"""Throughput of :func:`aiops.templating.masking.mask_array` (single core, lines/s).

Two corpora: the Content column of every Loghub ``*_structured_corrected.csv`` under ``--data``
repeated to ``--lines`` lines, and a seeded synthetic mix of web access / JSON / syslog / app lines.
Also checks on a sample that ``mask(s) == mask_array([s])[0]``.

    .venv/bin/python bench/mask_speed.py --data /work/shared/data/loghub-2k
    .venv/bin/python bench/mask_speed.py --impl /tmp/masking_old.py   # another masking.py, to compare
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import random
import time
from pathlib import Path

import pyarrow as pa

from aiops.templating import masking

csv.field_size_limit(1 << 26)


def loghub_lines(data: Path) -> list[str]:
    out: list[str] = []
    for f in sorted(data.glob("*/*_structured_corrected.csv")):
        with f.open(newline="", encoding="utf-8", errors="replace") as fh:
            out.extend(r["Content"] for r in csv.DictReader(fh))
    return out


def synthetic_lines(n: int, seed: int = 7) -> list[str]:
    rnd = random.Random(seed)
    paths = ["/", "/index.html", "/api/v1/users/{}", "/static/js/app.{}.js", "/login", "/orders/{}/items"]
    agents = ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36", "curl/7.68.0", "Go-http-client/1.1"]
    services = ["sshd", "kernel", "systemd", "cron", "nginx", "dockerd"]
    out = []
    for i in range(n):
        k = i % 5
        ip = ".".join(str(rnd.randint(1, 254)) for _ in range(4))
        if k == 0:
            p = rnd.choice(paths).format(rnd.randint(1, 99999))
            out.append(f'{ip} - - [10/Oct/2023:13:{rnd.randint(10, 59)}:{rnd.randint(10, 59)} +0000] '
                       f'"GET {p} HTTP/1.1" {rnd.choice([200, 301, 404, 500])} {rnd.randint(100, 99999)} '
                       f'"-" "{rnd.choice(agents)}"')
        elif k == 1:
            out.append(json.dumps({"ts": f"2023-10-10T13:{rnd.randint(10, 59)}:{rnd.randint(10, 59)}.{rnd.randint(100, 999)}Z",
                                   "level": rnd.choice(["info", "warn", "error"]), "msg": "request done",
                                   "request_id": f"{rnd.getrandbits(128):032x}", "latency_ms": rnd.randint(1, 900),
                                   "user": f"user{rnd.randint(1, 500)}@example.com", "path": "/api/v1/items"}))
        elif k == 2:
            svc = rnd.choice(services)
            out.append(f"{svc}[{rnd.randint(100, 65000)}]: Accepted publickey for root from {ip} port "
                       f"{rnd.randint(1024, 65535)} ssh2: RSA SHA256:{rnd.getrandbits(64):016x}")
        elif k == 3:
            out.append(f"Connection reset by peer while reading response header from upstream, client: {ip}, "
                       f"server: api.example.com, upstream: \"http://10.0.{rnd.randint(0, 9)}.{rnd.randint(1, 254)}:8080/\"")
        else:
            out.append(rnd.choice([
                "Starting worker pool", "Cache warmed up", "Shutting down gracefully",
                f"GC pause {rnd.randint(1, 300)}ms heap {rnd.randint(100, 4000)}MB",
                f"job {rnd.getrandbits(32):08x} finished in {rnd.random() * 10:.3f}s status=OK",
            ]))
    return out


def bench(name: str, lines: list[str], repeat: int, mask_array) -> float:
    arr = pa.array(lines, pa.string())
    mask_array(arr[:1000])  # warm up
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        mask_array(arr)
        best = min(best, time.perf_counter() - t)
    rate = len(lines) / best
    print(f"{name:<10} {len(lines):>8} lines  best {best * 1e3:8.1f} ms  {rate:>10,.0f} lines/s  "
          f"{best / len(lines) * 1e6:6.2f} us/line")
    return rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data/loghub-2k"))
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--impl", type=Path, help="load mask/mask_array from this file instead")
    args = ap.parse_args()
    if args.impl:
        spec = importlib.util.spec_from_file_location("mask_impl", args.impl)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    else:
        mod = masking
    mask, mask_array = mod.mask, mod.mask_array
    base = loghub_lines(args.data)
    loghub = (base * (args.lines // len(base) + 1))[: args.lines]
    synth = synthetic_lines(args.lines)
    sample = base + synth[:5000]
    got = mask_array(pa.array(sample, pa.string())).to_pylist()
    bad = [(s, g, mask(s)) for s, g in zip(sample, got, strict=True) if g != mask(s)]
    print(f"mask == mask_array on {len(sample)} lines: {'OK' if not bad else f'{len(bad)} MISMATCHES'}")
    for s, g, m in bad[:5]:
        print(f"  {s!r}\n    array {g!r}\n    mask  {m!r}")
    bench("loghub", loghub, args.repeat, mask_array)
    bench("synthetic", synth, args.repeat, mask_array)


if __name__ == "__main__":
    main()
