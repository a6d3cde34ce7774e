"""The Vertex AI backend: Gemini through the REST ``generateContent`` endpoint, no SDK needed.

``complete`` POSTs to
``{root}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent``
where ``root`` is ``https://{location}-aiplatform.googleapis.com`` unless the constructor's
``endpoint`` or the ``AIOPS_VERTEX_ENDPOINT`` environment variable overrides it (tests point it
at a local server). The request's JSON schema is converted to Vertex's OpenAPI subset.

Authentication uses an access token from application-default credentials, obtained lazily and
refreshed when expired; ``google-auth`` is imported only then. A missing project, a missing
``google-auth`` or missing credentials are ``error:credentials`` responses, not exceptions.
Tests inject ``token_provider`` (a callable returning a token or raising ``CredentialsError``).

Example::

    backend = VertexBackend(LLMConfig(backend="vertex", project="my-project"))
    response = backend.complete(LLMRequest("r1", "Answer in JSON.", "...evidence..."))
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from aiops.llm.http import one_line, post_json
from aiops.llm.types import LLMConfig, LLMRequest, LLMResponse

DEFAULT_MODEL = "gemini-2.0-flash"
ENDPOINT_ENV = "AIOPS_VERTEX_ENDPOINT"
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
# The OpenAPI subset Vertex's Schema accepts; anything else (additionalProperties, $schema...) is dropped.
_KEEP = {"format", "title", "description", "nullable", "minItems", "maxItems", "minLength", "maxLength",
         "minimum", "maximum", "pattern", "minProperties", "maxProperties"}
_TYPES = {"string": "STRING", "number": "NUMBER", "integer": "INTEGER", "boolean": "BOOLEAN",
          "array": "ARRAY", "object": "OBJECT"}


class CredentialsError(Exception):
    """No usable credentials (raised by token providers, turned into an error:credentials response)."""


def vertex_schema(schema: Any, defs: dict[str, Any] | None = None) -> Any:
    """A JSON Schema -> Vertex's Schema: upper-case types, nullable for ``[T, "null"]``, local $refs inlined."""
    if not isinstance(schema, dict):
        return schema
    defs = defs if defs is not None else {**schema.get("definitions", {}), **schema.get("$defs", {})}
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/") and ref.rsplit("/", 1)[-1] in defs:
        return vertex_schema(defs[ref.rsplit("/", 1)[-1]], defs)
    out: dict[str, Any] = {k: v for k, v in schema.items() if k in _KEEP}
    kind = schema.get("type")
    if isinstance(kind, list):  # ["string", "null"] -> STRING, nullable
        if "null" in kind:
            out["nullable"] = True
        kind = next((k for k in kind if k != "null"), None)
    if isinstance(kind, str) and kind in _TYPES:
        out["type"] = _TYPES[kind]
    enum = schema.get("enum", [schema["const"]] if "const" in schema else None)
    if isinstance(enum, list):
        values = [v for v in enum if v is not None]
        if values and all(isinstance(v, str) for v in values):  # Vertex enums are strings only
            out["enum"], out["type"] = values, "STRING"
            if len(values) < len(enum):
                out["nullable"] = True
    if isinstance(schema.get("properties"), dict):
        out["properties"] = {k: vertex_schema(v, defs) for k, v in schema["properties"].items()}
        out["propertyOrdering"] = list(schema["properties"])  # keep the answer's keys in schema order
        required = [k for k in schema.get("required", []) if k in out["properties"]]
        if required:
            out["required"] = required
    if isinstance(schema.get("items"), dict):
        out["items"] = vertex_schema(schema["items"], defs)
    options = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(options, list):
        non_null = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
        if len(non_null) == 1:  # Optional[X]: X, nullable
            out.update({k: v for k, v in vertex_schema(non_null[0], defs).items() if k not in out})
            out["nullable"] = True
        elif non_null:
            out["anyOf"] = [vertex_schema(o, defs) for o in non_null]
    return out


