import json
from pathlib import Path

import pytest

from aiops.eval import extraction, parsing
from aiops.eval.metrics import evaluate, grouping_accuracy, normalize_template, parsing_accuracy

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "loghub-2k"


def test_normalize_template():
    assert normalize_template("a <NUM>  <*><*> b <IP>:<*> ") == "a <*> <*> b <*>:<*>"
    assert normalize_template("x <*> <*> y") == "x <*> <*> y"


def test_grouping_accuracy_hand_example():
    truth = ["A", "A", "B", "B", "C"]
    pred = ["1", "1", "2", "3", "3"]  # A right; B split; C merged into B's piece
    assert grouping_accuracy(truth, pred) == 0.4


def test_parsing_accuracy_hand_example():
    truth = ["took <*> ms", "took <*> ms", "Link ok", "a <*> b"]
    pred = ["took <NUM> ms", "took <*><*> ms", "Link <*>", "a  <*> b"]
    assert parsing_accuracy(truth, pred) == 0.75


def test_evaluate_f1_hand_example():
    truth = ["x <*>", "x <*>", "y", "z <*>", "z <*>", "w"]
    pred = ["x <*>", "x <*>", "y <*>", "z 1", "z <*>", "w"]
    s = evaluate(truth, pred)
    # predicted groups: {0,1} ok+template ok, {2} ok+template wrong, {3} wrong, {4} wrong, {5} ok+ok
    assert (s.ga, s.truth_groups, s.predicted_groups) == (4 / 6, 4, 5)
    assert s.pa == 4 / 6
    assert s.fga == pytest.approx(2 * (3 / 5) * (3 / 4) / (3 / 5 + 3 / 4))  # 0.6667
    assert round(s.fga, 4) == 0.6667
    assert round(s.fta, 4) == 0.4444
    assert evaluate([], []).ga == 0.0
    with pytest.raises(ValueError):
        evaluate(["a"], [])


def test_evaluate_with_group_ids():
    s = evaluate(["a <*>", "a <*>"], ["a <*>", "a <*>"], predicted_groups=["g1", "g2"])
    assert (s.ga, s.pa, s.fga) == (0.0, 1.0, 0.0)


def _write_system(root: Path, name: str, rows: list[tuple[str, str]]):
    d = root / name
    d.mkdir()
    lines = ["LineId,Content,EventId,EventTemplate"]
    lines += [f'{i},"{c}",E,"{t}"' for i, (c, t) in enumerate(rows, 1)]
    (d / f"{name}_2k.log_structured_corrected.csv").write_text("\n".join(lines) + "\n")


