"""Complete: LLMRequest -> (LLMRequest, LLMResponse) through Beam's RunInference and a Backend.

``BackendModelHandler`` is the ModelHandler: ``load_model`` builds the backend named by the
``LLMConfig`` (wrapped in a rate limiter and a token budget), ``run_inference`` returns exactly
one ``PredictionResult(example=request, inference=response)`` per request of the batch, in
order. (Beam's own GeminiModelHandler returns one result per batch; we must not.) Backends never
raise for remote failures, so a failing model yields error responses, not a failed job.

Budget: the guard lives with the loaded model, so it holds per worker process (requests and
estimated tokens): the job-wide bound is the budget x the number of workers. The caller
pre-limits the number of requests to ``max_requests`` before RunInference; the tokens are
enforced here, per worker. Rate: ``rate_per_s`` per worker process, shared by its threads.

Example (see tests/test_llm_backends.py)::

    pairs = requests | "Complete" >> Complete(LLMConfig(backend="openai", base_url="http://localhost:8000"))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import ModelHandler, PredictionResult, RunInference

from aiops.llm.backends import BudgetGuard, GuardedBackend, RateLimiter, make_backend
from aiops.llm.types import Backend, LLMConfig, LLMRequest

METRICS_NAMESPACE = "aiops.llm"


class BackendModelHandler(ModelHandler[LLMRequest, PredictionResult, Backend]):
    """A ModelHandler whose "model" is a Backend: one request in, one PredictionResult out."""

    def __init__(self, config: LLMConfig, backend_factory: Callable[[LLMConfig], Backend] | None = None):
        """``backend_factory`` (default ``make_backend``) must be picklable: tests pass a module-level function."""
        super().__init__()
        self.config = config
        self._factory = backend_factory

    def load_model(self) -> Backend:
        backend = (self._factory or make_backend)(self.config)
        if backend.name == "offline":  # no network, nothing to pace or pay for
            return backend
        limiter = RateLimiter(self.config.rate_per_s)
        budget = BudgetGuard(self.config.max_requests, self.config.max_tokens)
        return GuardedBackend(backend, limiter, budget)

    def run_inference(self, batch: Sequence[LLMRequest], model: Backend,
                      inference_args: dict[str, Any] | None = None) -> Iterable[PredictionResult]:
        results = []
        for request in batch:  # sequential: the rate limiter paces them anyway
            response = model.complete(request)
            Metrics.counter(METRICS_NAMESPACE, "llm_" + response.status.replace(":", "_")).inc()
            Metrics.counter(METRICS_NAMESPACE, "llm_prompt_tokens").inc(response.prompt_tokens)
            Metrics.counter(METRICS_NAMESPACE, "llm_completion_tokens").inc(response.completion_tokens)
            results.append(PredictionResult(example=request, inference=response, model_id=model.model))
        return results

    def get_num_bytes(self, batch: Sequence[LLMRequest]) -> int:
        return sum(len(r.system.encode()) + len(r.prompt.encode()) for r in batch)  # cheaper than pickling

    def batch_elements_kwargs(self) -> Mapping[str, Any]:
        return {"min_batch_size": 1, "max_batch_size": max(1, self.config.batch_size)}

    def share_model_across_processes(self) -> bool:
        return False  # an HTTP client is cheap; sharing would proxy every call through another process


def _pair(result: PredictionResult) -> tuple[Any, Any]:
    return result.example, result.inference


class Complete(beam.PTransform):
    """PCollection[LLMRequest] -> PCollection[(LLMRequest, LLMResponse)], one pair per request."""

    def __init__(self, config: LLMConfig, backend_factory: Callable[[LLMConfig], Backend] | None = None):
        super().__init__()
        self.config, self.backend_factory = config, backend_factory

    def expand(self, requests):
        handler = BackendModelHandler(self.config, self.backend_factory)
        return (
            requests
            | "RunInference" >> RunInference(handler)
            | "Pairs" >> beam.Map(_pair).with_output_types(Any)  # declared: no bytecode inference per build
        )