class ADCTokenProvider:
    """Access tokens from application-default credentials, refreshed when expired (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._credentials: Any = None
        self.project: str | None = None

    def __call__(self) -> str:
        with self._lock:
            try:
                import google.auth
                import google.auth.exceptions
                import google.auth.transport.requests
            except ImportError as exc:
                raise CredentialsError(f"google-auth is not installed (pip install 'aiops[gcp]'): {exc}") from exc
            try:
                if self._credentials is None:
                    self._credentials, self.project = google.auth.default(scopes=SCOPES)
                if not self._credentials.valid:
                    self._credentials.refresh(google.auth.transport.requests.Request())
            except google.auth.exceptions.GoogleAuthError as exc:
                raise CredentialsError(f"no application-default credentials: {exc}") from exc
            token = self._credentials.token
            if not token:
                raise CredentialsError("application-default credentials gave no access token")
            return str(token)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def parse_generate_content(body: Any) -> tuple[str | None, int, int, str | None, str | None]:
    """(text, prompt_tokens, completion_tokens, finish_reason, problem); problem set when unusable."""
    if not isinstance(body, dict):
        return None, 0, 0, None, "the response is not a JSON object"
    usage = _dict(body.get("usageMetadata"))
    prompt, completion = _int(usage.get("promptTokenCount")), _int(usage.get("candidatesTokenCount"))
    candidates = body.get("candidates")
    if not isinstance(candidates, list) or not candidates or not isinstance(candidates[0], dict):
        why = _dict(body.get("promptFeedback")).get("blockReason") or "none"
        return None, prompt, completion, None, f"no candidates (prompt blocked: {why})"
    first = candidates[0]
    reason = first.get("finishReason")
    parts = _dict(first.get("content")).get("parts")
    text = "".join(p["text"] for p in (parts if isinstance(parts, list) else [])
                   if isinstance(p, dict) and isinstance(p.get("text"), str) and not p.get("thought"))
    if not text.strip():
        return None, prompt, completion, reason, f"no text in candidates[0] (finishReason={reason})"
    return text, prompt, completion, reason, None


class VertexBackend:
    """``LLMConfig(backend="vertex")`` -> a Backend calling Gemini's generateContent."""

    name = "vertex"

    def __init__(self, config: LLMConfig, *, endpoint: str | None = None,
                 token_provider: Callable[[], str] | None = None, sleep: Callable[[float], None] = time.sleep):
        self.config = config
        self.model = config.model or DEFAULT_MODEL
        location = config.location or "us-central1"
        default_root = ("https://aiplatform.googleapis.com" if location == "global"
                        else f"https://{location}-aiplatform.googleapis.com")
        self.root = (endpoint or os.environ.get(ENDPOINT_ENV) or default_root).rstrip("/")
        self._tokens: Callable[[], str] = token_provider or ADCTokenProvider()
        self._sleep = sleep

    def url(self, project: str) -> str:
        location = self.config.location or "us-central1"
        return (f"{self.root}/v1/projects/{project}/locations/{location}"
                f"/publishers/google/models/{self.model}:generateContent")

    def body(self, request: LLMRequest) -> dict[str, Any]:
        generation: dict[str, Any] = {"temperature": self.config.temperature,
                                      "maxOutputTokens": request.max_output_tokens,
                                      "responseMimeType": "application/json"}
        if request.json_schema is not None:
            generation["responseSchema"] = vertex_schema(request.json_schema)
        return {"systemInstruction": {"parts": [{"text": request.system}]},
                "contents": [{"role": "user", "parts": [{"text": request.prompt}]}],
                "generationConfig": generation}

    def complete(self, request: LLMRequest) -> LLMResponse:
        """One request, with retries; never raises for remote failures or missing credentials."""
        start = time.monotonic()
        try:
            token = self._tokens()  # first, so ADC can also tell us the project
        except CredentialsError as exc:
            return LLMResponse(text=None, status="error:credentials", error=one_line(str(exc)), model=self.model)
        project = (self.config.project or os.environ.get("GOOGLE_CLOUD_PROJECT")
                   or getattr(self._tokens, "project", None))
        if not project:
            return LLMResponse(text=None, status="error:credentials", model=self.model,
                               error="no GCP project: set --vertex_project or GOOGLE_CLOUD_PROJECT")
        result = post_json(self.url(project), self.body(request), {"Authorization": f"Bearer {token}"},
                           timeout_s=self.config.timeout_s, max_retries=self.config.max_retries,
                           backoff_s=self.config.backoff_s, sleep=self._sleep)
        response = LLMResponse(text=None, status=result.status, attempts=result.attempts, model=self.model,
                               latency_ms=(time.monotonic() - start) * 1000.0)
        if result.status != "ok":
            response.error = one_line((result.error or result.status).replace(token, "***"))
            return response
        text, prompt, completion, reason, problem = parse_generate_content(result.body)
        response.prompt_tokens, response.completion_tokens = prompt, completion
        response.extra = {"finish_reason": reason} if reason else {}
        if isinstance(result.body, dict) and isinstance(result.body.get("modelVersion"), str):
            response.model = result.body["modelVersion"] or self.model
        if problem is not None:
            response.status, response.error = "error:malformed", one_line(problem)
        else:
            response.text = text
        return response
