"""End to end: a source in a format nobody declared is learnt by the first run and parsed by the next."""

from __future__ import annotations

import json
from pathlib import Path

from aiops import query
from aiops.cli import main

LOCAL = ["--direct_running_mode", "in_memory", "--no-validate", "--llm", "none"]
LEVELS = ("INFO", "WARN", "ERROR", "DEBUG")


def _write(path: Path, day: int, n: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        f"[pid {100 + i % 7}] {day:02d}/11/2026 10:{i // 60 % 60:02d}:{i % 60:02d} {LEVELS[i % 4]}: "
        f"invoice {5000 + i} settled for account {i * 7 % 97} in {i % 50} ms"
        for i in range(n)
    ]
    path.write_text("\n".join(lines) + "\n")


def _manifest(out: Path) -> dict:
    return json.loads(sorted((out / "runs").glob("*.json"), key=lambda p: p.stat().st_mtime)[-1].read_text())


def test_first_run_learns_the_format_and_the_next_run_uses_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _write(tmp_path / "in1" / "billing" / "billing-20261122.log", 22, 300)
    assert main(["batch", "--input", str(tmp_path / "in1" / "*" / "*.log"), "--output", str(out), *LOCAL]) == 0
    learned = _manifest(out)["formats_learned"]
    assert [(e["source_key"], e["proposer"]) for e in learned] == [("billing/billing-*.log", "heuristic")]
    assert learned[0]["validated_share"] >= 0.95
    assert (out / "_store" / "formats.json").exists()

    _write(tmp_path / "in2" / "billing" / "billing-20261123.log", 23, 100)
    assert main(["batch", "--input", str(tmp_path / "in2" / "*" / "*.log"), "--output", str(out), *LOCAL]) == 0
    assert _manifest(out)["formats_learned"] == []  # known now: no proposal, no samples
    rows = query.connect(str(out)).execute(
        "select level, strftime(event_time, '%Y-%m-%d %H:%M:%S'), message from events "
        "where source like '%billing-20261123.log' order by line_no limit 2").fetchall()
    assert rows == [("INFO", "2026-11-23 10:00:00", "invoice 5000 settled for account 0 in 0 ms"),
                    ("WARN", "2026-11-23 10:00:01", "invoice 5001 settled for account 7 in 1 ms")]


def test_formats_cli_lists_and_removes(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    _write(tmp_path / "in" / "billing" / "billing-20261122.log", 22, 200)
    assert main(["batch", "--input", str(tmp_path / "in" / "*" / "*.log"), "--output", str(out), *LOCAL]) == 0
    capsys.readouterr()
    assert main(["formats", "list", "--output", str(out)]) == 0
    listing = capsys.readouterr().out
    assert "billing/billing-*.log" in listing
    entry_id = _manifest(out)["formats_learned"][0]["id"]
    assert main(["formats", "remove", entry_id, "--output", str(out)]) == 0
    assert main(["formats", "show", entry_id, "--output", str(out)]) == 2
