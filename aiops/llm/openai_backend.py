"""The OpenAI-compatible backend: chat completions against OpenAI, vLLM, Ollama, llama.cpp, LiteLLM...

``complete`` POSTs ``{base_url}/v1/chat/completions`` (a base_url that already ends in ``/v1``
works too) with a system and a user message, and asks for structured output with
``response_format: json_schema`` when the request carries a schema. Servers that reject it
(an HTTP 400/422 naming response_format) are asked again with ``json_object``, then with no
response_format; the backend remembers the downgrade for its later requests.

The key is read from the environment variable named by ``LLMConfig.api_key_env`` at each call
and is only ever put in the Authorization header (never logged, never stored on the object;
it is masked out of error messages). A missing key is fine for local servers; a 401/403 is
``error:credentials``.

Example (against a local server)::

    backend = OpenAIBackend(LLMConfig(backend="openai", base_url="http://localhost:11434", model="llama3.1"))
    response = backend.complete(LLMRequest("r1", "Answer in JSON.", "...evidence..."))
    response.status, response.text
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from aiops.llm.http import HttpResult, one_line, post_json
from aiops.llm.types import LLMConfig, LLMRequest, LLMResponse

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_BASE_URL = "https://api.openai.com"
FORMATS = ("json_schema", "json_object", "none")  # the structured-output modes, strongest first


def chat_completions_url(base_url: str) -> str:
    """``http://h:8000`` / ``http://h:8000/v1`` / ``.../v1/chat/completions`` -> the endpoint."""
    root = (base_url or DEFAULT_BASE_URL).strip().rstrip("/")
    if root.endswith("/chat/completions"):
        return root
    if root.endswith("/v1"):
        return root + "/chat/completions"
    return root + "/v1/chat/completions"


def _rejects_format(result: HttpResult) -> bool:
    """A 400/422 that names the response_format: the server does not support that mode."""
    text = result.text.lower()
    return result.code in (400, 422) and any(k in text for k in ("response_format", "json_schema", "json_object"))


def parse_chat_completion(body: Any) -> tuple[str | None, int, int, str | None]:
    """(content, prompt_tokens, completion_tokens, problem); problem is set when the body is unusable."""
    try:
        choice = body["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError):
        return None, 0, 0, "no choices[0].message in the response"
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str) or not content.strip():
        why = message.get("refusal") if isinstance(message, dict) else None
        reason = choice.get("finish_reason") if isinstance(choice, dict) else None
        return None, 0, 0, f"empty message content (finish_reason={reason}{', refusal: ' + str(why) if why else ''})"
    usage = body.get("usage") if isinstance(body, dict) else None
    usage = usage if isinstance(usage, dict) else {}
    # Usage is optional: some compatible servers omit it and the answer is still good.
    prompt = usage.get("prompt_tokens")
    completion = usage.get("completion_tokens")
    return (content, prompt if isinstance(prompt, int) else 0, completion if isinstance(completion, int) else 0, None)


class OpenAIBackend:
    """``LLMConfig(backend="openai")`` -> a Backend speaking the chat completions protocol."""

    name = "openai"

    def __init__(self, config: LLMConfig, sleep: Callable[[float], None] = time.sleep):
        self.config = config
        self.model = config.model or DEFAULT_MODEL
        self.url = chat_completions_url(config.base_url)
        self._sleep = sleep
        self._format = 0  # index into FORMATS: lowered once a server rejected a mode

    def _headers(self) -> tuple[dict[str, str], str]:
        key = os.environ.get(self.config.api_key_env, "") if self.config.api_key_env else ""
        return ({"Authorization": f"Bearer {key}"} if key else {}), key

    def _body(self, request: LLMRequest, mode: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "system", "content": request.system}, {"role": "user", "content": request.prompt}],
            "temperature": self.config.temperature,
            "max_tokens": request.max_output_tokens,
        }
        if mode == "json_schema" and request.json_schema is not None:
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "summary", "schema": request.json_schema, "strict": True}}
        elif mode == "json_object":
            body["response_format"] = {"type": "json_object"}
        return body

    def complete(self, request: LLMRequest) -> LLMResponse:
        """One request (with retries and format fallbacks); never raises for remote failures."""
        headers, key = self._headers()
        start = time.monotonic()
        attempts = 0
        level = self._format if request.json_schema is not None else len(FORMATS) - 1
        while True:
            mode = FORMATS[level]
            result = post_json(self.url, self._body(request, mode), headers, timeout_s=self.config.timeout_s,
                               max_retries=self.config.max_retries, backoff_s=self.config.backoff_s, sleep=self._sleep)
            attempts += result.attempts
            if level < len(FORMATS) - 1 and _rejects_format(result):
                level += 1
                self._format = max(self._format, level)  # later requests skip the rejected mode
                continue
            break
        response = LLMResponse(text=None, status=result.status, attempts=attempts, model=self.model,
                               latency_ms=(time.monotonic() - start) * 1000.0, extra={"response_format": mode})
        if result.status == "ok":
            text, prompt, completion, problem = parse_chat_completion(result.body)
            if problem is None:
                response.text, response.prompt_tokens, response.completion_tokens = text, prompt, completion
                if isinstance(result.body, dict) and isinstance(result.body.get("model"), str):
                    response.model = result.body["model"] or self.model
                return response
            response.status, response.error = "error:malformed", problem
        else:
            response.error = result.error
        if response.error and key:  # some servers echo (part of) the key: never let it reach a table
            response.error = response.error.replace(key, "***")
        response.error = one_line(response.error or response.status)
        return response
