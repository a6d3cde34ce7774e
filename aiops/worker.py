"""SDK worker process of the local runner: Beam's ``sdk_worker_main``, then an immediate exit.

The runner starts one per core (see :mod:`aiops.local_runner`) with the control, logging
and options descriptors in its environment, exactly as for Beam's own module.

Example (what the runner runs; it sets CONTROL_API_SERVICE_DESCRIPTOR and friends)::

    python -m aiops.worker
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    from apache_beam.runners.worker import sdk_worker_main

    sdk_worker_main.main(sys.argv)  # returns once the runner closes the control channel
    sys.stdout.flush()
    sys.stderr.flush()
    # Why: the harness has flushed its logs and every bundle is finished; tearing down the
    # interpreter (modules, Arrow and DuckDB state) took ~0.25 s a worker, and the runner
    # waits for its workers one after the other.
    os._exit(0)


if __name__ == "__main__":
    main()
