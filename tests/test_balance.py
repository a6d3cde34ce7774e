"""Work balancing across local workers."""

import gzip

import pytest

from aiops.balance import estimated_size, pack, parse_cost
from aiops.sources import sample_density


def test_pack_lpt_is_balanced_and_deterministic():
    items = [("a", 9), ("b", 5), ("c", 4), ("d", 3), ("e", 1)]
    assert pack(items, 2) == [["a", "d"], ["b", "c", "e"]]  # loads 12 and 10
    assert pack(items, 1) == [["a", "b", "c", "d", "e"]]


def test_pack_never_returns_empty_bins():
    assert pack([("a", 1)], 4) == [["a"]]
    assert pack([], 2) == []
    with pytest.raises(ValueError):
        pack([("a", 1)], 0)


def test_compressed_files_weigh_more():
    assert estimated_size("/x/a.log", 100) == 100
    assert estimated_size("/x/a.log.GZ", 100) == 600
    assert estimated_size("/x/a.log.bz2", 100) == 800
    assert estimated_size("/x/a.zst", 100) == 600


def test_parse_cost_weighs_lines_not_only_bytes():
    # 10 lines of 100 bytes: 10 x 160 + 1000
    assert parse_cost("/x/a.log", 1000, (0.01, 1.0, 0.0)) == 2600
    # the same bytes in 100 short lines cost more
    assert parse_cost("/x/a.log", 1000, (0.1, 1.0, 0.0)) == 17000
    # ... unless the vectorised path takes half of them: 100 x (80 + 25) + 1000
    assert parse_cost("/x/a.log", 1000, (0.1, 1.0, 0.5)) == 11500
    # no density measured: the uncompressed size guessed from the extension
    assert parse_cost("/x/a.log.gz", 100, None) == 600


def test_sample_density_of_plain_and_gzip_heads(tmp_path):
    plain = tmp_path / "a.log"
    plain.write_bytes(b"0123456789\n" * 100)  # 11 bytes a line
    d = sample_density(str(plain))
    assert d is not None and d.lines_per_byte == pytest.approx(1 / 11) and d.expansion == 1.0
    packed = tmp_path / "a.log.gz"
    packed.write_bytes(gzip.compress(b"0123456789\n" * 1000))
    d = sample_density(str(packed))
    assert d is not None and d.expansion > 20 and d.lines_per_byte == pytest.approx(d.expansion / 11)
    # a range starting mid-file samples from its start
    d = sample_density(str(plain), start=550)
    assert d is not None and d.lines_per_byte == pytest.approx(1 / 11)


def test_sample_density_share_of_fast_lines(tmp_path):
    path = tmp_path / "a.log"
    path.write_bytes(b"fast\nslow\nfast\nfast\n" * 10)
    d = sample_density(str(path), fast_line=lambda line: line == b"fast")
    assert d is not None and d.fast_share == 0.75
    assert sample_density(str(path)).fast_share == 0.0


def test_sample_density_of_unreadable_files(tmp_path):
    assert sample_density(str(tmp_path / "missing.log")) is None
    (tmp_path / "empty.log").write_bytes(b"")
    assert sample_density(str(tmp_path / "empty.log")) is None
    (tmp_path / "bad.gz").write_bytes(b"not gzip at all")
    assert sample_density(str(tmp_path / "bad.gz")) is None
