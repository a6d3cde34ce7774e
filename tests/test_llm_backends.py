"""The network LLM backends and the Beam ModelHandler against a local HTTP server (no internet).

A ThreadingHTTPServer on 127.0.0.1 records every request and answers from a per-test script
(OpenAI chat completions and Vertex generateContent bodies); sleeps are injected so retries
do not wait.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from aiops.llm.backends import BudgetGuard, GuardedBackend, RateLimiter, make_backend
from aiops.llm.http import backoff_delay, post_json
from aiops.llm.openai_backend import OpenAIBackend, chat_completions_url
from aiops.llm.types import LLMConfig, LLMRequest, LLMResponse
from aiops.llm.vertex_backend import CredentialsError, VertexBackend, vertex_schema

SCHEMA = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "additionalProperties": False,
          "required": ["title", "cause"],
          "properties": {"title": {"type": "string", "maxLength": 80}, "cause": {"type": ["string", "null"]},
                         "evidence": {"type": "array", "items": {"type": "string"}}}}
KEY = "sk-test-not-a-real-key"


@dataclass
class Reply:
    code: int = 200
    body: Any = None  # a dict is sent as JSON, bytes as they are
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: Any


class Server:
    def __init__(self) -> None:
        self.script: list[Reply | Callable[[Seen], Reply]] = []
        self.default: Reply | Callable[[Seen], Reply] = Reply(500, {"error": "no script"})
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.url = ""

    def reply(self, seen: Seen) -> Reply:
        with self.lock:
            self.seen.append(seen)
            step = self.script.pop(0) if self.script else self.default
        return step(seen) if callable(step) else step


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            reply = server.reply(Seen(self.path, dict(self.headers.items()), json.loads(raw)))
            time.sleep(reply.delay)
            data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            try:
                self.send_response(reply.code)
                for k, v in {"Content-Type": "application/json", **reply.headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                pass

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def server():
    state = Server()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


def chat_ok(content: str, prompt_tokens: int = 11, completion_tokens: int = 7) -> Reply:
    return Reply(200, {"id": "chatcmpl-1", "object": "chat.completion", "model": "test-model",
                       "choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": content}}],
                       "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                                 "total_tokens": prompt_tokens + completion_tokens}})


def gemini_ok(text: str) -> Reply:
    return Reply(200, {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}],
                       "usageMetadata": {"promptTokenCount": 21, "candidatesTokenCount": 9, "totalTokenCount": 30},
                       "modelVersion": "gemini-2.0-flash-001"})


def openai(server: Server, sleeps: list[float] | None = None, **kw: Any) -> OpenAIBackend:
    base = {"backend": "openai", "base_url": server.url, "model": "test-model", "api_key_env": "AIOPS_TEST_KEY",
            "timeout_s": 2.0, "max_retries": 3, "backoff_s": 0.5}
    return OpenAIBackend(LLMConfig(**{**base, **kw}), sleep=(sleeps.append if sleeps is not None else lambda s: None))


def vertex(server: Server, sleeps: list[float] | None = None, token: Callable[[], str] = lambda: "ya29.test",
           **kw: Any) -> VertexBackend:
    base = {"backend": "vertex", "project": "proj-1", "location": "europe-west4", "timeout_s": 2.0, "backoff_s": 0.5}
    return VertexBackend(LLMConfig(**{**base, **kw}), endpoint=server.url, token_provider=token,
                         sleep=(sleeps.append if sleeps is not None else lambda s: None))


REQ = LLMRequest("r1", "You summarise incidents. Answer in JSON.", "evidence: db timeouts", 256, SCHEMA)


# --- OpenAI-compatible -------------------------------------------------------------------------

def test_openai_ok_sends_the_chat_completions_wire_format(server, monkeypatch) -> None:
    monkeypatch.setenv("AIOPS_TEST_KEY", KEY)
    server.script = [chat_ok('{"title": "db"}')]
    resp = openai(server).complete(REQ)
    assert (resp.status, resp.text, resp.prompt_tokens, resp.completion_tokens, resp.attempts) == (
        "ok", '{"title": "db"}', 11, 7, 1)
    seen = server.seen[0]
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["Authorization"] == f"Bearer {KEY}"
    assert seen.body["model"] == "test-model" and seen.body["max_tokens"] == 256 and seen.body["temperature"] == 0.0
    assert seen.body["messages"] == [{"role": "system", "content": REQ.system}, {"role": "user", "content": REQ.prompt}]
    assert seen.body["response_format"] == {"type": "json_schema",
                                            "json_schema": {"name": "summary", "schema": SCHEMA, "strict": True}}
    assert KEY not in repr(resp)


def test_openai_without_key_sends_no_authorization_and_base_url_may_end_in_v1(server, monkeypatch) -> None:
    monkeypatch.delenv("AIOPS_TEST_KEY", raising=False)
    server.script = [chat_ok("{}")]
    resp = openai(server, base_url=server.url + "/v1/").complete(LLMRequest("r", "s", "p"))
    assert resp.status == "ok" and "Authorization" not in server.seen[0].headers
    assert server.seen[0].path == "/v1/chat/completions" and "response_format" not in server.seen[0].body


def test_openai_429_honours_retry_after(server) -> None:
    sleeps: list[float] = []
    server.script = [Reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "7"}), chat_ok("{}")]
    resp = openai(server, sleeps).complete(REQ)
    assert (resp.status, resp.attempts, sleeps) == ("ok", 2, [7.0])


def test_openai_500_twice_then_ok_backs_off_exponentially(server) -> None:
    sleeps: list[float] = []
    server.script = [Reply(500, {"error": "boom"}), Reply(502, b"bad gateway"), chat_ok("{}")]
    resp = openai(server, sleeps).complete(REQ)
    assert (resp.status, resp.attempts, sleeps) == ("ok", 3, [0.5, 1.0])


def test_openai_500_forever_gives_up_after_max_retries(server) -> None:
    sleeps: list[float] = []
    server.default = Reply(503, {"error": "down"})
    resp = openai(server, sleeps, max_retries=2).complete(REQ)
    assert (resp.status, resp.attempts, resp.text, len(server.seen)) == ("error:http_5xx", 3, None, 3)
    assert sleeps == [0.5, 1.0] and "503" in (resp.error or "")


def test_openai_timeout(server) -> None:
    server.default = Reply(200, {}, delay=0.6)
    resp = openai(server, timeout_s=0.1, max_retries=1).complete(REQ)
    assert (resp.status, resp.attempts) == ("error:timeout", 2)


def test_openai_malformed_bodies(server) -> None:
    server.script = [Reply(200, b"this is not json{"), Reply(200, {"id": "x", "choices": []})]
    backend = openai(server)
    first, second = backend.complete(REQ), backend.complete(REQ)
    assert (first.status, first.attempts) == ("error:malformed", 1)
    assert second.status == "error:malformed" and "choices" in (second.error or "")


def test_openai_401_is_credentials_without_retry_and_masks_the_key(server, monkeypatch) -> None:
    monkeypatch.setenv("AIOPS_TEST_KEY", KEY)
    sleeps: list[float] = []
    server.default = Reply(401, {"error": {"message": f"Incorrect API key provided: {KEY}"}})
    resp = openai(server, sleeps).complete(REQ)
    assert (resp.status, resp.attempts, sleeps) == ("error:credentials", 1, [])
    assert KEY not in (resp.error or "") and "***" in (resp.error or "")


def _rejects_response_format(seen: Seen) -> Reply:
    if "response_format" in seen.body:
        return Reply(400, {"error": {"message": "response_format is not supported", "param": "response_format"}})
    return chat_ok('{"title": "ok"}')


def test_openai_falls_back_when_response_format_is_rejected(server) -> None:
    server.default = _rejects_response_format
    backend = openai(server)
    resp = backend.complete(REQ)
    assert (resp.status, resp.attempts, resp.extra["response_format"]) == ("ok", 3, "none")
    assert [s.body.get("response_format", {}).get("type") for s in server.seen] == ["json_schema", "json_object", None]
    again = backend.complete(REQ)  # the downgrade is remembered
    assert again.attempts == 1 and "response_format" not in server.seen[-1].body


def test_openai_other_4xx_is_not_retried_and_connection_errors_are_reported() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps: list[float] = []
    cfg = LLMConfig(backend="openai", base_url=f"http://127.0.0.1:{port}", max_retries=1, timeout_s=1.0)
    resp = OpenAIBackend(cfg, sleep=sleeps.append).complete(REQ)
    assert (resp.status, resp.attempts, sleeps) == ("error:connection", 2, [1.0])


def test_http_helper_404_and_urls(server) -> None:
    server.default = Reply(404, {"error": "no such model"})
    result = post_json(server.url + "/x", {}, timeout_s=1.0, sleep=lambda s: pytest.fail("no retry on 404"))
    assert (result.status, result.code, result.attempts) == ("error:http_4xx", 404, 1)
    assert backoff_delay(10, 1.0, 60.0, None) == 60.0 and backoff_delay(0, 1.0, 60.0, 3.0) == 3.0
    assert chat_completions_url("http://h:8000") == chat_completions_url("http://h:8000/v1") == \
        "http://h:8000/v1/chat/completions"
    assert chat_completions_url("") == "https://api.openai.com/v1/chat/completions"


# --- Vertex AI ----------------------------------------------------------------------------------

def test_vertex_ok_sends_the_generate_content_wire_format(server) -> None:
    server.script = [gemini_ok('{"title": "db"}')]
    resp = vertex(server).complete(REQ)
    assert (resp.status, resp.text, resp.prompt_tokens, resp.completion_tokens) == ("ok", '{"title": "db"}', 21, 9)
    seen = server.seen[0]
    assert seen.path == ("/v1/projects/proj-1/locations/europe-west4/publishers/google/models/"
                         "gemini-2.0-flash:generateContent")
    assert seen.headers["Authorization"] == "Bearer ya29.test"
    assert seen.body["systemInstruction"] == {"parts": [{"text": REQ.system}]}
    assert seen.body["contents"] == [{"role": "user", "parts": [{"text": REQ.prompt}]}]
    gen = seen.body["generationConfig"]
    assert (gen["temperature"], gen["maxOutputTokens"], gen["responseMimeType"]) == (0.0, 256, "application/json")
    assert "additionalProperties" not in json.dumps(gen["responseSchema"]) and "$schema" not in gen["responseSchema"]


def test_vertex_schema_conversion() -> None:
    out = vertex_schema(SCHEMA)
    assert out["type"] == "OBJECT" and out["required"] == ["title", "cause"]
    assert out["properties"]["cause"] == {"type": "STRING", "nullable": True}
    assert out["properties"]["evidence"] == {"type": "ARRAY", "items": {"type": "STRING"}}
    assert out["propertyOrdering"] == ["title", "cause", "evidence"]


def test_vertex_retries_and_safety_block(server) -> None:
    sleeps: list[float] = []
    server.script = [Reply(429, {"error": {"code": 429}}, {"Retry-After": "2"}), Reply(500, {}),
                     Reply(200, {"candidates": [{"finishReason": "SAFETY"}]}),
                     Reply(200, {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}})]
    backend = vertex(server, sleeps)
    blocked = backend.complete(REQ)
    assert (blocked.status, blocked.attempts, sleeps) == ("error:malformed", 3, [2.0, 1.0])
    assert "SAFETY" in (blocked.error or "")
    no_candidates = backend.complete(REQ)
    assert no_candidates.status == "error:malformed" and "PROHIBITED_CONTENT" in (no_candidates.error or "")


def test_vertex_missing_credentials_and_project(server, monkeypatch) -> None:
    def no_credentials() -> str:
        raise CredentialsError("no application-default credentials")

    assert vertex(server, token=no_credentials).complete(REQ).status == "error:credentials"
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    assert vertex(server, project="").complete(REQ).status == "error:credentials"
    monkeypatch.setitem(sys.modules, "google.auth", None)  # google-auth not installed: still no exception
    monkeypatch.setenv("AIOPS_VERTEX_ENDPOINT", server.url)
    resp = VertexBackend(LLMConfig(backend="vertex", project="p")).complete(REQ)
    assert resp.status == "error:credentials" and not server.seen
    server.default = Reply(403, {"error": {"status": "PERMISSION_DENIED"}})
    assert vertex(server).complete(REQ).status == "error:credentials" and len(server.seen) == 1


# --- rate limiter, budget, factory ----------------------------------------------------------------

def test_rate_limiter_paces_with_a_fake_clock() -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(s: float) -> None:
        waits.append(s)
        now[0] += s

    limiter = RateLimiter(2.0, clock=lambda: now[0], sleep=sleep)
    assert [limiter.acquire() for _ in range(3)] == [0.0, 0.5, 0.5]
    now[0] += 10.0
    assert limiter.acquire() == 0.0 and waits == [0.5, 0.5]


class _Counting:
    name, model = "openai", "m"

    def __init__(self) -> None:
        self.calls = 0

    def complete(self, request: LLMRequest) -> LLMResponse:
        self.calls += 1
        return LLMResponse("{}", "ok", prompt_tokens=5, completion_tokens=5)


def test_budget_refuses_without_calling_the_backend() -> None:
    inner = _Counting()
    guarded = GuardedBackend(inner, RateLimiter(0), BudgetGuard(max_requests=10, max_tokens=300))
    small = LLMRequest("a", "", "x" * 40, max_output_tokens=100)  # estimate 110, settles to 10
    assert [guarded.complete(small).status for _ in range(3)] == ["ok", "ok", "ok"]
    big = LLMRequest("b", "", "x" * 400, max_output_tokens=200)  # estimate 300 > 300 - 30
    refused = guarded.complete(big)
    assert (refused.status, inner.calls) == ("error:budget", 3) and "token budget" in (refused.error or "")
    by_count = GuardedBackend(inner, None, BudgetGuard(max_requests=1, max_tokens=10**6))
    assert [by_count.complete(small).status for _ in range(2)] == ["ok", "error:budget"]


def test_make_backend() -> None:
    assert isinstance(make_backend(LLMConfig(backend="openai")), OpenAIBackend)
    assert isinstance(make_backend(LLMConfig(backend="vertex", project="p")), VertexBackend)
    with pytest.raises(ValueError):
        make_backend(LLMConfig(backend="nope"))


# --- Beam ---------------------------------------------------------------------------------------

def _echo(seen: Seen) -> Reply:
    return chat_ok(json.dumps({"id": seen.body["messages"][1]["content"]}))


def _match(pair: tuple[LLMRequest, LLMResponse]) -> tuple[str, str, str]:
    request, response = pair
    return request.request_id, response.status, json.loads(response.text or "{}")["id"]


def test_handler_returns_one_result_per_request(server) -> None:
    from transforms.llm_inference import BackendModelHandler

    server.default = _echo
    handler = BackendModelHandler(LLMConfig(backend="openai", base_url=server.url, rate_per_s=1000, batch_size=3))
    assert handler.batch_elements_kwargs() == {"min_batch_size": 1, "max_batch_size": 3}
    assert handler.share_model_across_processes() is False
    batch = [LLMRequest(f"q{i}", "s", f"q{i}") for i in range(3)]
    results: list[Any] = list(handler.run_inference(batch, handler.load_model()))
    assert [(r.example.request_id, json.loads(r.inference.text)["id"]) for r in results] == \
        [("q0", "q0"), ("q1", "q1"), ("q2", "q2")]


def test_complete_in_a_pipeline_pairs_every_request(server) -> None:
    import apache_beam as beam
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from transforms.llm_inference import Complete

    server.default = _echo
    config = LLMConfig(backend="openai", base_url=server.url, rate_per_s=1000, batch_size=2, timeout_s=5.0)
    requests = [LLMRequest(f"req-{i}", "s", f"req-{i}") for i in range(5)]
    with TestPipeline(runner=FnApiRunner()) as p:
        pairs = p | beam.Create(requests) | "Complete" >> Complete(config)
        matched = pairs | beam.Map(_match)
        assert_that(matched, equal_to([(f"req-{i}", "ok", f"req-{i}") for i in range(5)]))
    assert len(server.seen) == 5
