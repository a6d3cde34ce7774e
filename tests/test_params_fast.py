"""The scan of ``extract_array`` (vectorised and per-row) returns exactly what the regex returns."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pyarrow as pa
import pytest

from aiops.templating import params
from aiops.templating.params import _extract_regex, _plan, extract_array

LOGHUB = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "loghub-2k"


@pytest.fixture(params=["vectorised", "per-row"])
def always_fast(request, monkeypatch):
    """Run the scan vectorised (pyarrow/numpy) or row by row (Python) whatever the array size."""
    monkeypatch.setattr(params, "_MIN_VECTOR", 0 if request.param == "vectorised" else 1 << 60)


def same(template: str, messages: list[str | None] | pa.Array) -> list:
    arr = messages if isinstance(messages, pa.Array | pa.ChunkedArray) else pa.array(messages, pa.string())
    got = extract_array(template, arr)
    want = _extract_regex(template, arr)
    assert got.type == want.type == pa.list_(pa.string())
    assert got.null_count == 0
    assert got.to_pylist() == want.to_pylist(), template
    return got.to_pylist()


CASES = [
    # whole-token wildcards, leading / trailing / inner whitespace of any kind but \v
    ("took <*> ms", ["took 5 ms", "  took\t5\n ms \r\n", "took 5ms", "took  ms", "took 5 6 ms", "", "   ", None,
                     "  \t took \n\n  \t 5 \f\r ms \n \n "],
     [["5"], ["5"], ["5"], [""], ["5 6"], [], [], [], ["5"]]),
    # prefix / suffix wildcards; the suffix also inside the token; prefix and suffix overlapping
    ("block blk_<*> in <*>ms", ["block blk_123 in 45ms", "block blk_ in msms", "block blk_1 in 4msms",
                                "block blk_1 in ms", "block blk1 in 4ms", "block blk_a b in 4 ms"],
     [["123", "45"], ["", "ms"], ["1", "4ms"], ["1", ""], [], ["a b", "4 "]]),
    ("<*>ab x", ["abab x", "ab x", "xaab x", "b x"], [["ab"], [""], ["xa"], []]),
    ("a<*>a", ["a", "aa", "aXa", "aaa"], [[], [""], ["X"], ["a"]]),
    # lazy groups: a following literal inside the parameter, adjacent wildcards
    ("user <*> from <*>", ["user from from x", "user bob from x", "user a from b from c"],
     [["", "from x"], ["bob", "x"], ["a", "b from c"]]),
    ("<*> <*>", ["a b", "ab", "a  b c"], [["", "a b"], ["", "ab"], ["", "a  b c"]]),
    ("<*> y <*>", ["a b y", "a y b"], [["a b", ""], ["a", "b"]]),
    # \v is whitespace for Arrow's split but not for RE2's \s; unicode spaces are not \s in RE2
    ("a <*> b", ["a 1\v2 b", "a\v1 b", "a 1\u00a02 b", "a é b", "a\u00a0é b"],
     [["1\v2"], ["\v1"], ["1\u00a02"], ["é"], ["\u00a0é"]]),
    ("x=<*>", ["x=1", "x=", " x=ü\n", "x=1 2", "x=\n1"], [["1"], [""], ["ü"], ["1 2"], ["\n1"]]),
    ("<*>", ["a", " a ", "a b", "", None], [["a"], ["a"], ["a b"], [""], []]),
    # a wildcard right after another one is empty; a lazy group stops at the first anchor
    ("GET <*> HTTP/<*> <*> client=<*>",
     ["GET /a HTTP/1.1 200 client=1.2.3.4", "GET /a b HTTP/1.1  200 client=x client=y", "GET /a HTTP/1.1 200",
      "GET /HTTP/x HTTP/1.0 404 client= "],
     [["/a", "", "1.1 200", "1.2.3.4"], ["/a b", "", "1.1  200", "x client=y"], [],
      ["/", "", "x HTTP/1.0 404", ""]]),
    # the first anchor does not always lead to a match: a later one may (regex path)
    ("<*>ms took", ["5ms took", "5ms2ms took", "5 ms took", "ms took", "5ms  took  "],
     [["5"], ["5ms2"], ["5 "], [""], ["5"]]),
    ("Job <*> (<*>) failed after <*> Traceback: <*>",
     ["Job 1 (x) failed after 5s\nTraceback:\n  File a\n", "Job 1 (x (y)) failed after 5s Traceback: z"],
     [["1", "x", "5s", "File a"], ["1", "x (y)", "5s", "z"]]),
    ("<*>:<*>", ["a:b:c", ":", "a", "a: b ", " :\n"], [["a", "b:c"], ["", ""], [], ["a", " b"], ["", ""]]),
]


@pytest.mark.parametrize(("template", "messages", "expected"), CASES)
def test_tricky_cases(always_fast, template, messages, expected):
    assert same(template, messages) == expected
    assert extract_array(template, pa.array(messages * 20, pa.string())).to_pylist() == expected * 20


def test_no_wildcard_and_empty_inputs(always_fast):
    assert extract_array("no params here", pa.array(["no params here", None])).to_pylist() == [[], []]
    assert extract_array("a <*>", pa.array([], pa.string())).to_pylist() == []
    assert extract_array("a <*>", pa.chunked_array([], pa.string())).to_pylist() == []
    assert extract_array("a <*>", pa.array([None, None], pa.string())).to_pylist() == [[], []]


def test_input_kinds(always_fast):
    msgs = ["t 1 u", None, "t 2 u", "x", "t a b u"] * 10
    expected = [["1"], [], ["2"], [], ["a b"]] * 10
    assert extract_array("t <*> u", pa.array(msgs, pa.large_string())).to_pylist() == expected
    assert extract_array("t <*> u", pa.chunked_array([msgs[:7], [], msgs[7:]])).to_pylist() == expected
    assert extract_array("t <*> u", pa.array(["z"] * 3 + msgs).slice(3)).to_pylist() == expected


def test_plan():
    assert _plan("GET <*> HTTP/<*> <*> client=<*>") == (
        ("ws", ""), ("lit", "GET"), ("ws", ""), ("upto_ws", "HTTP/"), ("empty", ""), ("ws", ""),
        ("upto_ws", "client="), ("tail", ""))
    assert _plan(" a<*>ms\tx ") == (
        ("ws", ""), ("lit", "a"), ("upto", "ms"), ("ws", ""), ("lit", "x"), ("ws", ""), ("end", ""))
    assert _plan("<*><*>") == (("ws", ""), ("empty", ""), ("tail", ""))


def _loghub_groups():
    for f in sorted(LOGHUB.glob("*/*_structured*.csv")):
        with open(f, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        groups: dict[str, list[str]] = {}
        for r in rows:
            groups.setdefault(r["EventTemplate"], []).append(r["Content"])
        yield f.parent.name, groups, [r["Content"] for r in rows]


@pytest.mark.skipif(not LOGHUB.is_dir(), reason="Loghub-2k data not available")
def test_loghub_differential(always_fast):
    rng = random.Random(7)
    fast = total = 0
    for _, groups, contents in _loghub_groups():
        for template, msgs in groups.items():
            # the template's own messages plus others of the system (most must not fit)
            sample = msgs + rng.sample(contents, 100)
            same(template, sample)
            fast += len(params._scan(_plan(template), pa.array(msgs))[0])
            total += len(msgs)
    assert total > 10_000 and fast > total // 2


WORDS = ["a", "b", "ab", "ba", "x=", "=", ":", "é", "from", "ms", "<*>"]
WILDS = ["<*>", "<*>", "<*>", "a<*>", "<*>b", "a<*>b", "x=<*>", "<*>ms", "ab<*>ab", "<*>:<*>", "<*><*>"]
SPACES = [" ", " ", " ", "  ", "\t", "\n", "\r\n", "\v", "\f", "\u00a0", ""]
VALUES = ["", "1", "a", "b", "ab", "ms", "from", "x=", "é", "1 2", "a b", " ", "\n", "<*>", "\u00a0", ":"]


def _random_template(rng: random.Random) -> str:
    toks = [rng.choice(WILDS) if rng.random() < 0.4 else rng.choice(WORDS) for _ in range(rng.randint(1, 5))]
    return rng.choice(["", " "]) + " ".join(toks) + rng.choice(["", " ", "\t"])


def _random_message(rng: random.Random, template: str) -> str | None:
    r = rng.random()
    if r < 0.03:
        return None
    if r < 0.15:
        return rng.choice(SPACES).join(rng.choice(WORDS + VALUES) for _ in range(rng.randint(0, 6)))
    out = []
    for tok in template.split():
        while "<*>" in tok:
            tok = tok.replace("<*>", rng.choice(VALUES) if rng.random() < 0.3 else rng.choice(["1", "42", "abc", "é"]), 1)
        if rng.random() < 0.05:
            tok = rng.choice(WORDS)
        out.append(tok)
    sep = [rng.choice(SPACES[:-1]) if rng.random() < 0.3 else " " for _ in out]
    body = "".join(t + s for t, s in zip(out, sep, strict=True)).rstrip(" ")
    return rng.choice(["", "", " ", "\n", "\v"]) + body + rng.choice(["", "", " ", "\n"])


def test_random_differential(always_fast):
    rng = random.Random(20240601)
    for _ in range(1500):
        template = _random_template(rng)
        same(template, [_random_message(rng, template) for _ in range(rng.randint(1, 60))])
