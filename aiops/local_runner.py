"""The local runner: Beam's FnApiRunner on every core, with SDK workers that start and stop fast.

``aiops batch`` without ``--runner`` runs here. The runner is Beam's own FnApiRunner in
``multi_processing`` mode (Prism, the default DirectRunner's first choice, downloads a binary
and fails offline); only the command its SDK worker subprocesses run is ours
(``python -m aiops.worker``: Beam's ``sdk_worker_main``, then an immediate exit).

Example::

    runner, local = local_runner(PipelineOptions(argv), argv)  # (None, False) when --runner is named
    beam.Pipeline(runner=runner, options=options)
"""

from __future__ import annotations

import os
import sys

import pyarrow as pa
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions
from apache_beam.portability import python_urns
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

from aiops.worker_pool import FORKED_URN, WorkerPool

BEAM_WORKER = b"-m apache_beam.runners.worker.sdk_worker_main"
WORKER_COMMAND = f"{sys.executable} -m aiops.worker"


class LocalRunner(FnApiRunner):
    """FnApiRunner whose multi-process workers come from a :class:`WorkerPool` of forked children
    when one is given, else are subprocesses running :mod:`aiops.worker` instead of Beam's module."""

    def __init__(self, pool: WorkerPool | None = None):
        super().__init__()
        self.pool = pool

    def run_via_runner_api(self, pipeline_proto, options):
        # FnApiRunner.run_pipeline hard-codes the worker command for multi_processing; the
        # environment is only data in the pipeline proto, so it is swapped here, before any worker starts.
        for env in pipeline_proto.components.environments.values():
            if env.urn == python_urns.SUBPROCESS_SDK and env.payload.endswith(BEAM_WORKER):
                if self.pool is not None:
                    env.urn, env.payload = FORKED_URN, self.pool.key.encode()
                else:
                    env.payload = WORKER_COMMAND.encode()
        return super().run_via_runner_api(pipeline_proto, options)


def local_runner(options: PipelineOptions, argv: list[str], fork: bool = False, preload: tuple[str, ...] = ()):
    """(runner, local): the runner the user named (None, False), else the local runner (LocalRunner, True).

    ``fork``: fork its multi-process workers now (call it single-threaded, with the job's modules
    imported; ``preload`` names modules its DoFns import lazily); the caller closes ``runner.pool``
    after the run.
    """
    if options.view_as(StandardOptions).runner:
        return None, False
    # Arrow's default allocator (mimalloc) keeps freed pages per thread, so a worker's memory grew
    # with its share of the input (`make bench`: +~60 MiB per worker from 1M to 2M lines); the
    # system allocator returns them, at the same speed. Set here for the launcher itself too: the
    # workers are forked from it, and Arrow chose its pool before this point (the variable alone
    # reaches only processes started later).
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    pool = getattr(pa, f"{os.environ['ARROW_DEFAULT_MEMORY_POOL']}_memory_pool", None)
    if pool is not None:
        pa.set_memory_pool(pool())

    direct = options.view_as(DirectOptions)
    in_memory = direct.direct_running_mode == "in_memory" and any(a.startswith("--direct_running_mode") for a in argv)
    if not any(a.startswith("--direct_num_workers") for a in argv):
        direct.direct_num_workers = 1 if in_memory else (os.cpu_count() or 1)
    if not any(a.startswith("--direct_running_mode") for a in argv):
        direct.direct_running_mode = "multi_processing" if direct.direct_num_workers > 1 else "in_memory"
    pool = None
    if fork and direct.direct_running_mode == "multi_processing":
        from apache_beam.runners.worker import sdk_worker_main  # noqa: F401  # imported once, in every child

        pool = WorkerPool.fork(direct.direct_num_workers, preload)
    return LocalRunner(pool), True
