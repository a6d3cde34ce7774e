"""Learnt formats: source keys, the inducer, the propose/validate loop, the library, the parser and CLI."""

import json
import random

import apache_beam as beam
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from aiops.formats import cli as formats_cli
from aiops.formats.induce import induce
from aiops.formats.learn import (
    HeuristicProposer,
    LLMProposer,
    Proposal,
    learn_formats,
    propose_and_validate,
    split_sample,
)
from aiops.formats.library import (
    FormatEntry,
    FormatLibrary,
    FormatLibraryError,
    library_path_next_to,
    source_key,
)
from aiops.formats.pattern import LearnedFormat, check_lines, compile_format
from aiops.llm.types import LLMResponse
from aiops.parsing.reader import LogParser, ParseConfig
from aiops.schema import FileStats
from aiops.sources import expand_inputs
from transforms.parse import ParseLogs, StageConfig

T0 = 1_795_305_600_000_000  # 2026-11-22T00:00:00Z in µs
S = 1_000_000
T10 = T0 + 10 * 3600 * S  # 10:00:00 that day

FORMATS = {  # novel formats; "pipes" is half-recognised by auto (time only), the others fall back
    "pipes": "2026-11-22 {t}.{ms:03d} | {lvl} | {comp} | {msg}",
    "pid_dmy": "[pid {pid}] 22/11/2026 {t} {lvl}: {msg}",
    "bare_pipes": "|2026-11-22T{t}Z|{lvl}|{thr}|{msg}",
    "level_first": "{lvl} 2026-11-22T{t}Z {comp} - {msg}",
    "dotted_dmy": "22.11.2026 {t}.{ms:03d} [{lvl:<5}] ({comp}) {msg}",
    "month_year": "Nov 22 2026 {t}.{ms:03d} {host} billing[{pid}] <{lvl_lower}> {msg}",
    "paren_pid": "({pid}) 2026-11-22 {t} [{thr}] {lvl:<5} {comp} - {msg}",
    "compact": "20261122T{t_compact} {lvl_lower} {thr}: {msg}",
}
MESSAGES = ["invoice {n} overdue", "user {n} logged in from 10.0.0.{n}", "payment {n} failed: timeout after {n} ms",
            "cache miss for key k{n}", "retrying job {n} (attempt 2)", "connection reset by peer"]
LEVELS = ["INFO", "INFO", "INFO", "WARN", "ERROR", "DEBUG"]


def generate(fmt: str, n: int = 120, seed: int = 7) -> list[str]:
    rnd = random.Random(seed)
    lines = []
    for i in range(n):
        s = 1 + i * 7
        h, m, sec = 10 + s // 3600, (s // 60) % 60, s % 60
        lvl = rnd.choice(LEVELS)
        lines.append(fmt.format(
            t=f"{h:02d}:{m:02d}:{sec:02d}", t_compact=f"{h:02d}{m:02d}{sec:02d}", ms=rnd.randint(0, 999),
            lvl=lvl, lvl_lower=lvl.lower(), pid=rnd.randint(100, 9999), host=rnd.choice(["host-1", "host-2"]),
            comp=rnd.choice(["billing.Invoice", "billing.Payment", "core.Db"]),
            thr=rnd.choice(["worker-1", "worker-2", "main"]), msg=rnd.choice(MESSAGES).format(n=rnd.randint(1, 500))))
    return lines


class FixedProposer:
    def __init__(self, kind, pattern, name="fixed"):
        self.proposal, self.name, self.fallback, self.calls = Proposal(kind, pattern), name, None, 0

    def propose(self, lines, source, *, ref_us=None):
        self.calls += 1
        return self.proposal


class FakeBackend:
    name, model = "fake", "fake-model"

    def __init__(self, text, status="ok"):
        self.text, self.status, self.requests = text, status, []

    def complete(self, request):
        self.requests.append(request)
        return LLMResponse(text=self.text if self.status == "ok" else None, status=self.status)


# --- source keys -----------------------------------------------------------------------------


