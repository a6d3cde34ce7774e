"""End to end: `aiops batch --llm openai` against a local OpenAI-compatible server started by the test.

The server answers from the evidence in the prompt, like a model would: valid JSON for most
windows, an invalid answer first for one service (the job retries once), HTTP 500 for another
(the job falls back to the offline summary and says why). A re-run pays nothing: the answers
come from the cache. Secrets in the logs never reach the server.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from aiops import query
from aiops.cli import main
from aiops.sample.generator import generate

LOCAL = ["--direct_running_mode", "in_memory", "--no-validate"]


class FakeModel(BaseHTTPRequestHandler):
    seen: list[dict] = []
    attempts: dict[str, int] = {}

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_POST(self):  # noqa: N802 - the http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeModel.seen.append(body)
        user = body["messages"][1]["content"]
        pack = json.loads(user.split("<<<EVIDENCE\n", 1)[1].split("\nEVIDENCE>>>", 1)[0])
        key = pack["service"] + pack["window_start"]
        FakeModel.attempts[key] = FakeModel.attempts.get(key, 0) + 1
        if pack["service"] == "worker":
            return self._send(500, {"error": {"message": "overloaded"}})
        ids = [f["template_id"] for f in pack["findings"] if f.get("template_id")]
        lines = [ln["line"] for ln in pack["lines"]]
        cite = {"template_id": ids[0] if ids else None, "line": None if ids or not lines else lines[0]}
        answer = {"title": f"{pack['service']} incident", "summary": "Something happened.",
                  "suspected_cause": "unknown", "evidence": [{**cite, "why": "strongest finding"}],
                  "recommended_action": "look", "confidence": "low"}
        if pack["service"] == "web" and FakeModel.attempts[key] == 1:
            answer.pop("title")  # invalid: the job must retry once
        content = json.dumps(answer)
        self._send(200, {"choices": [{"message": {"role": "assistant", "content": content}}],
                         "usage": {"prompt_tokens": len(user) // 4, "completion_tokens": len(content) // 4}})

    def _send(self, code: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeModel)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def run(server, tmp_path_factory):
    root = tmp_path_factory.mktemp("llm")
    generate(root / "logs", seed=9, lines=40_000, start=dt.datetime(2026, 11, 22, tzinfo=dt.UTC))
    # a secret in a line that will be evidence: the worker's silence is not, the web errors are
    (root / "logs" / "web" / "extra.log").write_text(
        '10.0.0.9 - - [22/Nov/2026:14:12:00 +0000] "GET /api/login?password=hunter2secret HTTP/1.1" 500 12 "-" "curl" 0.5\n')
    args = ["batch", "--input", str(root / "logs" / "*" / "*.log*"), "--output", str(root / "out"), *LOCAL,
            "--llm", "openai", "--llm_base_url", server, "--llm_model", "fake-1", "--llm_timeout", "5",
            "--llm_retries", "1"]
    assert main(args) == 0
    first = len(FakeModel.seen)
    con = query.connect(str(root / "out"))
    summaries = con.execute("select service, status, backend, model from summaries order by service, window_start").fetchall()
    requests = con.execute("select attempt, status, prompt, redactions from llm_requests").fetchall()
    assert main(args) == 0  # the same inputs again: every good answer comes from the cache
    return root / "out", first, len(FakeModel.seen) - first, summaries, requests


def test_statuses_retry_and_fallback(run):
    by_service: dict[str, set] = {}
    for service, status, backend, model in run[3]:
        by_service.setdefault(service, set()).add((status, backend, model))
    assert by_service["web"] == {("ok_after_retry", "openai", "fake-1")}
    assert by_service["worker"] == {("fallback:http_5xx", "offline", "extractive-v1")}
    assert ("ok", "openai", "fake-1") in by_service["payments"]


def test_rerun_is_served_from_the_cache(run):
    out, first, second = run[:3]
    statuses = dict(query.connect(str(out)).execute("select status, count(*) from summaries group by 1").fetchall())
    assert first > 0 and set(statuses) == {"cached", "fallback:http_5xx"}
    # only the windows that failed the first time (worker: HTTP 500) are asked again, 1 + 1 retry each
    assert second == statuses["fallback:http_5xx"] * 2


def test_requests_are_audited_and_redacted(run):
    rows = run[4]
    assert {a for a, *_ in rows} == {1, 2}
    assert any(s == "error:http_5xx" for _, s, _, _ in rows)
    assert all("hunter2secret" not in p for _, _, p, _ in rows)
    assert all("hunter2secret" not in json.dumps(b) for b in FakeModel.seen)
    assert any(r > 0 for *_, r in rows)
