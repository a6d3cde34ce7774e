"""Flags shared by the batch and the streaming job, in one PipelineOptions class.

Beam parses every direct PipelineOptions subclass's flags with one argparse parser, so a flag
two job classes both defined would conflict: the flags the jobs share live here, and each job's
own class (``BatchOptions``, ``StreamOptions``) adds only its own. :func:`job_flags` merges the
views a launcher reads.

Example::

    >>> from apache_beam.options.pipeline_options import PipelineOptions
    >>> job_flags(PipelineOptions(["--output", "out", "--window", "1m"])).window
    '1m'
"""

from __future__ import annotations

from types import SimpleNamespace

from apache_beam.options.pipeline_options import PipelineOptions


def add_llm_args(parser) -> None:
    """The flags of the summarising step (shared by every pipeline that summarises)."""
    parser.add_argument("--llm", default="offline", choices=["offline", "openai", "vertex", "none"],
                        help="Who summarises flagged windows: offline (default: an extractive summary, no network), "
                             "openai (any OpenAI-compatible server), vertex (Gemini on Vertex AI), none (skip).")
    parser.add_argument("--llm_model", "--llm-model", dest="llm_model", default="",
                        help="Model name (default gpt-4o-mini for openai, gemini-2.0-flash for vertex).")
    parser.add_argument("--llm_base_url", "--llm-base-url", dest="llm_base_url", default="",
                        help="openai: server root, e.g. http://localhost:8000 or https://api.openai.com.")
    parser.add_argument("--llm_api_key_env", "--llm-api-key-env", dest="llm_api_key_env", default="OPENAI_API_KEY",
                        help="openai: environment variable that holds the API key (never a flag value).")
    parser.add_argument("--vertex_project", "--vertex-project", dest="vertex_project", default="",
                        help="vertex: GCP project (default: $GOOGLE_CLOUD_PROJECT); credentials: application default.")
    parser.add_argument("--vertex_location", "--vertex-location", dest="vertex_location", default="us-central1",
                        help="vertex: region.")
    parser.add_argument("--llm_max_requests", "--llm-max-requests", dest="llm_max_requests", type=int, default=50,
                        help="Per-run budget of requests (most anomalous windows first; the rest get offline summaries).")
    parser.add_argument("--llm_max_tokens", "--llm-max-tokens", dest="llm_max_tokens", type=int, default=200_000,
                        help="Per-run (per worker) budget of prompt+completion tokens.")
    parser.add_argument("--llm_timeout", "--llm-timeout", dest="llm_timeout", type=float, default=30.0,
                        help="Seconds per HTTP attempt.")
    parser.add_argument("--llm_retries", "--llm-retries", dest="llm_retries", type=int, default=3,
                        help="Retries after the first attempt on timeouts, 429 and 5xx (exponential backoff).")
    parser.add_argument("--llm_rate", "--llm-rate", dest="llm_rate", type=float, default=2.0,
                        help="Requests per second per worker.")
    parser.add_argument("--llm_max_prompt_chars", "--llm-max-prompt-chars", dest="llm_max_prompt_chars", type=int,
                        default=24_000, help="Prompts are cut to this many characters.")
    parser.add_argument("--redact", action="append", default=[], metavar="RULE",
                        help="Redaction rule changes, repeatable: --redact=-email (off), +ip / +username (on), "
                             "name=REGEX (an extra rule).")


class JobOptions(PipelineOptions):
    """Flags of both ``aiops batch`` and ``aiops stream``."""

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--output", default=None, help="Output directory (local, gs://, s3://) holding the tables.")
        parser.add_argument("--format", default="auto",
                            help="auto (detect per line), raw (one event per line), or a header SPEC such as "
                                 "'<Date> <Time> <Level> <Component>: <Content>'.")
        parser.add_argument("--templates", default=None,
                            help="Template store to load and extend (default: OUTPUT/_store/templates.json.gz).")
        parser.add_argument("--window", default=None,
                            help="Window length, e.g. 1m, 5m, 1h (default: 5m for aiops batch, 1m for aiops stream).")
        parser.add_argument("--run_id", "--run-id", dest="run_id", default=None,
                            help="Run id (default: UTC start time plus a random suffix).")
        parser.add_argument("--anomaly", action="append", default=[], metavar="KEY=VALUE",
                            help="Override an anomaly threshold or baseline setting (repeatable), e.g. "
                                 "--anomaly frequency_z=8; see the README for the list and defaults.")
        add_llm_args(parser)


def job_flags(options: PipelineOptions, *job_classes: type) -> SimpleNamespace:
    """The shared flags and those of ``job_classes`` as one namespace."""
    merged: dict = {}
    for cls in (JobOptions, *job_classes):
        merged.update(options.view_as(cls).get_all_options(current_only=True))  # type: ignore[arg-type]
    return SimpleNamespace(**merged)
