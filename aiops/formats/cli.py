"""``aiops formats list|show ID|remove ID``: inspect and prune the pattern library of learnt formats.

The library is ``--store PATH`` (alias ``--library PATH``), or ``DIR/_store/formats.json``
given ``--output DIR`` (the batch job's output directory). IDs may be abbreviated to any
unique prefix. A missing library or an unknown id is a one-line error with exit code 2.

Example::

    aiops formats list --output out/
    aiops formats show 3f2a9c1d --store gs://bucket/out/_store/formats.json
    aiops formats remove 3f2a9c1d --output out/
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from apache_beam.io.filesystems import FileSystems

from aiops.formats.library import LIBRARY_FILE, FormatEntry, FormatLibrary, FormatLibraryError

PROG = "aiops formats"


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=PROG, description="Inspect and prune the learnt log formats.")
    ap.add_argument("action", choices=("list", "show", "remove"))
    ap.add_argument("id", nargs="?", help="entry id (or a unique prefix) for show/remove")
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--store", "--library", dest="store", metavar="PATH", help="the formats.json file")
    where.add_argument("--output", metavar="DIR", help="a batch output directory: DIR/_store/formats.json")
    return ap


def _list(lib: FormatLibrary, out: TextIO) -> None:
    rows = [("ID", "SOURCE", "KIND", "SHARE", "LINES", "PROPOSER", "CREATED", "PATTERN")]
    for e in lib.entries:
        pattern = e.pattern if len(e.pattern) <= 60 else e.pattern[:57] + "..."
        rows.append((e.id, e.source_key, e.kind, f"{e.validated_share:.1%}", str(e.sample_size), e.proposer,
                     e.created, pattern))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1] + "\n")
    out.write(f"({len(lib)} format{'s' if len(lib) != 1 else ''})\n")


def _show(e: FormatEntry, out: TextIO) -> None:
    for name in ("id", "source_key", "kind", "pattern", "created", "validated_share", "sample_size", "proposer"):
        out.write(f"{name + ':':<17}{getattr(e, name)}\n")
    out.write("examples:\n")
    for line in e.examples:
        out.write(f"  {line}\n")


def _fail(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.action != "list" and not args.id:
        return _fail(f"{args.action} needs an ID")
    path = args.store or FileSystems.join(args.output, "_store", LIBRARY_FILE)
    lib = FormatLibrary(path)
    try:
        if not lib.exists():
            return _fail(f"no format library at {path}")
        lib.load()
    except FormatLibraryError as e:
        return _fail(str(e))
    if args.action == "list":
        _list(lib, sys.stdout)
        return 0
    entry = lib.get(args.id)
    if entry is None:
        return _fail(f"no format with id {args.id!r} (or the prefix is ambiguous) in {path}")
    if args.action == "show":
        _show(entry, sys.stdout)
        return 0
    lib.remove(entry.id)
    try:
        lib.save()
    except FormatLibraryError as e:
        return _fail(str(e))
    print(f"removed {entry.id} ({entry.source_key})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
