"""The ``aiops`` command: one entry point, one sub-command per job or tool.

Example::

    aiops batch --input 'logs/*/*' --output out/
    aiops stream --watch 'incoming/*/*.log' --output out/ --duration 10m
    aiops query out/ --name top_templates
    aiops validate out/
    aiops sample --output logs/
    aiops eval parsing --data ../shared/data/loghub-2k
    aiops eval anomaly --data ../shared/data
    aiops formats list --output out/
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

COMMANDS = {
    "batch": ("aiops.launcher", "run the batch job over log files"),
    "stream": ("aiops.stream_launcher", "run the streaming job over Pub/Sub or a watched folder"),
    "query": ("aiops.query", "run SQL or a named query over an output directory"),
    "validate": ("aiops.validation", "run the data-quality suite over an output directory"),
    "sample": ("aiops.sample.generator", "generate a realistic multi-service sample of logs"),
    "eval": (None, "accuracy harnesses: 'aiops eval parsing|anomaly --data DIR'"),
    "formats": ("aiops.formats.cli", "list, show or remove learnt log formats: 'aiops formats list --output DIR'"),
}
EVALS = {"parsing": "aiops.eval.parsing", "anomaly": "aiops.eval.anomaly"}


def _usage() -> str:
    rows = "\n".join(f"  {name:<9} {help_}" for name, (_, help_) in COMMANDS.items())
    return f"usage: aiops COMMAND [ARGS]\n\ncommands:\n{rows}\n\n'aiops COMMAND --help' for the options of one."


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Beam logs a harmless warning about optional GCP clients on import; keep the terminal clean.
    logging.getLogger().setLevel(logging.ERROR)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"aiops: error: unknown command {command!r}\n{_usage()}", file=sys.stderr)
        return 2
    module_name = COMMANDS[command][0] or ""
    if command == "eval":
        if not rest or rest[0] not in EVALS:
            print(f"aiops eval: error: choose one of {', '.join(EVALS)}", file=sys.stderr)
            return 2
        module_name, rest = EVALS[rest[0]], rest[1:]
    module = importlib.import_module(module_name)
    return int(module.main(rest) or 0)


def entry() -> None:
    """The console script: :func:`main`, then an exit without the interpreter's teardown."""
    code = main()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # a closed pipe (``aiops query ... | head``): nothing more to say
            pass
    # Why: every command has closed what it wrote by now; unloading Beam, gRPC, Arrow and DuckDB
    # took ~0.25 s at the end of every batch run.
    os._exit(code)


if __name__ == "__main__":
    entry()