@pytest.mark.parametrize("uri, key", [
    ("/logs/billing/billing-20261122T0000.log.gz", "billing/billing-*.log"),
    ("gs://bucket/logs/billing/billing-2026-11-23.log", "billing/billing-*.log"),
    ("/x/billing/billing-7.log.1", "billing/billing-*.log"),
    ("/var/log/app/app.log.2.gz", "app/app.log"),
    ("/var/log/app/app.log-20261122", "app/app.log"),
    ("/logs/web/worker3.log", "web/worker*.log"),
    ("/logs/web/log4j.log", "web/log4j.log"),
    ("/logs/2026-11-22/billing.log", "*/billing.log"),
    ("billing/billing-*.log", "billing/billing-*.log"),  # a key is its own key
])
def test_source_key(uri, key):
    assert source_key(uri) == key


# --- the inducer and the propose/validate loop -------------------------------------------------


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_novel_format_is_learnt(name):
    lines = generate(FORMATS[name])
    entry = propose_and_validate(lines, f"/logs/billing/{name}-20261122.log", HeuristicProposer(), ref_us=T0)
    assert entry is not None, name
    assert entry.validated_share == 1.0 and entry.sample_size == 120 and entry.proposer == "heuristic"
    assert entry.source_key == f"billing/{name}-*.log"
    f = compile_format(entry.kind, entry.pattern)(lines[0], T0)
    assert f is not None and f.time == T10 + 1 * S + (f.time % S)  # 10:00:01 (+ the line's millis)
    assert f.level in ("INFO", "WARN", "ERROR", "DEBUG") and f.message.split()[0] in {m.split()[0] for m in MESSAGES}


def test_inducer_specs_and_fields():
    assert induce(generate(FORMATS["pipes"]), T0) == ("spec", r"<Date> <Time> \| <Level> \| <Component> \| <Content>")
    assert induce(generate(FORMATS["paren_pid"]), T0) == (
        "spec", r"\(<Pid>\) <Date> <Time> \[<F2>\] <Level> <Component> - <Content>")
    kind, pattern = induce(generate(FORMATS["pid_dmy"]), T0)
    assert kind == "regex" and "(?P<day>" in pattern  # 22/11/2026 is not a parse_any shape: date parts
    f = LearnedFormat(kind, pattern).parse("[pid 42] 22/11/2026 10:00:01 ERROR: disk full on /dev/sda1", T0)
    assert (f.time, f.level, f.component, f.message) == (T10 + S, "ERROR", None, "disk full on /dev/sda1")
    kind, pattern = induce(generate(FORMATS["month_year"]), T0)
    f = LearnedFormat(kind, pattern).parse("Nov 22 2026 10:00:01.250 host-2 billing[42] <warn> cache miss", T0)
    assert (f.time, f.level, f.host, f.component, f.message) == (T10 + S + 250_000, "WARN", "host-2", "billing",
                                                                  "cache miss")


def test_random_text_is_not_learnt():
    rnd = random.Random(3)
    words = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "lorem", "ipsum", "42", "x7"]
    lines = [" ".join(rnd.choice(words) for _ in range(rnd.randint(3, 12))) for _ in range(150)]
    assert induce(lines, T0) is None
    assert propose_and_validate(lines, "/logs/x/noise.log", HeuristicProposer(), ref_us=T0) is None


def test_too_few_lines_are_not_learnt():
    assert propose_and_validate(generate(FORMATS["pipes"], n=9), "/l/a/b.log", HeuristicProposer(), ref_us=T0) is None


def test_split_is_deterministic_and_ordered():
    lines = [str(i) for i in range(20)]
    sample, held = split_sample(lines)
    assert held == ["2", "5", "8", "12", "15", "18"] and len(sample) == 14 and sample == sorted(sample, key=int)


