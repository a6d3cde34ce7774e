"""Input expansion and line reading: globs, compression, truncation, CRLF."""

import bz2
import gzip

import pytest
import zstandard

from aiops.sources import InputError, Truncated, expand_inputs, read_lines

LINES = [b"first line", b"second line", b"", b"fourth"]
PAYLOAD = b"first line\r\nsecond line\n\nfourth"


@pytest.fixture()
def logs(tmp_path):
    svc = tmp_path / "checkout"
    svc.mkdir()
    (svc / "a.log").write_bytes(PAYLOAD)
    (svc / "b.log.gz").write_bytes(gzip.compress(PAYLOAD))
    (svc / "c.log.bz2").write_bytes(bz2.compress(PAYLOAD))
    (svc / "d.log.zst").write_bytes(zstandard.ZstdCompressor().compress(PAYLOAD))
    (svc / "empty.log").write_bytes(b"")
    return svc


def test_expand_sorted_with_service(logs):
    files = expand_inputs([str(logs / "*.log*"), str(logs / "a.log")])
    assert [f.path.rsplit("/", 1)[1] for f in files] == ["a.log", "b.log.gz", "c.log.bz2", "d.log.zst", "empty.log"]
    assert {f.service for f in files} == {"checkout"}
    assert files[0].size == len(PAYLOAD)


def test_missing_input_fails(tmp_path):
    with pytest.raises(InputError, match="input not found"):
        expand_inputs([str(tmp_path / "nope" / "*.log")])


@pytest.mark.parametrize("name", ["a.log", "b.log.gz", "c.log.bz2", "d.log.zst"])
def test_every_compression_gives_the_same_lines(logs, name):
    assert list(read_lines(str(logs / name))) == LINES


def test_empty_file_has_no_lines(logs):
    assert list(read_lines(str(logs / "empty.log"))) == []


def test_concatenated_gzip_members(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"a\nb\n") + gzip.compress(b"c\n"))
    assert list(read_lines(str(path))) == [b"a", b"b", b"c"]


def test_truncated_gzip_keeps_what_was_readable(tmp_path):
    data = b"".join(b"line %d\n" % i for i in range(50_000))
    path = tmp_path / "cut.log.gz"
    path.write_bytes(gzip.compress(data)[:-2000])
    out = list(read_lines(str(path)))
    assert isinstance(out[-1], Truncated)
    assert out[-1].reason == "truncated_gzip"
    whole = out[:-1]
    assert whole[:3] == [b"line 0", b"line 1", b"line 2"]
    assert all(line == b"line %d" % i for i, line in enumerate(whole))
    assert len(whole) > 40_000


def test_corrupt_gzip_reports_damage(tmp_path):
    path = tmp_path / "bad.gz"
    path.write_bytes(b"this is not gzip at all\n")
    out = list(read_lines(str(path)))
    assert len(out) == 1 and isinstance(out[0], Truncated)
    assert out[0].reason.startswith("corrupt_gzip")
