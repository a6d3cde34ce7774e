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


_FORKED_RUN = r"""
import json, os, sys
import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from aiops.local_runner import LocalRunner, local_runner
from aiops.worker_pool import WorkerPool

children = int(sys.argv[1])
argv = ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]
options = PipelineOptions(argv)
if children == 2:
    runner, _ = local_runner(options, argv, fork=True, preload=("xml.dom.minidom", "no.such.module"))
else:
    runner = LocalRunner(WorkerPool.fork(children))
out = sys.argv[2]

def parent(_):
    return os.getppid() if "xml.dom.minidom" in sys.modules or children != 2 else -1

with beam.Pipeline(runner=runner, options=options) as p:
    (p | beam.Create(range(8)) | beam.Reshuffle() | beam.Map(parent) | beam.combiners.ToList()
     | beam.Map(lambda ppids: open(out, "w").write(json.dumps(sorted(set(ppids))))))
runner.pool.close()
print(json.dumps({"pid": os.getpid()}))
"""


def _forked_run(tmp_path, children: int) -> tuple[int, list[int]]:
    import json
    import subprocess
    import sys

    out = tmp_path / "ppids.json"
    proc = subprocess.run([sys.executable, "-c", _FORKED_RUN, str(children), str(out)], capture_output=True, text=True,
                          timeout=120, check=True)
    pid = json.loads(proc.stdout.strip().splitlines()[-1])["pid"]
    return pid, json.loads(out.read_text())


def test_forked_workers_are_children_of_the_launcher(tmp_path):
    pid, ppids = _forked_run(tmp_path, 2)
    assert ppids == [pid]  # a subprocess worker's parent would be the shell Beam starts it with
    # (and -1 would mean a worker had not imported the preloaded module; a missing one is skipped)


def test_a_missing_forked_worker_is_started_as_a_subprocess(tmp_path):
    pid, ppids = _forked_run(tmp_path, 1)
    assert len(ppids) == 2 and pid in ppids


_UNUSED = r"""
import os
from aiops.worker_pool import WorkerPool

pool = WorkerPool.fork(2)
pids = [pid for pid, _ in pool._idle]
pool.close()
alive = []
for pid in pids:
    try:
        os.kill(pid, 0)
        alive.append(pid)
    except ProcessLookupError:
        pass
print(len(pids), alive)
"""


def test_an_unused_pool_closes_and_reaps_its_children():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _UNUSED], capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.strip() == "2 []"
