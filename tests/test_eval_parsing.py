import json
from pathlib import Path

import pytest

from aiops.eval import parsing
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
