"""Tests of aiops.query and the SQL in sql/: literal results over tests/fixtures_output.py."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil

import pytest

from aiops import query
from tests.fixtures_output import write_output


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write_output(tmp_path_factory.mktemp("out"))


def named(root, name, **params):
    return query.run_named(root, name, params)


def cli(capsys, *argv):
    code = query.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_top_templates_rows(root):
    columns, rows = named(root, "top_templates")
    assert columns == ["service", "template_id", "template", "events", "share", "example"]
    assert rows == [
        ("api", "a1", "GET <*> took <*> ms", 3, 0.5, "GET /users took 100 ms"),
        ("db", "c3", "connection lost to <*>", 2, 0.3333, "connection lost to 10.0.0.1"),
        ("api", "b2", "user <*> logged in", 1, 0.1667, "user ann logged in"),
    ]


def test_top_templates_params(root):
    assert [r[1] for r in named(root, "top_templates", limit=1)[1]] == ["a1"]
    _, rows = named(root, "top_templates", service="api")
    assert [(r[1], r[4]) for r in rows] == [("a1", 0.75), ("b2", 0.25)]


def test_error_rate_by_service_window(root):
    _, rows = named(root, "error_rate_by_service_window", minutes="1440")
    assert [(r[0], r[1].isoformat(), r[3], r[4], r[5], r[6]) for r in rows] == [
        ("api", "2024-05-01T00:00:00+00:00", 4, 0, 1, 0.0),
        ("db", "2024-05-02T00:00:00+00:00", 2, 2, 0, 1.0),
    ]


def test_new_templates_today_defaults_to_latest_day(root):
    assert [(r[1], r[4], r[5]) for r in named(root, "new_templates_today")[1]] == [("c3", 2, 2)]
    assert [(r[1], r[4]) for r in named(root, "new_templates_today", day="2024-05-01")[1]] == [("a1", 3)]
    assert named(root, "new_templates_today", day="2024-04-30")[1][0][1] == "b2"


def test_slowest_endpoints(root):
    columns, rows = named(root, "slowest_endpoints")
    assert columns[:4] == ["service", "http_method", "http_path", "requests"]
    assert rows == [
        ("api", "GET", "/users", 2, 150.0, 195.0, 199.0, 200.0),
        ("api", "GET", "/orders", 1, 50.0, 50.0, 50.0, 50.0),
    ]
    assert named(root, "slowest_endpoints", min_requests=2)[1] == rows[:1]


def test_noisiest_hosts(root):
    _, rows = named(root, "noisiest_hosts")
    assert rows == [
        ("h1", 3, 0.5, 0, 0.0, 1, 2),
        ("h3", 2, 0.3333, 2, 1.0, 1, 1),
        ("h2", 1, 0.1667, 0, 0.0, 1, 1),
    ]


def test_dead_letter_reasons(root):
    assert named(root, "dead_letter_reasons")[1] == [("unparseable", 1, 1, 10, 1, "\\xFF garbage")]


def test_worst_windows_min_events(root):
    assert named(root, "worst_windows")[1] == []
    _, rows = named(root, "worst_windows", min_events=1)
    assert [(r[0], r[1].hour, r[6]) for r in rows] == [("db", 9, 1.0), ("db", 9, 1.0), ("api", 10, 0.0)]
    assert [r[1].minute for r in rows[:2]] == [0, 10]


def test_runs_accounting(root):
    columns, rows = named(root, "runs")
    record = dict(zip(columns, rows[0], strict=True))
    assert record["run_id"] == "r1" and record["unaccounted_lines"] == 0 and record["duration_s"] == 30
    assert record["validation_success"] is None


def test_hidden_files_are_not_tables(root):
    con = query.connect(root)
    assert con.execute("select count(*), min(dt)::varchar, max(dt)::varchar from events").fetchall() == [
        (6, "2024-05-01", "2024-05-02")
    ]


def test_empty_and_missing_tables_keep_their_columns(root, tmp_path):
    empty = write_output(tmp_path / "empty", events=[], dead_letters=[], kpis=[], templates=[], manifests=[])
    full, none = query.connect(root), query.connect(empty)
    for view in query.VIEWS:
        describe = f"select column_name, column_type from (describe {view})"
        assert none.execute(describe).fetchall() == full.execute(describe).fetchall(), view
        assert none.execute(f"select count(*) from {view}").fetchall() == [(0,)]
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in query.named_queries():
        assert query.run_named(str(bare), name, {})[1] == [], name


def test_connect_creates_only_the_views_asked_for_and_refresh_sees_new_files(root, tmp_path):
    import duckdb

    fresh = write_output(tmp_path / "fresh", kpis=[])
    con = query.connect(fresh, views=("kpis",))
    assert con.execute("select count(*) from kpis").fetchall() == [(0,)]
    with pytest.raises(duckdb.CatalogException):
        con.execute("select count(*) from events")
    shutil.copytree(os.path.join(root, "kpis"), os.path.join(fresh, "kpis"), dirs_exist_ok=True)  # a commit
    assert con.execute("select count(*) from kpis").fetchall() == [(0,)]  # a view lists its files when made
    query.refresh_views(con, fresh, ("kpis",))
    assert con.execute("select service, count(*) from kpis group by 1 order by 1").fetchall() == [
        ("api", 1), ("db", 2)]


def test_cli_text_table(root, capsys):
    code, out, _ = cli(capsys, root, "select service, count(*) as n from events group by 1 order by 1")
    assert code == 0
    assert out == "service  n\n-------  -\napi      4\ndb       2\n(2 rows)\n"


def test_cli_csv_and_json(root, capsys):
    code, out, _ = cli(capsys, root, "--name", "noisiest_hosts", "--param", "limit=2", "--csv")
    assert code == 0
    assert list(csv.reader(io.StringIO(out))) == [
        ["host", "events", "share", "errors", "error_rate", "services", "templates"],
        ["h1", "3", "0.5", "0", "0.0", "1", "2"],
        ["h3", "2", "0.3333", "2", "1.0", "1", "1"],
    ]
    code, out, _ = cli(
        capsys, root, "select template_id, first_seen from templates order by 1 limit 1", "--json"
    )
    assert code == 0 and json.loads(out) == [{"template_id": "a1", "first_seen": "2024-05-01T10:00:00+00:00"}]


def test_cli_ad_hoc_parameters_are_bound(root, capsys):
    sql = "select count(*) as n from events where service = $service"
    code, out, _ = cli(capsys, root, sql, "--param", "service=db' or '1'='1", "--json")
    assert code == 0 and json.loads(out) == [{"n": 0}]
    assert json.loads(cli(capsys, root, sql, "--param", "service=db", "--json")[1]) == [{"n": 2}]


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM events",
        "COPY (select 1) TO 'x.csv'",
        "ATTACH 'x.db'",
        "select 1; select 2",
        "INSERT INTO events SELECT * FROM events",
        "PRAGMA version",
        "SET threads = 1",
        "",
    ],
)
def test_cli_rejects_non_select(root, capsys, sql):
    code, out, err = cli(capsys, root, sql)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("aiops query: ")


def test_cli_errors_are_one_line(root, tmp_path, capsys):
    for argv, expected in [
        ((tmp_path / "missing", "select 1"), 2),
        ((root, "--name", "no_such_query"), 2),
        ((root, "--name", "top_templates", "--param", "limit=many"), 2),
        ((root, "--name", "top_templates", "--param", "nope=1"), 2),
        ((root, "select * from no_such_table"), 1),
        ((root, "select * from read_csv('/etc/passwd')"), 1),
    ]:
        code, out, err = cli(capsys, *argv)
        assert code == expected, argv
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, argv
    code, _, err = cli(capsys, root)
    assert code == 2 and "SQL" in err


def test_cli_list(capsys):
    code, out, _ = cli(capsys, "--list")
    assert code == 0
    for name in ["top_templates", "error_rate_by_service_window", "new_templates_today", "slowest_endpoints",
                 "noisiest_hosts", "dead_letter_reasons", "worst_windows", "runs"]:  # fmt: skip
        assert f"\n{name}\n" in f"\n{out}"
    assert "$limit = 20" in out and "$day = NULL" in out
