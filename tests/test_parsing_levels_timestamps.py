"""Level normalisation/inference and timestamp parsing (aiops.parsing.levels, .timestamps).

Run: .venv/bin/python -m pytest tests/test_parsing_levels_timestamps.py -q
"""

import pytest

from aiops.parsing.levels import infer_level, normalize_level
from aiops.parsing.timestamps import parse_any, parse_epoch, parse_iso, year_of
from aiops.schema import LEVELS

REF = 1700000000000000  # 2023-11-14T22:13:20Z


@pytest.mark.parametrize(
    "raw, level",
    [
        ("warning", "WARN"), ("WARN", "WARN"), ("W", "WARN"),
        ("err", "ERROR"), ("SEVERE", "ERROR"), ("E", "ERROR"), ("error", "ERROR"),
        ("critical", "FATAL"), ("CRIT", "FATAL"), ("emerg", "FATAL"), ("alert", "FATAL"),
        ("panic", "FATAL"), ("F", "FATAL"),
        ("notice", "INFO"), ("I", "INFO"), ("Information", "INFO"), ("Info", "INFO"),
        ("FINE", "DEBUG"), ("D", "DEBUG"), ("finer", "TRACE"), ("FINEST", "TRACE"),
        ("verbose", "TRACE"), ("V", "TRACE"),
        (3, "ERROR"), ("4", "WARN"), (0, "FATAL"), (7, "DEBUG"), (50, "ERROR"),
        ("core:error", "ERROR"),
    ],
)
def test_normalize_level(raw, level):
    assert normalize_level(raw) == level
    assert level in LEVELS


def test_normalize_level_rejects_non_levels():
    assert normalize_level("KERNEL") is None
    assert normalize_level(["x"]) is None
    assert normalize_level(True) is None


def test_infer_level_only_trusts_uppercase_words():
    assert infer_level("disk FATAL on /dev/sda") == "FATAL"
    assert infer_level("WARNING: low memory") == "WARN"
    assert infer_level("retry after ERROR then WARN") == "ERROR"
    assert infer_level("0 errors, all fine") == "INFO"
    assert infer_level("NO_ERROR ERRORS INFORMATION") == "INFO"
    assert infer_level("") == "INFO"


def test_iso_variants():
    assert parse_iso("2023-11-14T22:13:20.123Z") == 1700000000123000
    assert parse_iso("2023-11-14 22:13:20,123") == 1700000000123000
    assert parse_iso("2023-11-14T23:13:20.123456789+01:00") == 1700000000123456
    assert parse_iso("2023-11-14T17:13:20-0500") == 1700000000000000
    assert parse_iso("2023/11/14 22:13:20") == 1700000000000000
    assert parse_iso("2023-02-30 10:00:00") is None


def test_epoch_by_magnitude():
    assert parse_epoch("1700000000") == 1700000000000000
    assert parse_epoch("1700000000.25") == 1700000000250000
    assert parse_epoch("1700000000123") == 1700000000123000
    assert parse_epoch("12345") is None


@pytest.mark.parametrize(
    "text, us",
    [
        ("Sun Dec 04 04:47:44 2005", 1133671664000000),
        ("081109 203615", 1226262975000000),
        ("2005-06-03-15.42.50.675872", 1117813370675872),
        ("10/Oct/2000:13:55:36 -0700", 971211336000000),
        ("24/01/02 10:00:00", 1704189600000000),
        ("2016-09-28 04:30:30", 1475037030000000),
        ("1077804742", 1077804742000000),
        ("Oct 11 22:14:15", 1697062455000000),  # year of REF
        ("Jul  1 09:00:55", 1688202055000000),
        ("03-17 16:13:38.811", 1679069618811000),
        ("Nov 14 23:00:00", 1700002800000000),  # later than REF but within a day: same year
        ("Nov 15 23:00:00", 1668553200000000),  # more than a day after REF: previous year
        ("Dec 31 23:00:00", 1672527600000000),
    ],
)
def test_parse_any(text, us):
    assert parse_any(text, REF) == us


def test_parse_any_rejects_non_times():
    assert parse_any("hello", REF) is None
    assert parse_any("Foo 11 22:14:15", REF) is None
    assert parse_any("2023-13-01 00:00:00", REF) is None


def test_year_of():
    assert year_of(REF) == 2023
    assert year_of(0) == 1970
    assert year_of(-1) == 1969