def test_main_on_tiny_dataset(tmp_path, capsys):
    rows = [(f"Invalid user u{i} from 10.0.0.{i}", "Invalid user <*> from <*>") for i in range(6)]
    rows += [("Link ok", "Link ok"), ("Link error", "Link error")] * 3
    _write_system(tmp_path, "Tiny", rows)
    (tmp_path / "notasystem").mkdir()
    assert parsing.main(["--data", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["system"] for r in out] == ["Tiny", "average"]
    assert (out[0]["GA"], out[0]["PA"], out[0]["FGA"], out[0]["FTA"], out[0]["lines"]) == (1.0, 1.0, 1.0, 1.0, 12)
    assert parsing.main(["--data", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert "Tiny" in table and "average" in table and "lines/s" in table


def test_main_on_empty_dir(tmp_path, capsys):
    assert parsing.main(["--data", str(tmp_path)]) == 2
    assert "no <System>" in capsys.readouterr().err


@pytest.mark.skipif(not DATA.is_dir(), reason="loghub-2k data not present")
def test_accuracy_on_loghub_2k():
    rows = parsing.run(DATA)
    avg = rows[-1]
    assert len(rows) == 11
    assert avg["GA"] >= 0.959 - 0.01
    assert avg["PA"] >= 0.831 - 0.01


# ---------------------------------------------------------------- --extraction


README_TABLE = """# data
| file | content |
| --- | --- |
| `a.log` | not a format table |

| system | format |
| --- | --- |
| Tiny | `<Date> <Time> \\[<Level>\\] <Content>` |
| Spaced | `<Date>  <Level>    <Content>` |
| Other | `<Content>` |
"""


def test_formats_from_markdown_keeps_spec_verbatim():
    got = extraction.formats_from_markdown(README_TABLE)
    assert got == {"Tiny": r"<Date> <Time> \[<Level>\] <Content>", "Spaced": "<Date>  <Level>    <Content>",
                   "Other": "<Content>"}
    assert extraction.formats_from_markdown("| system | format |\n|---|---|\n| X | `a \\| b` |\n") == {"X": "a \\| b"}
    assert extraction.formats_from_markdown("no table here") == {}


def test_match_share_literal():
    expected = ["Link up", "Link down"]
    assert extraction.match_share(expected, {1: "Link up", 2: "Link down"}) == (2, 1.0)
    assert extraction.match_share(expected, {1: "Link up", 2: "INFO Link down"}) == (1, 0.5)
    assert extraction.match_share(expected, {2: "Link up"}) == (0, 0.0)  # line 1 started no event
    assert extraction.match_share([], {}) == (0, 0.0)


def _write_raw_system(root: Path, name: str, raw: list[str], contents: list[str]):
    d = root / name
    d.mkdir(parents=True)
    (d / f"{name}_2k.log").write_text("\n".join(raw) + "\n")
    rows = ["LineId,Content,EventId,EventTemplate"] + [f'{i},"{c}",E1,"{c}"' for i, c in enumerate(contents, 1)]
    (d / f"{name}_2k.log_structured_corrected.csv").write_text("\n".join(rows) + "\n")


def test_extraction_mode_on_tiny_dataset(tmp_path, monkeypatch, capsys):
    data = tmp_path / "bench"
    (tmp_path / "README.md").write_text(README_TABLE)
    raw = ["2024-01-01 10:00:00 [INFO] Link up", "2024-01-01 10:00:01 [WARN] Link down"]
    _write_raw_system(data, "Tiny", raw, ["Link up", "Link down"])
    _write_raw_system(data, "Spaced", raw, ["Link up", "Link down"])
    (data / "Spaced" / "format.txt").write_text("\n<Date> <Time> \\[<Level>\\] <Content>\n")
    _write_raw_system(data, "Nospec", raw, ["Link up", "Link down"])
    seen = []

    def fake_extract(log, fmt, workdir):  # spec: both right; auto: header kept on line 2
        seen.append((log.parent.name, fmt))
        return {1: "Link up", 2: "Link down" if fmt != "auto" else "[WARN] Link down"}

    monkeypatch.setattr(extraction, "extract_messages", fake_extract)
    assert parsing.main(["--data", str(data), "--extraction", "--json"]) == 0
    out = {r["system"]: r for r in json.loads(capsys.readouterr().out)}
    assert list(out) == ["Nospec", "Spaced", "Tiny", "average"]
    assert (out["Tiny"]["spec_share"], out["Tiny"]["auto_share"], out["Tiny"]["lines"]) == (1.0, 0.5, 2)
    assert (out["Nospec"]["spec_share"], out["Nospec"]["auto_share"]) == (None, 0.5)
    assert (out["average"]["spec_share"], out["average"]["auto_share"]) == (1.0, 0.5)
    assert ("Spaced", r"<Date> <Time> \[<Level>\] <Content>") in seen  # format.txt beats the README
    assert ("Tiny", r"<Date> <Time> \[<Level>\] <Content>") in seen

    formats = tmp_path / "formats.json"
    formats.write_text(json.dumps({"Nospec": "<Date> <Time> <Level> <Content>"}))
    seen.clear()
    assert parsing.main(["--data", str(data), "--extraction", "--formats", str(formats), "--system", "Nospec"]) == 0
    table = capsys.readouterr().out
    assert seen == [("Nospec", "<Date> <Time> <Level> <Content>"), ("Nospec", "auto")]
    assert "spec %" in table and "auto %" in table and "100.00" in table and "50.00" in table


def test_extraction_mode_errors(tmp_path, capsys):
    assert parsing.main(["--data", str(tmp_path), "--extraction"]) == 2
    assert "no <System>" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parsing.main(["--data", str(tmp_path), "--formats", "x.json"])


@pytest.mark.skipif(not (DATA / "Apache").is_dir(), reason="loghub-2k data not present")
def test_extraction_on_one_real_system():
    """One system through the real batch job (two subprocess runs, a few seconds)."""
    rows = extraction.run(DATA, ["Apache"])
    assert [r["system"] for r in rows] == ["Apache", "average"]
    assert rows[0]["lines"] == 2000
    assert rows[0]["spec"] == r"\[<Time>\] \[<Level>\] <Content>"
    assert rows[0]["spec_share"] >= 0.995
    assert 0.0 <= rows[0]["auto_share"] <= 1.0
