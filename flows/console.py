"""Terminal output: a live run display on a TTY, plain lines otherwise, one-screen summaries."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter
from typing import IO, Any


class Console:
    """The run's progress while it goes, then its summary.

    On a terminal: one live display (articles and words done, words/s, ETA, files by
    outcome), redrawn in place. Everything else written to the terminal meanwhile,
    by this process, the worker processes or the temporary server, is routed above
    it (see ``_StderrRoute``). Off a terminal: one plain line per committed batch.
    """

    def __init__(self, json_mode: bool = False) -> None:
        self.json_mode = json_mode
        self.tty = sys.stderr.isatty() and not json_mode
        self._display: LiveRun | None = None
        self._route: _StderrRoute | None = None

    def start(self) -> None:
        """Take over the terminal for the live display (a no-op off a terminal)."""
        if not self.tty or self._display is not None:
            return
        from rich.console import Console as RichConsole
        from rich.live import Live

        self._route = _StderrRoute()
        screen = RichConsole(file=self._route.terminal, soft_wrap=False)
        self._display = LiveRun()
        self._live = Live(
            self._display,
            console=screen,
            refresh_per_second=4,
            redirect_stdout=True,
            redirect_stderr=False,
        )
        self._live.start()
        self._route.start(screen)

    def on_fetched(self, records: int, batches: int) -> None:
        if self._display is not None:
            self._display.on_fetched(records, batches)

    def on_chunk(self, records: int, stats: dict | None) -> None:
        if self._display is not None:
            self._display.on_chunk(records, stats)

    def on_batch(self, stats: dict, done: int, total: int) -> None:
        if self._display is not None:
            self._display.on_batch(stats)
        elif not self.json_mode:
            print(
                f"akhbar: batch {done}/{total} committed: {stats.get('files', 0)} files, "
                f"{stats.get('articles', 0)} articles, {stats.get('tokens', 0)} tokens",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        """Draw the display's last state and give the terminal back."""
        if self._display is None:
            return
        self._route.stop()  # lines still in the pipe go above the display's last frame
        self._live.stop()
        self._route.terminal.close()
        self._display = None

    def print_ui_hint(self, hint: str | None) -> None:
        """Where to find the run in the Prefect UI (on a terminal only: plain output stays)."""
        if hint and self.tty:
            print(hint, flush=True)

    def print_summary(self, result: dict[str, Any]) -> None:
        if self.json_mode:
            print(json.dumps(result, ensure_ascii=False, indent=1))
            return
        from rich.console import Console as RichConsole
        from rich.table import Table

        out = RichConsole(file=sys.stdout, soft_wrap=True)
        files = Counter(result.get("files", {}))
        out.print(
            f"[bold]akhbar run {result['run_id']}: {result['outcome']}[/bold] -> {result['out']}"
        )
        t = Table(show_header=False, box=None, padding=(0, 2))
        t.add_column(style="bold")
        t.add_column(justify="right")
        rows = [
            ("files ok", files["ok"]),
            ("skipped (unchanged)", files["skipped_unchanged"]),
            ("quarantined", files["quarantined"]),
            ("failed", files["failed"]),
            ("articles", result["articles"]),
            ("sentences", result["sentences"]),
            ("tokens", result["tokens"]),
            # Nothing annotated (every input unchanged): no rate to give (issue 26).
            ("OOV rate", f"{result['oov_rate']:.1%}" if result["tokens"] else "-"),
            ("entities", result["entities"]),
            ("duration", f"{result['duration_s']:.1f} s"),
        ]
        for name, value in rows:
            t.add_row(name, str(value))
        out.print(t)
        if result.get("reasons"):
            out.print("problems: " + ", ".join(f"{k} x{v}" for k, v in result["reasons"].items()))
        if result.get("rejected_articles"):
            out.print(
                "articles left out: "
                + ", ".join(f"{k} x{v}" for k, v in result["rejected_articles"].items())
            )
        if result.get("entity_labels"):
            out.print(
                "entities: "
                + ", ".join(f"{k} {v}" for k, v in sorted(result["entity_labels"].items()))
            )
        used = [
            f"{what} {result[key]}"
            for what, key in (("morphology", "morph_source"), ("NER", "ner_method"))
            if result.get(key)
        ]
        out.print(
            f"duplicates: exact {result.get('exact_duplicates', 0)}, "
            f"near {result.get('near_duplicates', 0)}; "
            + (", ".join(used) if used else "nothing annotated in this run")
        )
        if result.get("orchestration", "prefect") != "prefect":
            # issue 21: a run with nothing to do starts neither Prefect nor a worker
            out.print(f"orchestration: {result['orchestration']} (no Prefect flow run)")


