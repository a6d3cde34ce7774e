"""The local workers' stderr log: kept only when a failure points at it."""

import tempfile

import pytest

from aiops.launcher import worker_logs_aside


@pytest.fixture
def tmpdir_for_logs(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_log_removed_after_a_clean_run(tmpdir_for_logs):
    with worker_logs_aside(True) as (_, log):
        assert log.path is not None and log.path.startswith(str(tmpdir_for_logs))
    assert list(tmpdir_for_logs.glob("aiops-workers-*.log")) == []


def test_log_kept_when_named_or_on_error(tmpdir_for_logs):
    with worker_logs_aside(True) as (_, log):
        kept = log.keep()
    with pytest.raises(RuntimeError), worker_logs_aside(True) as (_, log2):
        raise RuntimeError("boom")
    assert sorted(str(p) for p in tmpdir_for_logs.glob("aiops-workers-*.log")) == sorted([kept, log2.path])


def test_no_log_for_remote_runners():
    with worker_logs_aside(False) as (_, log):
        assert log.path is None and log.keep() is None
