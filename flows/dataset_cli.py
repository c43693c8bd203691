"""``akhbar compact`` and ``akhbar paths``: the dataset's upkeep and its files (issue 25)."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

EXIT_OK, EXIT_USAGE = 0, 2


def add_dataset_parsers(sub: argparse._SubParsersAction) -> None:
    """Add ``akhbar compact`` and ``akhbar paths`` to the CLI."""
    compact = sub.add_parser(
        "compact",
        help="rewrite a dataset's tables into large files sorted by date",
        description="Rewrite each table into files of about 128 MB, sorted by date (row "
        "groups and page index for pruning), published as a new version; older versions "
        "stay readable with --as-of while retention keeps them.",
    )
    compact.add_argument("out", help="dataset directory")
    compact.add_argument(
        "--before",
        metavar="DATE",
        type=_day,
        help="only rewrite parts committed before this day (YYYY-MM-DD, UTC)",
    )
    paths = sub.add_parser(
        "paths",
        help="print the files of one table in one version (for snapshot reads)",
        description="Print the part files of TABLE in the current version (or the last one "
        "of run --as-of), one per line: their _history names, which later commits leave in "
        "place, so a reader of this list (Spark, DuckDB) sees one version.",
    )
    paths.add_argument("out", help="dataset directory")
    paths.add_argument("table", help="files, articles, sentences, tokens, entities or stories")
    paths.add_argument("--as-of", metavar="RUN_ID", help="the version run RUN_ID left")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def _error(message: str) -> int:
    print(f"akhbar: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def cmd_compact(args: argparse.Namespace) -> int:
    from tasks.errors import ConfigError, LockError
    from tasks.store.compact import compact

    if not Path(args.out).is_dir():
        return _error(f"dataset directory {args.out!r} does not exist")
    try:
        result = compact(args.out, before=args.before)
    except (ConfigError, LockError) as exc:
        return _error(str(exc))
    if result.version is None:
        print(f"{args.out}: nothing to compact")
        return EXIT_OK
    for table, counts in result.tables.items():
        print(
            f"{table}: {counts['parts_before']} -> {counts['parts_after']} parts "
            f"({counts['rows']} rows rewritten)"
        )
    print(f"published version {result.version} (run {result.run_id})")
    return EXIT_OK


def cmd_paths(args: argparse.Namespace) -> int:
    from tasks.errors import ConfigError
    from tasks.schemas import TABLES
    from tasks.store import snapshot

    if not Path(args.out).is_dir():
        return _error(f"dataset directory {args.out!r} does not exist")
    if args.table not in TABLES:
        return _error(f"unknown table {args.table!r}; choose from {', '.join(TABLES)}")
    try:
        view = snapshot(args.out, as_of=args.as_of)
    except ConfigError as exc:
        return _error(str(exc))
    for path in view.paths(args.table):
        print(Path(path).resolve())
    return EXIT_OK
