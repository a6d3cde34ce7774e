"""JSON over HTTP for the network LLM backends: one POST with a timeout, retries and backoff.

``post_json`` never raises for remote failures. It retries timeouts, connection errors, 429
and 5xx with exponential backoff (``backoff_s * 2**attempt``, capped at ``max_backoff_s``; a
``Retry-After`` header in seconds wins), does not retry other 4xx, and returns an
``HttpResult`` whose ``status`` is one of the ``LLMResponse.status`` values:

- ``ok``: a 2xx with a JSON body (``body`` holds it)
- ``error:timeout`` / ``error:connection``: the last attempt timed out / could not connect
- ``error:http_429`` / ``error:http_5xx``: still throttled / failing after the retries
- ``error:credentials``: 401 or 403 (not retried)
- ``error:http_4xx``: any other 4xx (not retried; ``text`` holds the server's message)
- ``error:malformed``: a 2xx whose body is not JSON

``sleep`` is injectable so tests do not wait. Requests to loopback hosts bypass any
``http_proxy`` from the environment (a local model server is never behind a proxy).

Example::

    >>> r = post_json("http://127.0.0.1:9/none", {"x": 1}, timeout_s=0.2, max_retries=1,
    ...               sleep=lambda s: None)
    >>> r.status, r.attempts
    ('error:connection', 2)
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_BODY_BYTES = 8 * 1024 * 1024  # an answer is a few KB: never buffer an unbounded body
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class HttpResult:
    status: str  # an LLMResponse.status value (see the module docstring)
    code: int | None = None  # the last HTTP status code; None when no response arrived
    body: Any = None  # the parsed JSON body (also set for 4xx/5xx when the server sent JSON)
    text: str = ""  # the raw body, decoded (for error messages and fallbacks)
    error: str | None = None  # one readable line when status != "ok"
    attempts: int = 0
    latency_ms: float = 0.0  # wall time of the whole call, backoff included
    headers: dict[str, str] = field(default_factory=dict)
    final: bool = False  # a failure that retrying cannot fix (e.g. an unusable URL)


def one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace and cut: error messages end up in a table column."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """The Retry-After header in seconds (the HTTP-date form is ignored: backoff applies)."""
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(0.0, float(value.strip()))
            except ValueError:
                return None
    return None


def backoff_delay(attempt: int, backoff_s: float, max_backoff_s: float, retry_after: float | None) -> float:
    """Seconds to wait before retry number ``attempt + 1`` (attempt counts from 0)."""
    delay = retry_after if retry_after is not None else backoff_s * (2**attempt)
    return min(delay, max_backoff_s)


def _status_of(code: int) -> str:
    if 200 <= code < 300:
        return "ok"
    if code in (401, 403):
        return "error:credentials"
    if code == 429:
        return "error:http_429"
    if code >= 500:
        return "error:http_5xx"
    return "error:http_4xx"


def _opener(url: str) -> urllib.request.OpenerDirector:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host in _LOOPBACK:
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


def _attempt(url: str, data: bytes, headers: dict[str, str], timeout_s: float) -> HttpResult:
    """One POST; classifies the outcome without retrying."""
    try:
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    except ValueError as exc:  # an unusable URL is a configuration error, reported like a failed connection
        return HttpResult("error:connection", error=one_line(f"invalid URL: {exc}"), final=True)
    try:
        with _opener(url).open(request, timeout=timeout_s) as response:
            code, raw = response.status, response.read(MAX_BODY_BYTES)
            got = dict(response.headers.items())
    except urllib.error.HTTPError as exc:  # a non-2xx answer: keep its body, it explains the refusal
        try:
            raw = exc.read(MAX_BODY_BYTES)
        except (OSError, http.client.HTTPException):
            raw = b""
        code, got = exc.code, dict(exc.headers.items()) if exc.headers else {}
    except TimeoutError as exc:  # socket.timeout is TimeoutError since 3.10
        return HttpResult("error:timeout", error=one_line(f"no answer within {timeout_s}s ({exc or 'timed out'})"))
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            return HttpResult("error:timeout", error=one_line(f"connect timed out after {timeout_s}s"))
        return HttpResult("error:connection", error=one_line(f"connection failed: {exc.reason}"))
    except (OSError, http.client.HTTPException) as exc:  # reset, refused, remote closed, incomplete read
        return HttpResult("error:connection", error=one_line(f"connection failed: {type(exc).__name__}: {exc}"))

    text = raw.decode("utf-8", errors="replace")
    result = HttpResult(_status_of(code), code=code, text=text, headers=got)
    try:
        result.body = json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        result.body = None
    if result.status == "ok" and result.body is None:
        result.status, result.error = "error:malformed", one_line(f"HTTP {code} with a body that is not JSON: {text[:120]!r}")
    elif result.status != "ok":
        result.error = one_line(f"HTTP {code}: {text or 'no body'}")
    return result


def post_json(
    url: str,
    payload: Any,
    headers: Mapping[str, str] | None = None,
    *,
    timeout_s: float = 30.0,
    max_retries: int = 3,
    backoff_s: float = 1.0,
    max_backoff_s: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
) -> HttpResult:
    """POST ``payload`` as JSON; retries timeouts, connection errors, 429 and 5xx. Never raises for remote failures."""
    data = json.dumps(payload).encode("utf-8")
    sent = {"Content-Type": "application/json", "Accept": "application/json", **dict(headers or {})}
    start = time.monotonic()
    result = HttpResult("error:connection")
    for attempt in range(max(0, max_retries) + 1):
        result = _attempt(url, data, sent, timeout_s)
        result.attempts = attempt + 1
        retriable = result.status in ("error:timeout", "error:connection", "error:http_429", "error:http_5xx")
        if not retriable or result.final or attempt >= max_retries:
            break
        sleep(backoff_delay(attempt, backoff_s, max_backoff_s, retry_after_s(result.headers)))
    result.latency_ms = (time.monotonic() - start) * 1000.0
    return result
