"""The local runner: Beam's FnApiRunner whose SDK worker subprocesses run ``aiops.worker``."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions

from aiops.local_runner import LocalRunner, local_runner


def _main_module(_) -> str:
    import sys

    spec = getattr(sys.modules["__main__"], "__spec__", None)
    return spec.name if spec else "?"


def test_named_runner_is_left_to_beam():
    assert local_runner(PipelineOptions(["--runner", "DataflowRunner"]), ["--runner", "DataflowRunner"]) == (None, False)


def test_default_is_multi_processing_on_every_core():
    options = PipelineOptions([])
    runner, local = local_runner(options, [])
    direct = options.view_as(DirectOptions)
    assert isinstance(runner, LocalRunner) and local
    assert direct.direct_running_mode == ("multi_processing" if direct.direct_num_workers > 1 else "in_memory")


def test_one_worker_runs_in_process():
    argv = ["--direct_num_workers", "1"]
    options = PipelineOptions(argv)
    local_runner(options, argv)
    assert options.view_as(DirectOptions).direct_running_mode == "in_memory"


def test_worker_processes_run_aiops_worker_and_exit(tmp_path):
    argv = ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]
    options = PipelineOptions(argv)
    runner, _ = local_runner(options, argv)
    out = tmp_path / "mains.txt"
    with beam.Pipeline(runner=runner, options=options) as p:
        (p | beam.Create(range(4)) | beam.Map(_main_module) | beam.combiners.ToList()
         | beam.Map(lambda names: out.write_text("\n".join(sorted(set(names))))))
    assert out.read_text() == "aiops.worker"
