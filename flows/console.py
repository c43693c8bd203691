"""Terminal output: a rich progress bar on a TTY, plain lines otherwise, one-screen summaries."""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import Any


class Console:
    """Progress over batches while a run goes, then the run summary."""

    def __init__(self, json_mode: bool = False) -> None:
        self.json_mode = json_mode
        self.tty = sys.stderr.isatty() and not json_mode
        self._progress = None
        self._task = None
        self._files = 0

    def on_batch(self, stats: dict, done: int, total: int) -> None:
        self._files += int(stats.get("files", 0))
        if self.tty:
            if self._progress is None:
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

                self._progress = Progress(
                    "[progress.description]{task.description}",
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    transient=True,
                )
                self._progress.start()
                self._task = self._progress.add_task("batches", total=total)
            self._progress.update(
                self._task,
                completed=done,
                description=f"batches ({self._files} files)",
            )
        elif not self.json_mode:
            print(
                f"akhbar: batch {done}/{total} committed: {stats.get('files', 0)} files, "
                f"{stats.get('articles', 0)} articles, {stats.get('tokens', 0)} tokens",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

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
            ("OOV rate", f"{result['oov_rate']:.1%}"),
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
        out.print(
            f"duplicates: exact {result.get('exact_duplicates', 0)}, "
            f"near {result.get('near_duplicates', 0)}; "
            f"morphology {result.get('morph_source')}, NER {result.get('ner_method')}"
        )


def print_status(out: str) -> None:
    """Runs, last successful commit, and counts per status and reason of a dataset."""
    import pyarrow.compute as pc
    from rich.console import Console as RichConsole
    from rich.table import Table

    from tasks.store import read_run_logs, read_table

    console = RichConsole(soft_wrap=True)
    logs = read_run_logs(out)
    runs = Table(title=f"runs of {out}")
    for col in ("run", "status", "files", "articles", "tokens", "seconds"):
        # Run ids are what users copy into queries: never cut them.
        runs.add_column(col, no_wrap=col == "run", min_width=23 if col == "run" else None)
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
                counts.add_column(col)
            tally = Counter((r["status"], r["reason"] or "") for r in group)
            for (status, reason), n in tally.most_common():
                counts.add_row(status, reason, str(n))
            console.print(counts)
    for name in ("articles", "sentences", "tokens", "entities"):
        table = read_table(out, name, ["article_id"])
        n_art = len(pc.unique(table.column("article_id"))) if table.num_rows else 0
        console.print(f"{name}: {table.num_rows} rows ({n_art} articles)")