def output_console(**kwargs: Any):
    """A rich console for stdout: the terminal's width, or unbounded when piped.

    Off a terminal rich assumes 80 columns and squeezes tables into them; a pipe or a
    file has no width, so nothing is cut or wrapped there (issue 26).
    """
    from rich.console import Console as RichConsole

    width = None if sys.stdout.isatty() else 10_000
    return RichConsole(file=sys.stdout, width=width, **kwargs)


def print_status(out: str) -> None:
    """Runs, last successful commit, and counts per status and reason of a dataset."""
    import pyarrow.compute as pc
    from rich.table import Table

    from tasks.store import read_run_logs, read_table

    console = output_console(soft_wrap=True)
    logs = read_run_logs(out)
    runs = Table(title=f"runs of {out}")
    for col in ("run", "status", "files", "articles", "tokens", "seconds"):
        # Run ids are what users copy into queries: never cut them; a narrow terminal
        # wraps the other cells instead of cutting them ("quarant…", issue 26).
        runs.add_column(
            col,
            no_wrap=col == "run",
            min_width=23 if col == "run" else None,
            overflow="fold",
        )
    for log in logs:
        runs.add_row(
            log.get("run_id", "?"),
            log.get("status", "?"),
            ", ".join(f"{k} {v}" for k, v in (log.get("files") or {}).items()),
            str(log.get("articles", 0)),
            str(log.get("tokens", 0)),
            str(log.get("duration_s", "")),
        )
    console.print(runs)
    done = [g for g in logs if g.get("status") == "completed"]
    console.print(f"last successful run: {done[-1]['run_id'] if done else 'none'}")
    files = read_table(
        out,
        "files",
        ["source_uri", "member", "run_id", "batch_id", "status", "reason", "processed_at"],
    )
    if files.num_rows:
        rows = files.to_pylist()
        last = max(rows, key=lambda r: (r["processed_at"] is not None, r["processed_at"]))
        console.print(
            f"last commit: batch {last['batch_id']} of run {last['run_id']} at "
            f"{last['processed_at']}"
        )
        latest: dict[tuple, dict] = {}
        for r in sorted(rows, key=lambda r: (r["processed_at"] is not None, r["processed_at"])):
            key = (r["source_uri"], r["member"])
            # An unchanged input keeps the outcome of the run that processed it.
            if r["status"] != "skipped_unchanged" or key not in latest:
                latest[key] = r
        for title, group in (
            (f"inputs by latest outcome and reason ({len(latest)} inputs)", latest.values()),
            ("files rows by status and reason (all runs)", rows),
        ):
            counts = Table(title=title)
            for col in ("status", "reason", "count"):
                counts.add_column(col, overflow="fold")
            tally = Counter((r["status"], r["reason"] or "") for r in group)
            for (status, reason), n in tally.most_common():
                counts.add_row(status, reason, str(n))
            console.print(counts)
    for name in ("articles", "sentences", "tokens", "entities"):
        table = read_table(out, name, ["article_id"])
        n_art = len(pc.unique(table.column("article_id"))) if table.num_rows else 0
        console.print(f"{name}: {table.num_rows} rows ({n_art} articles)")
    stories = read_table(out, "stories", ["merged_into"])
    current = stories.column("merged_into").null_count
    console.print(f"stories: {stories.num_rows} rows ({current} current, not merged)")


