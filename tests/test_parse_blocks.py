"""The vectorised block parsers (access logs, timestamp/level/logger lines): literal values, the lines
they must refuse, and equality with the per-line parser on crafted, generated and real (Loghub) logs."""

import gzip
from pathlib import Path

import pyarrow as pa
import pytest

from aiops.parsing.access_block import access_columns, is_fast_line
from aiops.parsing.blocks import parse_block
from aiops.parsing.files import FileParse
from aiops.parsing.generic_block import generic_columns
from aiops.parsing.reader import LogParser, ParseConfig
from aiops.sample.generator import generate
from aiops.schema import ParsedEvent
from aiops.sources import InputFile

LOGHUB = Path(__file__).resolve().parents[2] / "shared" / "data"
LINES = [
    '10.0.0.1 - - [14/Nov/2023:22:13:20 +0000] "GET /a?x=1 HTTP/1.1" 200 5 "-" "curl/8.0" 0.052',
    '10.0.0.2 - bob [14/Nov/2023:23:13:21 +0100] "POST /login HTTP/2.0" 401 - "https://x/" "Mozilla/5.0 (X11)"',
    '2001:db8::7 - - [14/Nov/2023:22:13:22 -0030] "DELETE /api/v1/items/9 HTTP/1.1" 503 1234 1.5',
]


def test_columns_of_common_and_combined_lines():
    ok, cols = access_columns(pa.array(LINES))
    assert ok.tolist() == [True, True, True]
    assert cols["message"].to_pylist() == [
        "GET /a?x=1 HTTP/1.1 200 client=10.0.0.1",
        "POST /login HTTP/2.0 401 client=10.0.0.2 user=bob",
        "DELETE /api/v1/items/9 HTTP/1.1 503 client=2001:db8::7",
    ]
    assert cols["event_time"].to_pylist() == [1700000000000000, 1700000001000000, 1700001802000000]
    assert cols["level"].to_pylist() == ["INFO", "WARN", "ERROR"]
    assert cols["http_method"].to_pylist() == ["GET", "POST", "DELETE"]
    assert cols["http_path"].to_pylist() == ["/a", "/login", "/api/v1/items/9"]
    assert cols["http_status"].to_pylist() == [200, 401, 503]
    assert cols["response_bytes"].to_pylist() == [5, None, 1234]
    assert cols["latency_ms"].to_pylist() == [52.0, None, 1500.0]


@pytest.mark.parametrize("line", [
    r'10.0.0.1 - - [14/Nov/2023:22:13:20 +0000] "GET /a\"b HTTP/1.1" 200 5',  # escaped quote
    '1700000000 - - [14/Nov/2023:22:13:20 +0000] "GET / HTTP/1.1" 200 5',  # epoch-like client: a generic line
    '10.0.0.1 - - [31/Feb/2023:22:13:20 +0000] "GET / HTTP/1.1" 200 5',  # no such date
    '10.0.0.1 - - [14/Nov/2023:22:13:60 +0000] "GET / HTTP/1.1" 200 5',  # leap second: per-line clamps it
    '10.0.0.1 - - [14/Nov/2023:22:13:20.5 +0000] "GET / HTTP/1.1" 200 5',  # fraction
    '10.0.0.1 - - [14/Nov/2023:22:13:20] "GET / HTTP/1.1" 200 5',  # no zone
    '10.0.0.1 - - [14/Nov/2023:22:13:20 +0000] "-" 400 0',  # no request line
    '10.0.0.1 - - [14/Nov/2023:22:13:20 +0000] "get / HTTP/1.1" 200 5',  # lowercase method
    '10.0.0.1 - - [14/Nov/2023:22:13:20 +0000] "GET / HTTP/1.1" 200 5 trailing words',
    '10.0.0.1 -\tx - [14/Nov/2023:22:13:20 +0000] "GET / HTTP/1.1" 200 5',  # tab inside a field
    '10.0.0.1 - - [14/Nov/2023:22:13:20 +0000] "GET /\x00 HTTP/1.1" 200 5',  # NUL byte
    'example.com - - [14/Nov/2023:22:13:20 +0000] "GET / HTTP/1.1" 200 5',  # host name client
])
def test_lines_left_to_the_per_line_parser(line):
    ok, _ = access_columns(pa.array([line]))
    assert ok.tolist() == [False]


