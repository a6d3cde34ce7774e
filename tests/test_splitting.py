"""Big uncompressed files are read in ranges that start at an event; results equal a whole read."""

import gzip

from aiops.commit import merge_file_stats
from aiops.parsing.reader import LogParser, ParseConfig
from aiops.schema import FileStats
from aiops.sources import expand_inputs, read_lines
from aiops.splitting import split_input


def _log(n: int) -> bytes:
    out = []
    for i in range(n):
        out.append(f"2026-11-22T10:{i // 60 % 60:02d}:{i % 60:02d}Z ERROR job {i} failed".encode())
        if i % 7 == 0:  # a multi-line event that a naive split could cut in two
            out += [b"Traceback (most recent call last):", b'  File "x.py", line 1, in <module>', b"ValueError: bad"]
    return b"\n".join(out) + b"\n"


def _parse(f):
    parser = LogParser(f.path, ParseConfig(default_service=f.service, reference_time_us=f.mtime_us))
    out, line_no = [], f.first_line - 1
    for raw in read_lines(f.path, None, f.start, f.end):
        line_no += 1
        out += parser.feed(raw, line_no)
    return out + parser.finish(), line_no - (f.first_line - 1)


def test_ranges_start_at_events_and_match_a_whole_read(tmp_path):
    (tmp_path / "svc").mkdir()
    path = tmp_path / "svc" / "big.log"
    path.write_bytes(_log(3000))
    (f,) = expand_inputs([str(path)])
    parts = split_input(f, "auto", chunk_bytes=20_000)
    assert len(parts) > 5
    assert parts[0].start == 0 and parts[-1].end is None
    assert [p.end for p in parts[:-1]] == [p.start for p in parts[1:]]
    whole, whole_lines = _parse(f)
    pieces = [_parse(p) for p in parts]
    assert sum(n for _, n in pieces) == whole_lines == 3000 + 3 * 429
    assert [e for events, _ in pieces for e in events] == whole  # same events, same line numbers
    for p in parts[1:]:
        assert path.read_bytes()[p.start:p.start + 20].startswith(b"2026-11-22T")


def test_small_and_compressed_files_are_not_split(tmp_path):
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "a.log.gz").write_bytes(gzip.compress(_log(3000)))
    (tmp_path / "svc" / "b.log").write_bytes(_log(10))
    for f in expand_inputs([str(tmp_path / "svc" / "*")]):
        assert split_input(f, "auto", chunk_bytes=1000) == [f]


def test_raw_format_splits_at_any_line(tmp_path):
    (tmp_path / "svc").mkdir()
    path = tmp_path / "svc" / "raw.log"
    path.write_bytes(b"".join(b"line %d\n" % i for i in range(10_000)))
    (f,) = expand_inputs([str(path)])
    parts = split_input(f, "raw", chunk_bytes=10_000)
    # byte 10,000 is the start of line 1,112; the split goes to the first line that begins after it
    assert [p.first_line for p in parts[:3]] == [1, 1113, 2114]


def test_stats_of_ranges_merge_per_source():
    merged = merge_file_stats([FileStats("a", 10, 5, 4, 4, 1, 0), FileStats("a", 20, 7, 6, 6, 0, 1),
                               FileStats("b", 1, 1, 1, 1, 0, 0)])
    assert merged == [FileStats("a", 30, 12, 10, 10, 1, 1), FileStats("b", 1, 1, 1, 1, 0, 0)]