class LiveRun:
    """The live display's state and its rendering (a rich renderable).

    Progress is counted in article records, the unit fetch hands to the chunks:
    each finished chunk adds its records, so a single big archive advances too.
    The total is known once every batch has been read; until then the ETA is
    extrapolated from the batches read so far and marked with ``~``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started = time.monotonic()
        self.reading_done_at: float | None = None
        self.records_total = 0
        self.batches_read = 0
        self.batches = 0
        self.records_done = 0
        self.articles = 0
        self.words = 0
        self.files: Counter = Counter()

    def on_fetched(self, records: int, batches: int) -> None:
        with self._lock:
            if self.reading_done_at is None:
                self.reading_done_at = time.monotonic()
            self.records_total += records
            self.batches_read += 1
            self.batches = batches

    def on_chunk(self, records: int, stats: dict | None) -> None:
        with self._lock:
            self.records_done += records
            if stats:
                self.words += int(stats.get("words", stats.get("tokens", 0)))
                self.articles += int(stats.get("articles", 0))

    def on_batch(self, stats: dict) -> None:
        with self._lock:
            self.files.update(stats.get("status", {}))

    def _total(self) -> tuple[int, bool]:
        """Records in the whole input, and whether that is known or extrapolated."""
        if self.batches and self.batches_read >= self.batches:
            return self.records_total, True
        if not self.batches_read:
            return 0, False
        return round(self.records_total * self.batches / self.batches_read), False

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        with self._lock:
            now = time.monotonic()
            total, exact = self._total()
            done = self.records_done
            elapsed = now - self.started
            # rates from the first batch read on: start-up (server, imports) is not work
            busy = now - self.reading_done_at if self.reading_done_at else 0.0
            rate = self.words / busy if busy > 0 else 0.0
            per_record = busy / done if done else None
            files, articles, words = Counter(self.files), self.articles, self.words
        # one line of figures on a wide terminal, two on a narrow one
        wide = options.max_width >= 150
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(width=36 if wide else 20, no_wrap=True)
        grid.add_column(no_wrap=True)
        if not self.batches_read:
            grid.add_row(Text("reading inputs", style="bold"), ProgressBar(total=None), "")
        else:
            if done >= total and exact:
                eta = "done"
            elif per_record is None:
                eta = "ETA …"
            else:
                eta = f"ETA {'' if exact else '~'}{_clock((total - done) * per_record)}"
            pct = min(done / total, 1.0) if total else 0.0
            head = Text.assemble(
                (f"{pct:4.0%}", "bold"),
                f"  {done:,}/{'' if exact else '~'}{total:,} records -> {articles:,} kept",
            )
            speed = Text.assemble(
                (f"{words:,} words", "cyan"),
                f"  {rate:,.0f} words/s  {eta}  elapsed {_clock(elapsed)}",
            )
            bar = ProgressBar(total=max(total, 1), completed=done)
            if wide:
                grid.add_row(Text("articles", style="bold"), bar, Text.assemble(head, "  ", speed))
            else:
                grid.add_row(Text("articles", style="bold"), bar, head)
        batches = Text(f"batches {self.batches_read}/{self.batches or '?'} read", style="dim")
        outcome = Text(
            f"{files['ok']} ok, {files['skipped_unchanged']} unchanged, "
            f"{files['quarantined']} quarantined, {files['failed']} failed"
        )
        if wide:
            grid.add_row(Text("files", style="bold"), batches, outcome)
            yield grid
            return
        yield grid
        if self.batches_read:
            yield Text.assemble("         ", speed)
        yield Text.assemble(("files    ", "bold"), outcome, "  ", batches)


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class _StderrRoute:
    """Route file descriptor 2 through a pipe so its lines print above the live display.

    Prefect's console handlers, Python warnings and tracebacks in this process, the
    worker processes (they inherit fd 2) and the temporary server all write there;
    drawn in between the display's own cursor moves they would tear it apart. A
    thread reads the pipe and prints each line through the display's console, which
    puts it above the live region. The display itself writes to a copy of the
    original terminal descriptor.
    """

    def __init__(self) -> None:
        sys.stderr.flush()
        self._saved = os.dup(2)
        self.terminal: IO[str] = os.fdopen(os.dup(self._saved), "w", buffering=1)
        read, write = os.pipe()
        os.dup2(write, 2)
        os.close(write)
        self._read = read
        self._thread: threading.Thread | None = None

    def start(self, screen: Any) -> None:
        self._thread = threading.Thread(target=self._pump, args=(screen,), daemon=True)
        self._thread.start()

    def _pump(self, screen: Any) -> None:
        from rich.text import Text

        with os.fdopen(self._read, "rb") as pipe:
            for raw in pipe:
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                screen.print(Text.from_ansi(line), soft_wrap=True)

    def stop(self) -> None:
        """Give fd 2 back to the terminal; print what is still in the pipe."""
        sys.stderr.flush()
        os.dup2(self._saved, 2)
        os.close(self._saved)
        if self._thread is not None:
            # EOF once no process holds the pipe any more (workers and server are gone)
            self._thread.join(timeout=3)
        self.terminal.flush()