def test_is_fast_line_checks_the_shape_only():
    assert [is_fast_line(line.encode()) for line in LINES] == [True, True, True]
    assert not is_fast_line(b'10.0.0.1 - - [14/Nov/2023:22:13:20] "GET / HTTP/1.1" 200 5')
    assert not is_fast_line(b"\xff\xfe")
    assert is_fast_line(b'10.0.0.1 - - [31/Feb/2023:22:13:20 +0000] "GET / HTTP/1.1" 200 5')  # the date is checked later


GENERIC = [
    "2023-11-14 22:13:20,123 WARN [main] com.acme.Db - slow query took 5 ms",
    "2023-11-14 22:13:21.5 INFO app.jobs: Job 7 done",
    "2023-11-14 22:13:22 WARNING [pool-1-thread-3] org.x.Y$Inner: retry: 2",
]


def test_generic_columns():
    ok, cols = generic_columns(pa.array(GENERIC))
    assert ok.tolist() == [True, True, True]
    assert cols["event_time"].to_pylist() == [1700000000123000, 1700000001500000, 1700000002000000]
    assert cols["level"].to_pylist() == ["WARN", "INFO", "WARN"]
    assert cols["component"].to_pylist() == ["com.acme.Db", "app.jobs", "org.x.Y$Inner"]
    assert cols["message"].to_pylist() == ["slow query took 5 ms", "Job 7 done", "retry: 2"]


@pytest.mark.parametrize("line", [
    "2023-11-14T22:13:20,123 WARN [main] com.acme.Db - x",  # T separator
    "2023-11-14 22:13:20,123Z WARN [main] com.acme.Db - x",  # zone
    "2023-11-14 22:13:20,123 Warn [main] com.acme.Db - x",  # level case
    "2023-11-14 22:13:20,123 WARN [main thread] com.acme.Db - x",  # thread with a space
    "2023-11-14 22:13:20,123 WARN [main] Db - x",  # logger without a dot
    "2023-11-14 22:13:20,123 WARN [main] com.acme.Db -  x",  # two spaces
    "2023-11-14 22:13:20,123 WARN com.acme.Db: \u00a0x",  # a message starting with non-ASCII
    "2023-02-30 22:13:20,123 WARN com.acme.Db: x",  # no such date
    "2023-11-14 22:13:60,123 WARN com.acme.Db: x",  # leap second
    "2023-11-14 22:13:20,1234567 WARN com.acme.Db: x",  # nanoseconds
    "2023-11-14 22:13:20 - INFO  [main:Foo@1] - x",  # Zookeeper style
    "2023-11-14 22:13:20 12 34 INFO com.acme.Db: x",  # pid columns
])
def test_generic_lines_left_to_the_per_line_parser(line):
    ok, _ = generic_columns(pa.array([line]))
    assert ok.tolist() == [False]


def _expand(items) -> list:
    """Tables of the fast path back to ParsedEvents, other items as they are."""
    out = []
    for item in items:
        if isinstance(item, pa.Table):
            cols = item.to_pydict()
            cols["event_time"] = item.column("event_time").cast(pa.int64()).to_pylist()
            out += [ParsedEvent(*(cols[k][i] for k in ParsedEvent._fields)) for i in range(item.num_rows)]
        else:
            out.append(item)
    return out


def _per_line(raws: list[bytes], config: ParseConfig) -> tuple[list, LogParser]:
    p = LogParser("web/access.log", config)
    return [x for n, raw in enumerate(raws, 1) for x in p.feed(raw, n)] + p.finish(), p


def _blocks(raws: list[bytes], config: ParseConfig, size: int) -> tuple[list, LogParser]:
    p = LogParser("web/access.log", config)
    out = []
    for i in range(0, len(raws), size):
        out += parse_block(p, raws[i : i + size], i + 1)
    return out + p.finish(), p


def _mixed_lines() -> list[bytes]:
    access = [line.encode() for line in LINES] * 30
    generic = [line.encode() for line in GENERIC] * 30
    return [
        *generic,
        b"java.lang.IllegalStateException: boom",  # joins the generic line before it
        b"\tat com.acme.X.y(X.java:1)",
        *generic,
        *access,
        b"java.lang.IllegalStateException: boom",  # a stack trace after an access line joins it
        b"\tat com.acme.X.y(X.java:1)",
        *access,
        b"",
        b"   ",
        b'{"ts": "2023-11-14T22:13:25Z", "level": "error", "msg": "json in between"}',
        *access,
        b'{"ts": 1700000000, "msg": "trunc',  # invalid JSON: a dead letter
        b"10.0.0.1 - - [14/Nov/2023:22:13:20 +0000] \"GET /\x00 HTTP/1.1\" 200 5",  # NUL: a dead letter
        *access,
        b"x" * 5000,  # over max_line_bytes below
        *access,
        b"plain words no format",  # a fallback line
        *access,
    ]