def test_a_proposal_parsing_90_percent_is_rejected():
    lines = generate(FORMATS["pipes"], n=200)
    _, held = split_sample(lines)
    broken = set(held[::10])  # 10% of the held-back lines lose their timestamp
    lines = [line.replace("2026-11-22 ", "") if line in broken else line for line in lines]
    spec = r"<Date> <Time> \| <Level> \| <Component> \| <Content>"
    assert check_lines(LearnedFormat("spec", spec), split_sample(lines)[1], T0).share == 0.9
    assert propose_and_validate(lines, "/l/a/b.log", FixedProposer("spec", spec), ref_us=T0) is None
    ok = propose_and_validate(generate(FORMATS["pipes"], n=200), "/l/a/b.log", FixedProposer("spec", spec), ref_us=T0)
    assert ok is not None and ok.validated_share == 1.0 and ok.proposer == "fixed"


def test_times_far_apart_or_going_backwards_are_not_sensible():
    spec = "<Date> <Time> <Level> <Content>"
    fmt = LearnedFormat("spec", spec)
    good = [f"2026-11-22 10:{s:02d}:00 INFO m" for s in range(20)]
    assert check_lines(fmt, good, T0).accepted
    far = good[:19] + ["2031-01-01 10:00:00 INFO m"]  # one line 4 years off: 95% still passes
    assert check_lines(fmt, far, T0).share == 0.95
    assert not check_lines(fmt, list(reversed(good)), T0).accepted
    assert not check_lines(fmt, [f"2026-11-22 10:00:{s:02d} BOGUS m" for s in range(20)], T0).accepted


# --- the LLM proposer --------------------------------------------------------------------------

GOOD_REGEX = (r"\[pid (?P<pid>\d+)\] (?P<day>\d\d)/(?P<month>\d\d)/(?P<year>\d{4}) (?P<time>\S+) "
              r"(?P<level>[A-Z]+): (?P<message>.*)")


def test_llm_proposer_good_regex():
    backend = FakeBackend("```json\n" + json.dumps({"kind": "regex", "pattern": GOOD_REGEX}) + "\n```")
    lines = generate(FORMATS["pid_dmy"])
    entry = propose_and_validate(lines, "/logs/billing/app.log", LLMProposer(backend), ref_us=T0)
    assert entry is not None and (entry.kind, entry.pattern, entry.proposer) == ("regex", GOOD_REGEX, "llm:fake-model")
    request = backend.requests[0]
    assert request.json_schema["required"] == ["kind", "pattern"]
    assert "BEGIN LOG LINES" in request.prompt and lines[0] in request.prompt and lines[2] not in request.prompt


@pytest.mark.parametrize("answer, status", [
    (json.dumps({"kind": "spec", "pattern": "<Level> <Content>"}), "ok"),  # parses nothing sensibly
    (json.dumps({"kind": "regex", "pattern": "(?P<ts>(a+)+"}), "ok"),  # does not compile
    (json.dumps({"kind": "regex", "pattern": r"(?P<ts>(\d+)+) (?P<message>.*)"}), "ok"),  # nested quantifier
    ("Sure! The format is <Date> <Time>.", "ok"),  # not JSON
    ('{"kind": "yaml", "pattern": "x"}', "ok"),  # not a kind
    (None, "error:timeout"),
])
def test_llm_proposer_falls_back_to_the_heuristic(answer, status):
    proposer = LLMProposer(FakeBackend(answer, status))
    entry = propose_and_validate(generate(FORMATS["pipes"]), "/logs/billing/app.log", proposer, ref_us=T0)
    assert entry is not None and entry.proposer == "heuristic" and entry.kind == "spec"


# --- the library -------------------------------------------------------------------------------


def _entry(key="billing/billing-*.log", pattern=r"<Date> <Time> \| <Level> \| <Component> \| <Content>"):
    return FormatEntry.new(key, "spec", pattern, 0.99, 120, "heuristic", ["a", "b"], created="2026-11-22T10:00:00+00:00")


