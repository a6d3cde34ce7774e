"""The LLM step's shared types: configuration, one request, one response, and the backend protocol.

Backends never raise for remote failures (timeouts, 429, 5xx, malformed bodies, missing
credentials): they return an ``LLMResponse`` whose ``status`` says what went wrong, so a
failing model never fails the job.

Example::

    >>> from aiops.llm.types import LLMConfig
    >>> LLMConfig().backend
    'offline'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

BACKENDS = ("offline", "openai", "vertex")


@dataclass(frozen=True)
class LLMConfig:
    """Everything a backend and the summarising stage need; built from the batch job's flags."""

    backend: str = "offline"  # offline | openai | vertex
    model: str = ""  # e.g. gpt-4o-mini, llama3.1, gemini-2.0-flash (default per backend)
    base_url: str = ""  # openai: the server root, e.g. http://localhost:8000 (".../v1/chat/completions" is appended)
    api_key_env: str = "OPENAI_API_KEY"  # openai: environment variable holding the key (may be unset for local servers)
    project: str = ""  # vertex: GCP project
    location: str = "us-central1"  # vertex: region
    timeout_s: float = 30.0  # per HTTP attempt
    max_retries: int = 3  # retries after the first attempt on timeouts, 429 and 5xx
    backoff_s: float = 1.0  # first backoff; doubles each retry (Retry-After wins when the server sends it)
    max_requests: int = 50  # per run, retries excluded
    max_tokens: int = 200_000  # per run: prompt + completion tokens (estimated before sending)
    max_prompt_chars: int = 24_000  # prompts are cut to this size
    max_output_tokens: int = 1_024
    rate_per_s: float = 2.0  # requests per second per worker
    batch_size: int = 4  # requests per RunInference batch
    temperature: float = 0.0


@dataclass(frozen=True)
class LLMRequest:
    request_id: str  # stable: the evidence hash of the flagged window
    system: str  # instructions
    prompt: str  # the (redacted, fenced) evidence
    max_output_tokens: int = 1_024
    json_schema: dict[str, Any] | None = None  # the structured-output schema, when the backend supports one
    evidence: dict[str, Any] | None = None  # the (redacted) evidence pack itself: the offline backend reads it
    redactions: dict[str, int] | None = None  # what redaction removed, per rule (for the llm_requests audit row)


@dataclass
class LLMResponse:
    text: str | None  # the model's raw text (None on failure)
    status: str  # "ok", or "error:timeout" | "error:http_429" | "error:http_5xx" | "error:http_4xx" |
    #              "error:malformed" | "error:credentials" | "error:connection" | "error:budget"
    error: str | None = None  # one readable line
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    attempts: int = 0
    model: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Backend(Protocol):
    name: str
    model: str

    def complete(self, request: LLMRequest) -> LLMResponse:
        """One request, with retries; never raises for remote failures."""
        ...