@pytest.mark.parametrize("size", [64, 100, 1000, 10_000])
def test_blocks_give_exactly_the_per_line_result(size):
    raws = _mixed_lines()
    config = ParseConfig(default_service="web", reference_time_us=1_600_000_000_000_000, max_line_bytes=4096,
                         sample_fallbacks=5)
    expected, p1 = _per_line(raws, config)
    got, p2 = _blocks(raws, config, size)
    assert any(isinstance(x, pa.Table) for x in got)  # the fast path was taken
    assert _expand(got) == expected
    assert (p2.blank_lines, p2.fallback_lines, p2.fallback_sample) == (p1.blank_lines, p1.fallback_lines,
                                                                        p1.fallback_sample)
    joined = [e for e in expected if isinstance(e, ParsedEvent) and e.line_count == 3]
    assert [e.message.splitlines()[1] for e in joined] == ["java.lang.IllegalStateException: boom"] * 2


def test_a_block_with_invalid_utf8_is_parsed_line_by_line():
    raws = [line.encode() for line in LINES] * 40 + [b"\xff\xfe bad bytes"] + [line.encode() for line in LINES] * 40
    config = ParseConfig(default_service="web")
    expected, _ = _per_line(raws, config)
    got, _ = _blocks(raws, config, 10_000)
    assert not any(isinstance(x, pa.Table) for x in got)
    assert _expand(got) == expected
    assert [d.reason for d in got if not isinstance(d, ParsedEvent)] == ["invalid_utf8"]


def test_other_modes_never_take_the_fast_path():
    raws = [line.encode() for line in LINES] * 40
    for fmt in ("raw", "<Client> <Rest>"):
        config = ParseConfig(format=fmt, default_service="web")
        got, _ = _blocks(raws, config, 10_000)
        assert not any(isinstance(x, pa.Table) for x in got)
        assert _expand(got) == _per_line(raws, config)[0]


def test_generated_sample_files_parse_the_same_both_ways(tmp_path):
    generate(tmp_path, seed=11, lines=30_000, hours=3)
    # and a gzip copy of the access log, so blocks come from decompression too
    web = sorted((tmp_path / "web").glob("*"))
    packed = tmp_path / "web" / "copy.log.gz"
    packed.write_bytes(gzip.compress(b"".join((gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes())
                                              for p in web)))
    files = sorted(p for p in tmp_path.glob("*/*") if p.is_file())
    fast_rows = 0
    for path in files:
        f = InputFile(str(path), path.stat().st_size, 1_700_000_000_000_000, path.parent.name)
        config = ParseConfig(default_service=f.service, reference_time_us=f.mtime_us)
        slow = FileParse(f, LogParser(f.path, config))
        fast = FileParse(f, LogParser(f.path, config), tables=True)
        fast_items = list(fast)
        assert _expand(fast_items) == list(slow), path
        assert fast.lines_read == slow.lines_read
        fast_rows += sum(x.num_rows for x in fast_items if isinstance(x, pa.Table))
    assert fast_rows > 5_000


@pytest.mark.skipif(not LOGHUB.exists(), reason="needs ../shared/data")
def test_real_logs_parse_the_same_both_ways():
    fast_rows = 0
    for path in sorted(LOGHUB.glob("loghub-2k/*/*_2k.log")) + [LOGHUB / "hdfs" / "HDFS_20000.log"]:
        f = InputFile(str(path), path.stat().st_size, 1_700_000_000_000_000, path.parent.name)
        config = ParseConfig(default_service=f.service, reference_time_us=f.mtime_us)
        fast_items = list(FileParse(f, LogParser(f.path, config), tables=True))
        assert _expand(fast_items) == list(FileParse(f, LogParser(f.path, config))), path
        fast_rows += sum(x.num_rows for x in fast_items if isinstance(x, pa.Table))
    assert fast_rows > 300  # Hadoop lines take the generic fast path
