"""SDK workers forked from the launcher, so a local run does not pay a fresh interpreter per core.

A new SDK worker process spends ~1 s of CPU importing Beam, pandas, pyarrow and this project
before it can take work. The launcher has imported all of it already, so :meth:`WorkerPool.fork`
forks the workers from it before the pipeline starts (before any thread or gRPC channel exists),
and each child waits on a socket. When the runner wants a worker, :class:`ForkedWorkerHandler`
sends the child the descriptors Beam's own subprocess worker gets in its environment, plus the
runner's current stdout and stderr; the child runs Beam's ``sdk_worker_main`` and exits.
A child that was not used exits when the pool closes; with no idle child left the handler
starts a normal subprocess worker (``python -m aiops.worker``).

Example::

    pool = WorkerPool.fork(2)          # in the launcher, single-threaded, before the pipeline
    runner = LocalRunner(pool)         # its multi-process workers come from the pool
    ...
    pool.close()
"""

from __future__ import annotations

import gc
import json
import os
import socket
import sys
import threading

from apache_beam.portability.api import endpoints_pb2
from apache_beam.runners.portability.fn_api_runner.worker_handlers import GrpcWorkerHandler, WorkerHandler
from google.protobuf import json_format, text_format

FORKED_URN = "aiops:env:forked_worker:v1"
_POOLS: dict[str, WorkerPool] = {}
_MAX_MESSAGE = 1 << 22


class WorkerPool:
    """Idle forked children, each waiting on its end of a socket pair."""

    def __init__(self) -> None:
        self.key = f"{os.getpid()}-{id(self)}"
        self._idle: list[tuple[int, socket.socket]] = []
        self._lock = threading.Lock()

    @classmethod
    def fork(cls, n: int, preload: tuple[str, ...] = ()) -> WorkerPool | None:
        """Fork ``n`` waiting workers; None when forking is unsafe here (threads running, no fork).

        ``preload``: modules the job's DoFns import lazily; each child imports them while it waits
        (the launcher is still building the pipeline then, so they cost no wall time).
        """
        if n < 1 or not hasattr(os, "fork") or threading.active_count() > 1:
            return None
        pool = cls()
        sys.stdout.flush()
        sys.stderr.flush()
        # The launcher's objects (every imported module) go to a generation the collector never
        # scans: a child's collections then neither walk them nor write to their pages, which
        # would copy those pages into every child (CPython's recommendation for fork without exec).
        gc.freeze()
        for _ in range(n):
            parent, child = socket.socketpair()
            pid = os.fork()
            if pid == 0:  # the child: never returns
                parent.close()
                for _, other in pool._idle:
                    other.close()  # an idle sibling's socket: else that sibling never sees its EOF
                _wait_and_serve(child, preload)
            child.close()
            pool._idle.append((pid, parent))
        gc.unfreeze()  # the launcher itself goes on as before
        _POOLS[pool.key] = pool
        return pool

    def take(self) -> tuple[int, socket.socket] | None:
        with self._lock:
            return self._idle.pop(0) if self._idle else None

    def close(self) -> None:
        """Release the idle children (they exit on EOF) and reap them."""
        _POOLS.pop(self.key, None)
        with self._lock:
            idle, self._idle = self._idle, []
        for pid, sock in idle:
            sock.close()
            os.waitpid(pid, 0)


def _wait_and_serve(sock: socket.socket, preload: tuple[str, ...]) -> None:
    """The forked child: wait for its descriptors (or EOF), run the SDK harness, exit."""
    import importlib
    import random

    random.seed()  # do not share the launcher's random sequence
    code = 0
    try:
        for name in preload:
            try:
                importlib.import_module(name)
            except ImportError:  # the DoFn that needs it reports the error, with its context
                pass
        gc.freeze()  # the preloaded modules too
        message, fds, _, _ = socket.recv_fds(sock, _MAX_MESSAGE, 2)
        if not message:
            os._exit(0)  # the pool closed without using this worker
        while chunk := sock.recv(_MAX_MESSAGE):  # a stream socket may deliver the message in parts
            message += chunk
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        os.environ.update(json.loads(message.decode()))
        from apache_beam.runners.worker import sdk_worker_main

        sdk_worker_main.main([])
    except BaseException:  # a child must never return into the launcher's code
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


@WorkerHandler.register_environment(FORKED_URN, bytes)
class ForkedWorkerHandler(GrpcWorkerHandler):
    """Starts a worker by handing a forked child what Beam's subprocess worker gets in its environment."""

    def __init__(self, payload: bytes, state, provision_info, grpc_server):
        super().__init__(state, provision_info, grpc_server)
        self._pool = _POOLS.get(payload.decode())
        self._child: tuple[int, socket.socket] | None = None
        self._fallback: threading.Thread | None = None

    def start_worker(self) -> None:
        self._child = self._pool.take() if self._pool else None
        if self._child is None:
            self._start_subprocess()
            return
        env = {
            "CONTROL_API_SERVICE_DESCRIPTOR": text_format.MessageToString(
                endpoints_pb2.ApiServiceDescriptor(url=self.control_address)),
            "LOGGING_API_SERVICE_DESCRIPTOR": text_format.MessageToString(self.logging_api_service_descriptor()),
            "PIPELINE_OPTIONS": json_format.MessageToJson(self.provision_info.provision_info.pipeline_options),
            "WORKER_ID": self.worker_id,
        }
        _, sock = self._child
        socket.send_fds(sock, [json.dumps(env).encode()], [1, 2])
        sock.close()  # the end of the message

    def _start_subprocess(self) -> None:
        from apache_beam.runners.portability import local_job_service

        from aiops.local_runner import WORKER_COMMAND

        worker = local_job_service.SubprocessSdkWorker(
            WORKER_COMMAND.encode(), self.control_address, self.provision_info, self.worker_id)
        self._fallback = threading.Thread(name="run_worker", target=worker.run)
        self._fallback.start()

    def stop_worker(self) -> None:
        if self._child is not None:
            os.waitpid(self._child[0], 0)  # the child exits once the runner closed its control channel
        elif self._fallback is not None:
            self._fallback.join()