def test_library_round_trip_match_and_remove(tmp_path):
    path = str(tmp_path / "_store" / "formats.json")
    assert library_path_next_to(str(tmp_path / "_store" / "templates.json.gz")) == path
    lib = FormatLibrary(path)
    a, b = lib.add(_entry()), lib.add(_entry("web/access.log", "<Timestamp> <Content>"))
    lib.save()
    loaded = FormatLibrary(path).load()
    assert loaded.entries == [a, b] and a.examples == ("a", "b") and len(a.id) == 16
    assert loaded.match("/data/billing/billing-20261123.log.gz") == a
    assert loaded.match("/data/billing/other.log") is None
    assert loaded.get(a.id[:6]) == a
    assert loaded.remove(a.id) == a and loaded.remove(a.id) is None
    loaded.save()
    assert FormatLibrary(path).load().entries == [b]
    assert FormatLibrary(str(tmp_path / "none.json")).load().entries == []
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(FormatLibraryError):
        FormatLibrary(str(tmp_path / "bad.json")).load()


def test_learn_formats_pools_sources_and_skips_known_ones(tmp_path):
    lib = FormatLibrary(str(tmp_path / "formats.json"))
    lib.add(_entry("web/access.log", "<Timestamp> <Content>"))
    lines = generate(FORMATS["bare_pipes"], n=60)
    proposer = FixedProposer("spec", r"\|<Timestamp>\|<Level>\|<Thread>\|<Content>")
    samples = [("/d/billing/b-20261122.log", lines[:30]), ("/d/billing/b-20261123.log", lines[30:]),
               ("/d/web/access.log", lines)]
    learnt = learn_formats(samples, lib, proposer, ref_us=T0)
    assert [(e.source_key, e.sample_size) for e in learnt] == [("billing/b-*.log", 60)]
    assert proposer.calls == 1 and len(lib) == 2
    assert learn_formats(samples, lib, proposer, ref_us=T0) == [] and proposer.calls == 1  # never asked again


# --- the parser --------------------------------------------------------------------------------


def _parse(lines, config):
    p = LogParser("billing/app.log", config)
    out = [item for n, line in enumerate(lines, 1) for item in p.feed(line.encode(), n)] + p.finish()
    return p, out


def test_parser_uses_the_learnt_format_first_and_auto_for_the_rest():
    learned = compile_format("spec", r"<Date> <Time> \| <Level> \| <Component> \| <Content>")
    lines = ["2026-11-22 10:00:01.250 | WARN | billing.Invoice | invoice 7 overdue",
             "java.lang.IllegalStateException: closed", "\tat com.acme.Db.q(Db.java:7)",
             '{"ts": "2026-11-22T10:00:02Z", "level": "error", "msg": "json line"}',
             "", "free text nobody knows"]
    p, out = _parse(lines, ParseConfig(default_service="billing", reference_time_us=T0, learned=learned))
    assert [(e.line_no, e.line_count, e.event_time, e.time_source, e.level, e.component, e.message) for e in out] == [
        (1, 3, T10 + S + 250_000, "record", "WARN", "billing.Invoice",
         "invoice 7 overdue\njava.lang.IllegalStateException: closed\n\tat com.acme.Db.q(Db.java:7)"),
        (4, 1, T10 + 2 * S, "record", "ERROR", None, "json line"),
        (6, 1, T10 + 2 * S, "inherited", "INFO", None, "free text nobody knows"),
    ]
    assert sum(e.line_count for e in out) + p.blank_lines == len(lines) and p.fallback_lines == 1
    # Without the entry, auto takes the pipes line as a timestamp plus the rest as the message.
    _, auto = _parse(lines[:1], ParseConfig(reference_time_us=T0))
    assert (auto[0].component, auto[0].message) == (None, "| WARN | billing.Invoice | invoice 7 overdue")
    # A learnt format never overrides a declared one.
    _, raw = _parse(lines[:1], ParseConfig(format="raw", reference_time_us=T0, learned=learned))
    assert raw[0].message == lines[0]


def test_parser_counts_and_samples_fallback_lines():
    lines = generate(FORMATS["pid_dmy"], n=5) + ["2026-11-22T10:00:00Z INFO known"]
    p, out = _parse(lines, ParseConfig(reference_time_us=T0, sample_fallbacks=3))
    assert p.fallback_lines == 5 and p.fallback_sample == lines[:3] and len(out) == 6


