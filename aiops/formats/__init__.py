"""Learnt log formats: the pattern library, the heuristic inducer and the propose/validate loop.

Lines that ``--format auto`` does not recognise are sampled per source by ParseLogs
(``format_samples``); :func:`learn_formats` proposes a format for each new source, validates
it on held-back lines and adds it to the :class:`FormatLibrary`, whose entries the parser then
tries first for that source.

Example::

    >>> from aiops.formats import FormatLibrary, HeuristicProposer, learn_formats
    >>> lib = FormatLibrary("/tmp/aiops-doc/formats.json")
    >>> lines = [f"|2026-11-22T10:00:{s:02d}Z|WARN|billing|invoice {s} overdue" for s in range(30)]
    >>> [e.pattern for e in learn_formats({"/logs/billing/b-1.log": lines}, lib, HeuristicProposer())]
    ['\\\\|<Timestamp>\\\\|<Level>\\\\|<Component>\\\\|<Content>']
"""

from typing import Any

from aiops.formats.library import (
    FormatEntry,
    FormatLibrary,
    FormatLibraryError,
    library_path_next_to,
    source_key,
)

_LAZY = ("HeuristicProposer", "LLMProposer", "learn_formats", "propose_and_validate")


def __getattr__(name: str) -> Any:
    # The parse stage imports this package on every worker; the learning side (and its
    # aiops.llm import) loads only when someone asks for it.
    if name in _LAZY:
        from aiops.formats import learn

        return getattr(learn, name)
    raise AttributeError(f"module 'aiops.formats' has no attribute {name!r}")


__all__ = ["FormatEntry", "FormatLibrary", "FormatLibraryError", "HeuristicProposer", "LLMProposer",
           "learn_formats", "library_path_next_to", "propose_and_validate", "source_key"]
