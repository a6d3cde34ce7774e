"""TemplateStream: a live template model on every worker, one learner for what it cannot match.

Every worker assigns templates with a model built from the persisted template store (the one the
batch job writes) and reloads it every ``refresh_s`` seconds. Events whose masked message the
model cannot match go, keyed to one learner, to :class:`LearnTemplatesFn`: it keeps the
current model of each service in state (seeded from the store), learns the new messages with the
batch job's learner (:func:`aiops.templating.learner.learn`, the stored templates as seeds),
templates those events, and publishes the models back to the store at most every ``publish_s``
seconds and once more when the input ends. Template ids are the stable hash of the template
text, so a template has the id the batch job gives it.

Example (see tests/test_stream.py)::

    templated = batches | TemplateStream(store_path, run_id, refresh_s=30, publish_s=30)
"""

from __future__ import annotations

import time

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils import shared

from aiops.templating.learner import (
    Observation,
    StoredTemplate,
    TemplateConfig,
    TemplateInfo,
    learn,
    update_store,
)
from aiops.templating.model import ServiceModel
from aiops.templating.store import FileTemplateStore
from transforms.parse import Observations
from transforms.stream_parse import EventBatch
from transforms.templates import templated

LEARNER_KEY = "learner"
STREAM_BATCH_KEY = "stream"  # the key of streamed events' counts in the template store


def models_from_store(stored: list[StoredTemplate]) -> dict[str, ServiceModel]:
    """One model per service holding exactly the stored templates (ids unchanged; no re-clustering)."""
    by_service: dict[str, list[TemplateInfo]] = {}
    for t in sorted(stored, key=lambda t: (t.service, t.template)):
        by_service.setdefault(t.service, []).append(
            TemplateInfo(t.template_id, t.template, t.first_seen, t.last_seen, 0, t.example))
    return {svc: ServiceModel(svc, infos, {}) for svc, infos in by_service.items()}


def with_templates(batch: EventBatch, model: ServiceModel, run_id: str) -> EventBatch:
    """The batch templated by ``model`` (which knows all its messages), with its templates' first-seen times."""
    table = templated(batch.table, {batch.service: model}, run_id)
    first = {t.template_id: t.first_seen for t in model.templates[: model.learned]}
    ids = pc.unique(table.column("template_id")).to_pylist()
    return batch._replace(table=table, first_seen={tid: first.get(tid, 0) for tid in ids})