# --- the Beam stage ----------------------------------------------------------------------------

KNOWN = b"2026-11-22T00:00:01Z INFO user 42 logged in\n2026-11-22T00:00:02Z ERROR payment 9 failed\n"


def _files(tmp_path):
    unknown = "\n".join(generate(FORMATS["pid_dmy"], n=30)) + "\n\n"
    for name, body in (("billing/billing-20261122.log", unknown.encode()), ("web/a.log", KNOWN)):
        (tmp_path / "in" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / name).write_bytes(body)
    return expand_inputs([str(tmp_path / "in" / "*" / "*.log")])


def test_parse_logs_emits_format_samples_only_for_unknown_formats(tmp_path):
    files = _files(tmp_path)
    billing = next(f.path for f in files if "billing" in f.path)
    with BeamTestPipeline(runner=FnApiRunner()) as p:
        parsed = p | beam.Create(files) | ParseLogs(StageConfig(staging=str(tmp_path / "stg"), run_id="r1"))
        assert_that(parsed.format_samples | beam.Map(lambda kv: (kv[0], len(kv[1]), kv[1][0])),
                    equal_to([(billing, 30, generate(FORMATS["pid_dmy"], n=1)[0])]), label="Samples")


def test_parse_logs_uses_the_library(tmp_path):
    files = _files(tmp_path)
    lib = FormatLibrary(str(tmp_path / "formats.json"))
    lib.add(propose_and_validate(generate(FORMATS["pid_dmy"]), "/x/billing/billing-1.log", HeuristicProposer(),
                                 ref_us=T0))
    lib.save()
    billing = next(f for f in files if "billing" in f.path)
    cfg = StageConfig(staging=str(tmp_path / "stg"), run_id="r1", formats_path=lib.path)
    with BeamTestPipeline(runner=FnApiRunner()) as p:
        parsed = p | beam.Create(files) | ParseLogs(cfg)
        assert_that(parsed.format_samples, equal_to([]), label="NoSamples")
        assert_that(parsed.stats | beam.Filter(lambda s: "billing" in s.source),
                    equal_to([FileStats(billing.path, billing.size, 31, 30, 30, 0, 1)]), label="Stats")
        masked = parsed.observations | beam.Filter(lambda kv: kv[0] == "billing") | beam.FlatMap(lambda kv: kv[1])
        assert_that(masked | "Headers" >> beam.Filter(lambda mo: "pid" in mo[0] or "2026" in mo[0]), equal_to([]),
                    label="HeadersStripped")
        assert_that(masked | "Invoices" >> beam.Filter(lambda mo: mo[0] == "invoice <*> overdue")
                    | beam.Map(lambda mo: mo[1][3].split()[0]), equal_to(["invoice"]), label="Messages")


# --- the CLI -----------------------------------------------------------------------------------


def test_cli_list_show_remove_and_errors(tmp_path, capsys):
    store = tmp_path / "out" / "_store"
    store.mkdir(parents=True)
    lib = FormatLibrary(str(store / "formats.json"))
    entry = lib.add(_entry())
    lib.save()
    assert formats_cli.main(["list", "--output", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert entry.id in out and "billing/billing-*.log" in out and "(1 format)" in out
    assert formats_cli.main(["show", entry.id[:8], "--store", lib.path]) == 0
    assert "validated_share: 0.99" in capsys.readouterr().out
    assert formats_cli.main(["remove", "nope", "--library", lib.path]) == 2
    assert capsys.readouterr().err.strip() == f"aiops formats: no format with id 'nope' (or the prefix is ambiguous) in {lib.path}"
    assert formats_cli.main(["remove", entry.id, "--library", lib.path]) == 0
    assert FormatLibrary(lib.path).load().entries == []
    assert formats_cli.main(["list", "--store", str(tmp_path / "missing.json")]) == 2
    assert capsys.readouterr().err.strip().endswith("no format library at " + str(tmp_path / "missing.json"))
