"""Sample data for demos, tests and benchmarks: a realistic multi-service day of logs and damaged inputs.

``generate`` lives in :mod:`aiops.sample.generator` (CLI ``aiops sample``), ``write_damaged``
in :mod:`aiops.sample.damaged`. They are imported lazily so ``python -m aiops.sample.generator``
runs without a double import.

Example::

    >>> import tempfile, pathlib
    >>> from aiops.sample import generate, write_damaged
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> gt = generate(root / "logs", lines=2000)
    >>> expected = write_damaged(root / "damaged")
"""

from __future__ import annotations

from typing import Any

__all__ = ["SERVICES", "GroundTruth", "generate", "write_damaged"]


def __getattr__(name: str) -> Any:
    if name == "write_damaged":
        from aiops.sample.damaged import write_damaged

        return write_damaged
    if name in ("SERVICES", "GroundTruth", "generate"):
        from aiops.sample import generator

        return getattr(generator, name)
    raise AttributeError(name)
