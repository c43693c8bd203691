"""The ``akhbar`` command line.

``akhbar run`` validates every option before any work (exit 2 naming the bad
value), then runs the Prefect flow against the user's Prefect API or a local
temporary server, with a progress bar on a terminal and plain lines otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from flows.dataset_cli import add_dataset_parsers, cmd_compact, cmd_paths
from flows.train import add_train_parser, cmd_train

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="akhbar",
        description="Turn raw Arabic news files into clean, segmented, annotated Parquet datasets.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run the pipeline on news files",
        description="Run fetch -> clean -> segment -> annotate -> write on INPUTs and "
        "publish the files/articles/sentences/tokens/entities/stories tables under --out. "
        "Exit codes: 0 when the run completed (also when some inputs were quarantined "
        "or failed: see `akhbar status`), 1 when no input could be processed, 2 for a bad "
        "option or missing data, before any work.",
    )
    run.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="file, directory (recursive), glob, archive (.zip/.tar/.tar.gz) or URL",
    )
    run.add_argument(
        "--out", default="data/out", help="output dataset directory (default: data/out)"
    )
    run.add_argument(
        "--batch-size", type=int, default=200, help="input files per batch (default: 200)"
    )
    run.add_argument(
        "--no-analysis-cache",
        action="store_true",
        help="do not read or add to the persistent word-type analysis cache (same output)",
    )
    run.add_argument(
        "--workers",
        type=int,
        default=0,
        help="worker processes; 0 = one per core, fewer for a small input (default), "
        "1 = in-process",
    )
    run.add_argument(
        "--dask-address", default=None, help="run batches on this Dask scheduler (tcp://host:8786)"
    )
    run.add_argument(
        "--full-refresh", action="store_true", help="reprocess inputs even when unchanged"
    )
    run.add_argument(
        "--morphology",
        default="auto",
        help="auto (official CAMeL data if installed, else BAMA), bama, calima-msa-r13, "
        "none, or PATH.db",
    )
    run.add_argument(
        "--ner",
        default="auto",
        help="named-entity recognizer: auto (the shipped learned model, else rules), model, "
        "rules, camelbert, none, or a model DIR from `akhbar train ner` (default: auto)",
    )
    run.add_argument(
        "--dialect",
        default="auto",
        choices=["auto", "model", "rules", "camel-did", "none"],
        help="dialect identifier: auto (the shipped learned model, else rules), model, rules, "
        "camel-did, none (default: auto)",
    )
    run.add_argument("--no-dedup", action="store_true", help="do not flag duplicates")
    run.add_argument(
        "--dedup-threshold",
        type=float,
        default=0.8,
        help="Jaccard similarity of near duplicates (default: 0.8)",
    )
    run.add_argument(
        "--story-threshold",
        type=float,
        default=0.5,
        help="Jaccard similarity with a story's canonical article to join the story (default: 0.5)",
    )
    run.add_argument(
        "--story-containment",
        type=float,
        default=0.7,
        help="or share of the shorter text inside the other, for cut or expanded reposts "
        "(default: 0.7)",
    )
    run.add_argument(
        "--drop-duplicates",
        action="store_true",
        help="leave duplicates out of sentences/tokens/entities (still listed in articles)",
    )
    run.add_argument(
        "--max-file-mb", type=float, default=50.0, help="largest input read, in MB (default: 50)"
    )
    run.add_argument(
        "--min-arabic-ratio",
        type=float,
        default=0.5,
        help="least share of Arabic letters for an article to be kept (default: 0.5)",
    )
    run.add_argument("--json", action="store_true", help="print the run summary as JSON")
    run.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show Prefect's flow and task run log lines (hidden on a terminal by default)",
    )
    run.add_argument(
        "--log-level",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        default=None,
        help="lowest level of Prefect log lines shown in the terminal "
        "(default: WARNING on a terminal, INFO otherwise; the Prefect UI gets them all)",
    )

    status = sub.add_parser(
        "status",
        help="show a dataset's runs and file counts",
        description="Print runs, the last successful commit, and counts per status and reason.",
    )
    status.add_argument("out", help="dataset directory")

    schema = sub.add_parser("schema", help="print table schemas with field descriptions")
    schema.add_argument(
        "table", nargs="?", help="files, articles, sentences, tokens, entities or stories"
    )

    query = sub.add_parser(
        "query",
        help="run SQL (DuckDB) over a dataset",
        description="Run SQL over a dataset's tables, registered as DuckDB views: files, "
        "articles, sentences, tokens, entities, stories (and files_latest: one row per "
        "input, its latest outcome).",
    )
    query.add_argument("out", help="dataset directory")
    query.add_argument("sql", help='SQL, e.g. "select count(*) from articles"')
    query.add_argument(
        "--format",
        choices=["table", "csv", "json"],
        default="table",
        help="table (default), csv or json lines",
    )
    query.add_argument(
        "--max-rows", type=int, default=100, help="rows shown as a table (default: 100)"
    )
    query.add_argument(
        "--as-of",
        metavar="RUN_ID",
        help="query the dataset as run RUN_ID left it (while its version is kept)",
    )

    report = sub.add_parser(
        "report",
        help="write a self-contained HTML report of a dataset",
        description="Articles per source and day, tokens per article, OOV rate, top lemmas, "
        "top entities per label and quarantine reasons, with charts, in one HTML file.",
    )
    report.add_argument("out", help="dataset directory")
    report.add_argument(
        "--html", default=None, help="where to write it (default: OUT/_reports/report.html)"
    )

    serve = sub.add_parser(
        "serve",
        help="serve the pipeline as a deployment from this process (flow.serve)",
        description="Register a deployment of the pipeline and run its flow runs in this "
        "process, on a cron schedule and/or on demand from the UI. The one-process "
        "alternative to prefect.yaml + a work pool + a worker. Needs a Prefect server "
        "(PREFECT_API_URL) to be useful.",
    )
    serve.add_argument("inputs", nargs="+", metavar="INPUT", help="default inputs of each run")
    serve.add_argument("--out", default="data/out", help="default output dataset directory")
    serve.add_argument("--name", default="akhbar-serve", help="deployment name")
    serve.add_argument(
        "--cron", default=None, help='cron schedule, e.g. "0 6 * * *" (default: on demand only)'
    )
    serve.add_argument(
        "--timezone", default="UTC", help="time zone of the cron schedule (default: UTC)"
    )
    serve.add_argument(
        "--workers", type=int, default=1, help="worker processes per run (default: 1)"
    )

    morph = sub.add_parser("morphology", help="manage the offline morphology DB")
    msub = morph.add_subparsers(dest="morph_command", required=True, metavar="ACTION")
    build = msub.add_parser(
        "build", help="build the camel-tools DB from the installed BAMA 1.0 lexicon"
    )
    build.add_argument(
        "--cache-dir",
        default=None,
        help="where to write it (default: $AKHBAR_CACHE_DIR or the user cache)",
    )
    build.add_argument("--force", action="store_true", help="rebuild even if up to date")
    add_train_parser(sub)
    add_dataset_parsers(sub)
    return p


def _params_from_args(args: argparse.Namespace):
    from tasks.config import PipelineParams

    return PipelineParams(
        inputs=args.inputs,
        out=args.out,
        batch_size=args.batch_size,
        workers=args.workers,
        dask_address=args.dask_address,
        full_refresh=args.full_refresh,
        fetch={"max_file_bytes": int(args.max_file_mb * 1_000_000)},
        clean={"min_arabic_ratio": args.min_arabic_ratio},
        annotate={
            "morphology": args.morphology,
            "ner": args.ner,
            "dialect": args.dialect,
            "analysis_cache": not args.no_analysis_cache,
        },
        dedup={
            "enabled": not args.no_dedup,
            "threshold": args.dedup_threshold,
            "story_threshold": args.story_threshold,
            "story_containment": args.story_containment,
            "drop_duplicates": args.drop_duplicates,
        },
    )


def _usage_error(message: str) -> int:
    print(f"akhbar: error: {message}", file=sys.stderr)
    return EXIT_USAGE


# Parameter (pydantic location) -> the ``akhbar run`` option it comes from (issue 26).
_FLAGS = {
    "inputs": ("INPUT", "inputs"),
    "out": ("--out", "out"),
    "batch_size": ("--batch-size", "batch_size"),
    "workers": ("--workers", "workers"),
    "dask_address": ("--dask-address", "dask_address"),
    "fetch.max_file_bytes": ("--max-file-mb", "max_file_mb"),
    "clean.min_arabic_ratio": ("--min-arabic-ratio", "min_arabic_ratio"),
    "annotate.morphology": ("--morphology", "morphology"),
    "annotate.ner": ("--ner", "ner"),
    "annotate.dialect": ("--dialect", "dialect"),
    "dedup.threshold": ("--dedup-threshold", "dedup_threshold"),
    "dedup.story_threshold": ("--story-threshold", "story_threshold"),
    "dedup.story_containment": ("--story-containment", "story_containment"),
}


def _validation_message(exc, args: argparse.Namespace | None = None) -> str:
    """Pydantic's errors in the user's terms: the option as typed and its value."""
    import math

    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"])
        flag, dest = _FLAGS.get(loc, (loc, None))
        value = getattr(args, dest, err.get("input")) if dest else err.get("input")
        msg = err["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
        if isinstance(value, float):
            if math.isnan(value):
                msg = "must be a number"
            value = f"{value:g}"
        parts.append(f"{flag} {value}: {msg}")
    return "; ".join(parts)


def cmd_run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from flows.runtime import prepare_environment
    from tasks.errors import AkhbarError

    prepare_environment()
    try:
        params = _params_from_args(args)
        from tasks import fetch, store
        from tasks.annotate import check_annotators
        from tasks.dialect import resolve_dialect_method

        # `--dialect model` without tasks/models/dialect: say so before any work
        resolve_dialect_method(params.annotate.dialect)

        check_annotators(params.annotate)  # data an option needs, before any work (issue 26)
        fetch.discover_sources(params.inputs, params.fetch)
        for warning in fetch.unmatched_inputs(params.inputs, params.fetch):
            print(f"akhbar: warning: {warning}", file=sys.stderr)
        # Refuse a locked --out before starting Prefect (the flow takes the lock for real).
        store.check_unlocked(params.out)
        store.check_output_dir(params.out)
    except ValidationError as exc:
        return _usage_error(_validation_message(exc, args))
    except AkhbarError as exc:
        return _usage_error(str(exc))

    from flows.console import Console

    try:
        # Every input unchanged: record the run without Prefect, workers or models (issue 21).
        from flows.run import run_if_unchanged

        unchanged = run_if_unchanged(params)
    except AkhbarError as exc:
        print(f"akhbar: error: {exc}", file=sys.stderr)
        return EXIT_USAGE if exc.__class__.__name__ == "LockError" else EXIT_FAILED
    if unchanged is not None:
        Console(json_mode=args.json).print_summary(unchanged)
        return EXIT_OK
    from flows.runtime import prefect_api, run_link, set_console_log_level

    _start_workers_server(params)
    console = Console(json_mode=args.json)
    # Before Prefect is imported here or in any worker process: they read it from the
    # environment when they configure logging (issue 18).
    set_console_log_level(_console_log_level(args, console.tty))
    console.start()
    link, failed = None, False
    try:
        with prefect_api() as server:
            from flows import news_pipeline as np_mod

            server.wait_ready()
            np_mod.LISTENER.progress = console
            with server.settings():
                state = np_mod.news_pipeline(params, return_state=True)
            link = run_link(server, state.state_details.flow_run_id)
            failed = state.is_failed() and isinstance(state.result(raise_on_failure=False), dict)
            # no input could be processed: the flow's Failed state holds the run's summary
            result = state.result(raise_on_failure=not failed)
    except AkhbarError as exc:
        console.close()
        print(f"akhbar: error: {exc}", file=sys.stderr)
        return EXIT_USAGE if exc.__class__.__name__ in ("ConfigError", "LockError") else EXIT_FAILED
    except RuntimeError as exc:
        console.close()
        print(f"akhbar: run failed: {exc}", file=sys.stderr)
        console.print_ui_hint(link)
        return EXIT_FAILED
    finally:
        console.close()
    if failed:
        print(f"akhbar: run failed: {state.message}", file=sys.stderr)
    console.print_summary(result)
    console.print_ui_hint(link)
    return EXIT_OK if result.get("outcome") != "failed" else EXIT_FAILED


def _start_workers_server(params) -> None:
    """Start the workers' fork server now if the flow will want a pool (issue 21).

    It loads the annotators in its own process while this one starts Prefect and the
    flow run, so the first chunk does not wait for them. The flow decides the workers
    again under the dataset's lock and stops the server if it wants none.
    """
    from flows.pool import run_workers, start_fork_server
    from flows.run import pending_inputs
    from tasks.errors import AkhbarError

    try:
        pending = pending_inputs(params)
    except (AkhbarError, OSError):  # the flow meets it again under the lock and reports it
        return
    if run_workers(params.workers, pending, dask=bool(params.dask_address)):
        start_fork_server(params.annotate)


def _console_log_level(args: argparse.Namespace, tty: bool) -> str | None:
    """Prefect's console log level: quiet on a terminal unless asked, else Prefect's default."""
    if args.log_level:
        return args.log_level
    if args.verbose:
        return "INFO"
    if not tty:
        return None
    # The live display replaces the per-task lines; the UI still gets them.
    return os.environ.get("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")


def _not_a_dataset(out: str) -> str | None:
    """Why ``out`` cannot be read as a dataset (None when it can), for status/query/report."""
    from tasks.errors import ConfigError
    from tasks.store import check_dataset

    try:
        check_dataset(out)
    except ConfigError as exc:
        return str(exc)
    return None


def cmd_status(args: argparse.Namespace) -> int:
    from flows.console import print_status

    error = _not_a_dataset(args.out)
    if error:
        return _usage_error(error)
    print_status(args.out)
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from tasks.schemas import TABLES

    names = [args.table] if args.table else list(TABLES)
    for name in names:
        if name not in TABLES:
            return _usage_error(f"unknown table {name!r}; choose from {', '.join(TABLES)}")
        schema = TABLES[name]
        print(f"{name} (schema version {schema.metadata[b'akhbar.schema_version'].decode()})")
        for f in schema:
            desc = (f.metadata or {}).get(b"description", b"").decode()
            print(f"  {f.name:<18} {str(f.type):<34} {desc}")
        print()
    return EXIT_OK


def cmd_query(args: argparse.Namespace) -> int:
    import duckdb

    from tasks.errors import ConfigError
    from tasks.report import connect_dataset

    error = _not_a_dataset(args.out)
    if error:
        return _usage_error(error)
    try:
        cur = connect_dataset(args.out, args.as_of).execute(args.sql)
    except (FileNotFoundError, ConfigError) as exc:
        return _usage_error(str(exc))
    except duckdb.Error as exc:
        return _usage_error(f"query failed: {exc}")
    columns = [d[0] for d in cur.description or []]
    try:
        return _print_result(cur, columns, args)
    except BrokenPipeError:
        # `akhbar query ... | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _print_result(cur, columns: list[str], args: argparse.Namespace) -> int:
    if args.format == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(cur.fetchall())
        return EXIT_OK
    if args.format == "json":
        import json

        for row in cur.fetchall():
            record = dict(zip(columns, row, strict=True))
            print(json.dumps(record, ensure_ascii=False, default=str))
        return EXIT_OK
    from rich.table import Table

    from flows.console import output_console

    rows = cur.fetchmany(args.max_rows + 1)
    table = Table(show_header=True, header_style="bold")
    for name, typ, *_ in cur.description or []:
        numeric = str(typ).split("(")[0] in _NUMERIC
        table.add_column(name, justify="right" if numeric else "left", overflow="fold")
    for row in rows[: args.max_rows]:
        table.add_row(*("" if v is None else str(v) for v in row))
    console = output_console(soft_wrap=False)
    console.print(table)
    more = (
        " (more not shown: raise --max-rows or use --format csv)"
        if len(rows) > args.max_rows
        else ""
    )
    console.print(f"{min(len(rows), args.max_rows)} rows{more}")
    return EXIT_OK


_NUMERIC = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL"}


def cmd_report(args: argparse.Namespace) -> int:
    from tasks.report import write_report
    from tasks.store import read_run_logs

    error = _not_a_dataset(args.out)
    if error:
        return _usage_error(error)
    path = write_report(args.out, args.html, runs=read_run_logs(args.out))
    print(path)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from flows.runtime import prepare_environment
    from tasks.config import PipelineParams

    prepare_environment()
    try:
        params = PipelineParams(inputs=args.inputs, out=args.out, workers=args.workers)
    except ValidationError as exc:
        return _usage_error(_validation_message(exc))
    if not os.environ.get("PREFECT_API_URL"):
        print(
            "akhbar: PREFECT_API_URL is not set: runs go to a temporary server that stops "
            "with this process. Start `prefect server start` and export PREFECT_API_URL "
            "to watch them in the UI.",
            file=sys.stderr,
        )
    import typing

    from prefect.schedules import Cron

    from flows.news_pipeline import news_pipeline

    # serve() runs each flow run in a spawned process with the flow cloudpickled by
    # value; string annotations (``from __future__ import annotations``) would then
    # not resolve there, so hand it the real classes.
    news_pipeline.fn.__annotations__ = typing.get_type_hints(news_pipeline.fn)
    news_pipeline.serve(
        name=args.name,
        schedule=Cron(args.cron, timezone=args.timezone) if args.cron else None,
        parameters={"params": params.model_dump(mode="json")},
        tags=["akhbar", "serve"],
        description="akhbar pipeline served by `akhbar serve`",
    )
    return EXIT_OK


def cmd_morphology(args: argparse.Namespace) -> int:
    from flows.runtime import prepare_environment

    prepare_environment()
    from tasks.morphology import build_bama_db

    path = build_bama_db(Path(args.cache_dir) if args.cache_dir else None, force=args.force)
    print(path)
    return EXIT_OK


COMMANDS = {
    "run": cmd_run,
    "status": cmd_status,
    "schema": cmd_schema,
    "morphology": cmd_morphology,
    "query": cmd_query,
    "report": cmd_report,
    "serve": cmd_serve,
    "train": cmd_train,
    "compact": cmd_compact,
    "paths": cmd_paths,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``akhbar`` console script."""
    args = _parser().parse_args(argv)
    if getattr(args, "command", None) == "run" and args.batch_size <= 0:
        return _usage_error(f"--batch-size must be > 0, got {args.batch_size}")
    code = COMMANDS[args.command](args)
    if argv is None and args.command == "run":  # the command itself, not a caller's main([...])
        _exit_now(code)
    return code


def _exit_now(code: int) -> None:
    """End the process once everything registered to run at exit has run (issue 21).

    After a run, the interpreter's own teardown of the heap (Prefect, its API server,
    pandas, the pool's bookkeeping) took 1.4-3.4 s with nothing left to do; the exit
    handlers (Prefect's log and event drains, multiprocessing's finalizers, logging)
    are what matters, so they run first, as at a normal exit, and then the process ends.
    """
    import atexit
    import os
    import threading

    for thread in threading.enumerate():  # as the interpreter would, before exit handlers
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
