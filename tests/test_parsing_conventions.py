"""Header conventions of auto mode beyond ISO/syslog/access: compact dates, logcat,
thread names with spaces or nested brackets, log4j ``- LEVEL [t] -``, padded columns.

Lines are made up (realistic shapes, not copies of any benchmark file).

Run: .venv/bin/python -m pytest tests/test_parsing_conventions.py -q
"""

from aiops.parsing import LogParser, ParseConfig
from aiops.parsing.reader import is_event_start

REF = 1700000000000000  # 2023-11-14T22:13:20Z


def parse_one(line: bytes):
    p = LogParser("app/app.log", ParseConfig(default_service="app", reference_time_us=REF))
    out = p.feed(line, 1) + p.finish()
    assert len(out) == 1
    ev = out[0]
    return ev.event_time, ev.time_source, ev.level, ev.component, ev.message


def test_compact_date_with_pid_column_and_dotted_component():
    line = b"231113 094512 2481 INFO dfs.FSNamesystem: BLOCK* allocateBlock: /user/etl/part-00017. blk_441027"
    assert parse_one(line) == (
        1699868712000000, "record", "INFO", "dfs.FSNamesystem", "BLOCK* allocateBlock: /user/etl/part-00017. blk_441027"
    )


def test_compact_date_with_pid_column_and_plain_component():
    assert parse_one(b"231113 094512 77 WARN BlockReceiver: Slow flush took 812ms") == (
        1699868712000000, "record", "WARN", "BlockReceiver", "Slow flush took 812ms"
    )


def test_compact_date_without_pid_keeps_undotted_prefix_in_message():
    assert parse_one(b"231113 094512 ERROR Starting: recovery of lease") == (
        1699868712000000, "record", "ERROR", None, "Starting: recovery of lease"
    )


def test_compact_date_out_of_range_is_not_a_timestamp():
    line = b"231399 094512 77 WARN BlockReceiver: Slow flush"
    assert parse_one(line) == (REF, "file", "WARN", None, "231399 094512 77 WARN BlockReceiver: Slow flush")


def test_logcat_threadtime():
    line = b"11-14 08:02:17.339  1523  1611 W ActivityManager: Slow operation: 72ms so far, now at startProcess"
    assert parse_one(line) == (
        1699948937339000, "record", "WARN", "ActivityManager", "Slow operation: 72ms so far, now at startProcess"
    )


def test_logcat_padded_tag_and_year_before_reference():
    # Dec 31 would be after the reference time (Nov 14 2023): it is from 2022.
    line = b"12-31 23:59:59.999  4102  4102 E Zygote  : Exit zygote because system server (pid 611) has crashed"
    assert parse_one(line) == (
        1672531199999000, "record", "ERROR", "Zygote", "Exit zygote because system server (pid 611) has crashed"
    )


def test_logcat_levels_verbose_debug_info_fatal():
    levels = [parse_one(f"11-14 08:02:17.339   900   930 {c} Tag: x".encode())[2] for c in "VDIF"]
    assert levels == ["TRACE", "DEBUG", "INFO", "FATAL"]


def test_single_letter_level_needs_pid_and_tid_columns():
    assert parse_one(b"2023-11-14 21:04:55 5 I think the cache is cold") == (
        1699995895000000, "record", "INFO", None, "5 I think the cache is cold"
    )


def test_number_before_lowercase_level_word_stays_in_message():
    assert parse_one(b"2023-11-14 21:04:55 3 error reports uploaded") == (
        1699995895000000, "record", "INFO", None, "3 error reports uploaded"
    )


def test_thread_name_with_spaces_before_dotted_logger():
    line = (b"2023-11-14 21:04:55,018 INFO [IPC Server handler 7 on 41022] "
            b"org.apache.hadoop.mapred.TaskAttemptListenerImpl: Progress of TaskAttempt attempt_7_m_3 is : 0.54")
    assert parse_one(line) == (
        1699995895018000, "record", "INFO", "org.apache.hadoop.mapred.TaskAttemptListenerImpl",
        "Progress of TaskAttempt attempt_7_m_3 is : 0.54",
    )


def test_bracket_with_spaces_without_logger_stays_in_message():
    assert parse_one(b"2023-11-14 21:04:55,018 INFO [user 42] signed in from 10.1.2.3") == (
        1699995895018000, "record", "INFO", None, "[user 42] signed in from 10.1.2.3"
    )


def test_log4j_dash_level_nested_bracket_thread_dash():
    line = (b"2023-11-14 21:04:55,018 - WARN  [LearnerHandler[sid=3]/10.0.4.7:2888:LearnerHandler@612] "
            b"- Closing connection to peer due to transaction timeout.")
    assert parse_one(line) == (
        1699995895018000, "record", "WARN", None, "Closing connection to peer due to transaction timeout."
    )


def test_log4j_dash_message_keeps_its_own_dashes():
    line = b"2023-11-14 21:04:55,018 - INFO  [main:Election@90] - ELECTED - round 4 - took 210 ms"
    assert parse_one(line) == (1699995895018000, "record", "INFO", None, "ELECTED - round 4 - took 210 ms")


def test_simple_thread_then_dash():
    assert parse_one(b"2023-11-14 21:04:55,018 ERROR [main] - Unable to bind port 8080") == (
        1699995895018000, "record", "ERROR", None, "Unable to bind port 8080"
    )


def test_comma_after_time_padded_level_and_component_columns():
    line = b"2023-11-14 21:04:55, Info                  CBS    Session: 30546174_2114 initialized by client Updater."
    assert parse_one(line) == (
        1699995895000000, "record", "INFO", "CBS", "Session: 30546174_2114 initialized by client Updater."
    )


def test_padded_columns_error_level():
    line = b"2023-11-14 21:04:55, Error                 CSI    00000007 (F) Hydration failed [HRESULT = 0x80070002]"
    assert parse_one(line) == (
        1699995895000000, "record", "ERROR", "CSI", "00000007 (F) Hydration failed [HRESULT = 0x80070002]"
    )


def test_unpadded_word_after_level_is_not_a_component():
    assert parse_one(b"2023-11-14 21:04:55, Info CBS  started") == (
        1699995895000000, "record", "INFO", None, "CBS  started"
    )


def test_new_shapes_are_event_starts():
    assert is_event_start(b"11-14 08:02:17.339  1523  1611 I Choreographer: Skipped 31 frames!")
    assert is_event_start(b"231113 094512 2481 INFO dfs.DataNode: Receiving block blk_1")