class AssignTemplatesFn(beam.DoFn):
    """EventBatch (parsed) -> templated EventBatch; tagged ``unmatched``: (LEARNER_KEY, EventBatch)."""

    def __init__(self, store_path: str, run_id: str, refresh_s: float):
        self.store_path, self.run_id, self.refresh_s = store_path, run_id, refresh_s
        self.unmatched = Metrics.counter("aiops", "events_to_learner")
        # One model set per process and refresh period, shared by every instance of this DoFn
        # (runners may set a DoFn up per bundle; loading the store each time would dominate).
        self.shared = shared.Shared()

    def _models(self) -> dict[str, ServiceModel]:
        # processing time: how old the model is, never an event's time
        period = int(time.monotonic() // self.refresh_s) if self.refresh_s > 0 else time.monotonic_ns()
        return self.shared.acquire(lambda: _Models(models_from_store(FileTemplateStore(self.store_path).load())),
                                   tag=f"{self.store_path}@{period}")

    def process(self, batch: EventBatch):
        models = self._models()
        model = models.setdefault(batch.service, ServiceModel(batch.service, [], {}))
        idx = model.assign_array(batch.table.column("masked"))
        known = pc.less(idx, model.learned)
        if pc.all(known).as_py():
            yield with_templates(batch, model, self.run_id)
            return
        matched = batch.table.filter(known)
        rest = batch.table.filter(pc.invert(known))
        if matched.num_rows:
            yield with_templates(batch._replace(table=matched), model, self.run_id)
        self.unmatched.inc(rest.num_rows)
        yield beam.pvalue.TaggedOutput("unmatched", (LEARNER_KEY, batch._replace(table=rest)))


class _Models(dict):
    """A dict Beam's ``Shared`` can hold (it needs a weak-referenceable object)."""


def observations(table: pa.Table, rows: pa.Array) -> list[Observation]:
    """Distinct masked messages of the selected rows (one service) with count, first and last time and an example."""
    found = Observations()
    found.add(table.filter(rows))
    return [Observation(masked, *stats) for (_, masked), stats in found.rows.items()]


def as_seeds(model: ServiceModel) -> list[StoredTemplate]:
    return [StoredTemplate(model.service, t.template_id, t.template, t.first_seen, t.last_seen, {}, t.example)
            for t in model.templates[: model.learned]]


class LearnTemplatesFn(beam.DoFn):
    """(LEARNER_KEY, EventBatch) -> templated EventBatch: learns new messages, publishes the store."""

    MODELS = ReadModifyWriteStateSpec("models", PickleCoder())
    FINAL = TimerSpec("final_publish", TimeDomain.WATERMARK)

    def __init__(self, store_path: str, run_id: str, publish_s: float, config: TemplateConfig | None = None):
        self.store_path, self.run_id, self.publish_s = store_path, run_id, publish_s
        self.config = config or TemplateConfig()
        self.learned = Metrics.counter("aiops", "templates_learned_live")
        self.published = Metrics.counter("aiops", "template_store_publishes")

    def setup(self) -> None:
        self.store = FileTemplateStore(self.store_path)
        self.published_at = time.monotonic()

    def process(self, element, models=beam.DoFn.StateParam(MODELS), final=beam.DoFn.TimerParam(FINAL)):
        _, batch = element
        state = models.read() or {"models": {}, "dirty": False}
        model = state["models"].get(batch.service)
        if model is None:
            model = models_from_store(self.store.load()).get(batch.service) or ServiceModel(batch.service, [], {})
        idx = model.assign_array(batch.table.column("masked"))
        new = pc.greater_equal(idx, model.learned)
        if pc.any(new).as_py():
            before = model.learned
            model = learn(batch.service, observations(batch.table, new), as_seeds(model), self.config)
            self.learned.inc(max(0, model.learned - before))
            state["dirty"] = True
        state["models"][batch.service] = model
        yield with_templates(batch, model, self.run_id)
        if state["dirty"] and time.monotonic() - self.published_at >= self.publish_s:
            self._publish(state)
        models.write(state)
        final.set(GlobalWindow().max_timestamp())

    @on_timer(FINAL)
    def final_publish(self, models=beam.DoFn.StateParam(MODELS)):
        state = models.read()
        if state and state["dirty"]:
            self._publish(state)
            models.write(state)

    def _publish(self, state: dict) -> None:
        stored = self.store.load()
        self.store.save(update_store(stored, list(state["models"].values()), STREAM_BATCH_KEY))
        state["dirty"] = False
        self.published_at = time.monotonic()
        self.published.inc()


class TemplateStream(beam.PTransform):
    """Parsed EventBatch -> templated EventBatch (Event schema), the same ids as the batch job."""

    def __init__(self, store_path: str, run_id: str, refresh_s: float = 30.0, publish_s: float = 30.0):
        super().__init__()
        self.store_path, self.run_id, self.refresh_s, self.publish_s = store_path, run_id, refresh_s, publish_s

    def expand(self, batches):
        assigned = batches | "AssignTemplates" >> beam.ParDo(
            AssignTemplatesFn(self.store_path, self.run_id, self.refresh_s)).with_outputs("unmatched", main="known")
        learned = assigned.unmatched | "LearnNewTemplates" >> beam.ParDo(
            LearnTemplatesFn(self.store_path, self.run_id, self.publish_s))
        return (assigned.known, learned) | "FlattenTemplated" >> beam.Flatten()
