"""The progress line sums the workers' files and switches phase when reading is done."""

import io
import json

from aiops.progress import ProgressPrinter, print_summary


def test_progress_sums_worker_files(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"bytes": 1024, "lines": 10, "files": 1}))
    (tmp_path / "b.json").write_text(json.dumps({"bytes": 2048, "lines": 5, "files": 0}))
    printer = ProgressPrinter(str(tmp_path), files=2, total_bytes=4096, stream=io.StringIO())
    assert printer.totals() == {"bytes": 3072, "lines": 15, "files": 1}
    assert printer.line().startswith("reading: files 1/2  bytes 3.0 KiB/4.0 KiB  lines 15  ")
    (tmp_path / "b.json").write_text(json.dumps({"bytes": 3072, "lines": 20, "files": 1}))
    assert printer.line().startswith("read 2 files, 4.0 KiB, 30 lines at ")
    assert "templating and writing" in printer.line()
    printer.stop()  # not a terminal: prints nothing, removes the directory
    assert not tmp_path.exists()


def test_summary_names_counts_and_validation():
    out = io.StringIO()
    manifest = {"run_id": "r1", "status": "succeeded", "elapsed_s": 2.0, "input_files": 3, "bytes_read": 2048,
                "lines_read": 100, "events": 90, "event_lines": 95, "dead_letter": 2, "dead_letter_lines": 2,
                "blank": 3, "templates": 7, "new_templates": 1, "tables": {"kpis": 4},
                "validation": {"success": False, "results": [{"table": "events", "check": "level_allowed",
                                                              "success": False}]}}
    print_summary(manifest, "/out", out)
    text = out.getvalue()
    assert text.splitlines()[0] == "run r1: succeeded in 2.0s (50 lines/s)"
    assert "events   90 (95 lines)   dead letters 2 (2 lines)   blank 3" in text
    assert text.splitlines()[-1] == "  validation FAILED: events.level_allowed"
