"""Backend construction, a per-worker rate limiter and a per-run budget.

- ``make_backend(config)``: the Backend named by ``config.backend`` (offline, openai, vertex);
  each is imported only when chosen, so the offline path needs no network code.
- ``RateLimiter(rate_per_s)``: a thread-safe token bucket; ``acquire()`` blocks until a request
  may go (clock and sleep are injectable for tests).
- ``BudgetGuard(max_requests, max_tokens)``: refuses with an ``error:budget`` response, without
  calling the backend, once the budget is spent. Tokens are estimated before sending as
  ceil((len(system) + len(prompt)) / 4) + max_output_tokens, then corrected to the usage the
  server reports.
- ``GuardedBackend(backend, limiter, budget)``: a Backend applying both around another one.

Example::

    >>> from aiops.llm.types import LLMRequest
    >>> guard = BudgetGuard(max_requests=1, max_tokens=10_000)
    >>> guard.estimate(LLMRequest("r1", "", "x" * 10, max_output_tokens=100))
    103
    >>> guard.reserve(LLMRequest("r1", "", "hi")) is None, guard.reserve(LLMRequest("r2", "", "hi")).status
    (True, 'error:budget')
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from aiops.llm.types import BACKENDS, Backend, LLMConfig, LLMRequest, LLMResponse


def make_backend(config: LLMConfig) -> Backend:
    """The backend ``config.backend`` names; ValueError for an unknown name (a configuration error)."""
    if config.backend == "offline":
        from aiops.llm.offline import OfflineBackend

        return OfflineBackend()
    if config.backend == "openai":
        from aiops.llm.openai_backend import OpenAIBackend

        return OpenAIBackend(config)
    if config.backend == "vertex":
        from aiops.llm.vertex_backend import VertexBackend

        return VertexBackend(config)
    raise ValueError(f"unknown LLM backend {config.backend!r}; expected one of {', '.join(BACKENDS)}")


class RateLimiter:
    """A token bucket: ``rate_per_s`` requests per second on average, bursts up to ``burst``.

    Thread-safe: the slot is reserved under the lock and the wait happens outside it, so
    concurrent callers queue up at 1/rate intervals. A rate <= 0 means no limit.
    """

    def __init__(self, rate_per_s: float, burst: float = 1.0, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.rate = float(rate_per_s)
        self.burst = max(1.0, float(burst))
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._last = clock()

    def acquire(self) -> float:
        """Take one token, waiting if needed; returns the seconds waited."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1.0  # may go negative: the debt is this caller's wait
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
        if wait > 0:
            self._sleep(wait)
        return wait


class BudgetGuard:
    """A per-run (per worker, in Beam) budget of requests and estimated tokens. Thread-safe."""

    def __init__(self, max_requests: int, max_tokens: int):
        self.max_requests, self.max_tokens = max_requests, max_tokens
        self.requests = 0
        self.tokens = 0  # reserved estimates, corrected by reported usage
        self._lock = threading.Lock()

    @staticmethod
    def estimate(request: LLMRequest) -> int:
        """Tokens a request may cost: ~4 characters per prompt token, plus the whole answer allowance."""
        return math.ceil((len(request.system) + len(request.prompt)) / 4) + request.max_output_tokens

    def reserve(self, request: LLMRequest) -> LLMResponse | None:
        """None when the request may go (its estimate is now spent), else the error:budget response."""
        cost = self.estimate(request)
        with self._lock:
            if self.requests >= self.max_requests:
                why = f"request budget spent ({self.requests}/{self.max_requests} requests)"
            elif self.tokens + cost > self.max_tokens:
                why = f"token budget spent ({self.tokens} used + {cost} estimated > {self.max_tokens})"
            else:
                self.requests += 1
                self.tokens += cost
                return None
        return LLMResponse(text=None, status="error:budget", error=why)

    def settle(self, request: LLMRequest, response: LLMResponse) -> None:
        """Replace the estimate with the usage the server reported (failures keep the estimate)."""
        used = response.prompt_tokens + response.completion_tokens
        if used > 0:
            with self._lock:
                self.tokens += used - self.estimate(request)


class GuardedBackend:
    """A Backend that waits for the rate limiter and checks the budget before the real one."""

    def __init__(self, backend: Backend, limiter: RateLimiter | None = None, budget: BudgetGuard | None = None):
        self.backend, self.limiter, self.budget = backend, limiter, budget
        self.name, self.model = backend.name, backend.model

    def complete(self, request: LLMRequest) -> LLMResponse:
        if self.budget is not None:
            refused = self.budget.reserve(request)
            if refused is not None:  # no wait for a request that will not be sent
                refused.model = self.model
                return refused
        waited = self.limiter.acquire() if self.limiter is not None else 0.0
        response = self.backend.complete(request)
        if self.budget is not None:
            self.budget.settle(request, response)
        if waited > 0:
            response.extra = {**response.extra, "rate_wait_ms": round(waited * 1000.0, 1)}
        return response
