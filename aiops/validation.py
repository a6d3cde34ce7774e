"""``aiops validate``: the data-quality suite of an output directory (Great Expectations 1.x).

Loads only the needed columns of each table through DuckDB (aiops.query.connect),
then runs the expectations of ``aiops.expectations`` on pandas frames in an
ephemeral GX context. The report is embedded into the run manifest
(``ValidationReport.to_dict()``).

Which runs are checked for the accounting identity: with ``run_id``, that run
(its manifest must exist, or be passed as ``manifest``); without, every run that
has rows in events/dead_letter plus, per ``batch_key``, the latest manifest
whose status is not "failed" (a re-run of the same inputs replaces the files of
earlier runs, whose manifests then no longer add up).

Examples::

    aiops validate demo-output                 # every run; exit 0 pass, 1 fail, 2 bad args
    aiops validate demo-output --run-id R --json

    >>> from aiops.validation import validate_output
    >>> report = validate_output("demo-output")          # doctest: +SKIP
    >>> report.success, [r.check for r in report.failures()]  # doctest: +SKIP
    (True, [])
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

from aiops import outputs
from aiops.expectations import CHECKS, FRAMES, Check, Frame
from aiops.query_format import jsonable

_MAX_SHOWN = 5
_MANIFEST_COLUMNS = (
    "run_id",
    "status",
    "batch_key",
    "finished_at",
    "lines_read",
    "blank",
    "events",
    "dead_letter",
)


@dataclass
class CheckResult:
    table: str
    check: str  # stable id, e.g. "accounting_identity"
    columns: str
    expectation: str  # GX expectation type, e.g. "expect_column_values_to_be_between"
    success: bool
    observed: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        obs = self.observed
        if "error" in obs:
            return f"error: {obs['error']}"
        if not obs.get("unexpected_count"):
            return f"{obs.get('element_count', 0)} rows"
        shown = obs.get("unexpected_rows") or obs.get("partial_unexpected_list")
        return f"{obs['unexpected_count']} of {obs.get('element_count')} unexpected, e.g. {json.dumps(shown)}"


@dataclass
class ValidationReport:
    success: bool
    run_id: str | None
    results: list[CheckResult] = field(default_factory=list)

    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (embedded into the run manifest as ``validation``)."""
        return {
            "success": self.success,
            "run_id": self.run_id,
            "checks": len(self.results),
            "failed": len(self.failures()),
            "results": [asdict(r) for r in self.results],
        }


def _manifests_frame(root: str, run_id: str | None, manifest: dict | None):
    import pandas as pd

    manifests = {m.get("run_id"): m for m in outputs.load_manifests(root)}
    if manifest is not None:
        manifests[manifest.get("run_id")] = manifest
    rows = [{c: m.get(c) for c in _MANIFEST_COLUMNS} for m in manifests.values() if m.get("run_id")]
    if run_id is None:  # only the latest non-failed manifest per batch_key
        latest: dict[Any, dict] = {}
        for row in sorted(
            (r for r in rows if r["status"] != "failed"), key=lambda r: str(r["finished_at"] or "")
        ):
            latest[row["batch_key"] or ("run", row["run_id"])] = row
        rows = list(latest.values())
    frame = pd.DataFrame(rows, columns=list(_MANIFEST_COLUMNS))
    for column in ("lines_read", "blank", "events", "dead_letter"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    return frame[["run_id", "status", "lines_read", "blank", "events", "dead_letter"]]


def _observed(result: dict[str, Any], df, frame: Frame) -> dict[str, Any]:
    observed: dict[str, Any] = {
        k: result[k]
        for k in ("observed_value", "element_count", "unexpected_count", "missing_count")
        if k in result
    }
    if result.get("unexpected_count"):
        observed["partial_unexpected_list"] = result.get("partial_unexpected_list", [])[:_MAX_SHOWN]
        index = result.get("partial_unexpected_index_list") or []
        if frame.key and index:
            columns = list(dict.fromkeys([*frame.key, *[c for c in df.columns if c.endswith("difference")]]))
            observed["unexpected_rows"] = df.loc[index[:_MAX_SHOWN], columns].to_dict("records")
    return jsonable(observed)


_CONTEXT: list = []  # (gx module, ephemeral context), made once per process: GX is slow to start


def _context():
    if not _CONTEXT:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        )
        context = gx.get_context(mode="ephemeral", project_config=config)
        _CONTEXT.append((gx, context))
    return _CONTEXT[0]


def _run_check(gx, batch, check: Check, df, frame: Frame) -> CheckResult:
    expectation = getattr(gx.expectations, check.expectation)(**check.kwargs)
    result = CheckResult(frame.table, check.name, check.columns, expectation.expectation_type, False)
    try:
        validation = batch.validate(expectation, result_format="COMPLETE" if len(df) <= 1000 else "SUMMARY")
    except Exception as exc:  # a broken expectation must not hide the rest of the report
        result.observed = {"error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
        return result
    info = validation.exception_info or {}
    if info.get("raised_exception"):
        result.observed = {"error": str(info.get("exception_message", "")).splitlines()[0]}
        return result
    result.success = bool(validation.success)
    result.observed = _observed(validation.result or {}, df, frame)
    return result


def validate_output(root: str, run_id: str | None = None, manifest: dict | None = None) -> ValidationReport:
    """Run the suite over ``root`` for ``run_id`` (None: every run present).

    ``manifest`` replaces the manifest file of its run (for a job that validates
    before writing its manifest). Raises ``outputs.OutputDirError`` for a missing root.
    """
    from aiops.query import connect

    con = connect(root)
    con.register("manifests", _manifests_frame(root, run_id, manifest))
    gx, context = _context()
    source = context.data_sources.add_or_update_pandas("aiops")
    results: list[CheckResult] = []
    for frame in FRAMES:
        df = con.execute(frame.sql, {"run_id": run_id} if "$run_id" in frame.sql else None).df()
        batch = source.add_dataframe_asset(frame.name).add_batch_definition_whole_dataframe("all")
        batch = batch.get_batch(batch_parameters={"dataframe": df})
        results.extend(_run_check(gx, batch, c, df, frame) for c in CHECKS if c.frame == frame.name)
    return ValidationReport(all(r.success for r in results), run_id, results)


def format_report(report: ValidationReport) -> str:
    """One line per check and a closing verdict."""
    lines = []
    for r in report.results:
        status = "PASS" if r.success else "FAIL"
        lines.append(f"{status}  {r.table:<11} {r.check:<26} {r.columns:<24} {r.summary()}")
    failed = len(report.failures())
    verdict = "OK" if report.success else f"FAILED ({failed} of {len(report.results)} checks)"
    lines.append(f"aiops validate: {verdict}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``aiops validate DIR [--run-id R] [--json]``: 0 all pass, 1 any fails, 2 bad arguments."""
    parser = argparse.ArgumentParser(
        prog="aiops validate", description="Data-quality checks of an output dir."
    )
    parser.add_argument("dir", help="output directory of the batch job")
    parser.add_argument("--run-id", help="check only this run (default: every run present)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        report = validate_output(args.dir, args.run_id)
    except outputs.OutputDirError as exc:
        print(f"aiops validate: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        sys.stdout.write(format_report(report))
    return 0 if report.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
