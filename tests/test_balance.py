"""Work balancing across local workers."""

import pytest

from aiops.balance import estimated_size, pack


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
