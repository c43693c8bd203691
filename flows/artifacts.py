"""Run summary bookkeeping and the Prefect artifacts each run publishes.

Artifact keys (lowercase and dashes, as Prefect requires):
``akhbar-run-summary`` (markdown), ``akhbar-files`` (table, one row per input),
``akhbar-report`` (link to the dataset's HTML report written to
``OUT/_reports/<run_id>.html``), and a progress artifact updated after every
committed batch.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUMMARY_KEY = "akhbar-run-summary"
FILES_KEY = "akhbar-files"
REPORT_KEY = "akhbar-report"
MAX_TABLE_ROWS = 500


@dataclass
class RunSummary:
    """Figures of one run, summed over its batches."""

    run_id: str
    out: str
    inputs: list[str]
    batches: int = 0
    status: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)
    articles: int = 0
    sentences: int = 0
    tokens: int = 0
    arabic_tokens: int = 0
    oov: int = 0
    entities: int = 0
    entity_labels: Counter = field(default_factory=Counter)
    top_entities: Counter = field(default_factory=Counter)
    exact_duplicates: int = 0
    near_duplicates: int = 0
    seconds: Counter = field(default_factory=Counter)
    file_rows: list[dict] = field(default_factory=list)
    morph_source: str | None = None
    ner_method: str | None = None
    dialect_method: str | None = None
    stories: dict = field(default_factory=dict)
    duration_s: float = 0.0
    outcome: str = "running"
    report_path: str | None = None
    # How the run was carried out: by a Prefect flow run, or (every input unchanged) by
    # neither Prefect nor a worker; and the worker processes it started (issue 21).
    orchestration: str = "prefect"
    workers: int = 0

    def add_batch(self, stats: dict[str, Any]) -> None:
        """Fold one committed batch's stats in."""
        self.batches += 1
        self.status.update(stats.get("status", {}))
        self.reasons.update(stats.get("reasons", {}))
        for counts in stats.get("rejected", {}).values():
            self.rejected.update(counts)
        for name in (
            "articles",
            "sentences",
            "tokens",
            "entities",
            "oov",
            "arabic_tokens",
            "exact_duplicates",
            "near_duplicates",
        ):
            setattr(self, name, getattr(self, name) + int(stats.get(name, 0) or 0))
        self.entity_labels.update(stats.get("entity_labels", {}))
        for text, label, n in stats.get("top_entities", []):
            self.top_entities[(text, label)] += n
        self.seconds.update(stats.get("seconds", {}))
        if len(self.file_rows) < MAX_TABLE_ROWS:
            self.file_rows.extend(
                stats.get("file_rows", [])[: MAX_TABLE_ROWS - len(self.file_rows)]
            )
        for name in ("morph_source", "ner_method", "dialect_method"):
            setattr(self, name, getattr(self, name) or stats.get(name))

    def finish(self, duration_s: float) -> None:
        """Set the duration and the outcome: failed only when no input could be processed."""
        self.duration_s = duration_s
        n_files = sum(self.status.values())
        usable = self.status.get("ok", 0) + self.status.get("skipped_unchanged", 0)
        self.outcome = (
            "failed"
            if n_files and not usable and not self.status.get("quarantined")
            else "completed"
        )

    @property
    def oov_rate(self) -> float:
        return self.oov / self.arabic_tokens if self.arabic_tokens else 0.0

    def one_line(self) -> str:
        s = self.status
        return (
            f"files ok {s.get('ok', 0)}, skipped {s.get('skipped_unchanged', 0)}, "
            f"quarantined {s.get('quarantined', 0)}, failed {s.get('failed', 0)}; "
            f"articles {self.articles}, sentences {self.sentences}, tokens {self.tokens}, "
            f"entities {self.entities}; {self.duration_s:.1f} s"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "out": self.out,
            "outcome": self.outcome,
            "files": dict(self.status),
            "reasons": dict(self.reasons),
            "rejected_articles": dict(self.rejected),
            "articles": self.articles,
            "sentences": self.sentences,
            "tokens": self.tokens,
            "oov_rate": round(self.oov_rate, 4),
            "entities": self.entities,
            "entity_labels": dict(self.entity_labels),
            "exact_duplicates": self.exact_duplicates,
            "near_duplicates": self.near_duplicates,
            "stories": self.stories,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "duration_s": round(self.duration_s, 3),
            "morph_source": self.morph_source,
            "ner_method": self.ner_method,
            "dialect_method": self.dialect_method,
            "orchestration": self.orchestration,
            "workers": self.workers,
        }

    def log_record(self, status: str, params: Any) -> dict[str, Any]:
        record = self.as_dict()
        record["status"] = status
        record["inputs"] = self.inputs
        record["params"] = (
            params.model_dump(mode="json") if hasattr(params, "model_dump") else params
        )
        return record


def render_markdown(summary: RunSummary) -> str:
    """The run summary: outcome first, then details."""
    s = summary.status
    # A run that annotated nothing (every input unchanged) has no rate (issue 26).
    oov = f"{summary.oov_rate:.1%}" if summary.tokens else "-"
    labels = ", ".join(f"{lab} {n}" for lab, n in sorted(summary.entity_labels.items()))
    lines = [
        f"# akhbar run `{summary.run_id}`: {summary.outcome}",
        "",
        f"**{s.get('ok', 0)} files ok, {s.get('quarantined', 0)} quarantined, "
        f"{s.get('failed', 0)} failed** "
        f"({s.get('skipped_unchanged', 0)} unchanged inputs skipped): "
        f"{summary.articles} articles, {summary.tokens} tokens, OOV rate "
        f"{oov}, {summary.entities} entities"
        + (f" ({labels})" if labels else "")
        + f", in {summary.duration_s:.1f} s.",
        "",
        "| files ok | unchanged | quarantined | failed | articles | sentences "
        "| tokens | OOV rate | entities | duration |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {s.get('ok', 0)} | {s.get('skipped_unchanged', 0)} | {s.get('quarantined', 0)} | "
        f"{s.get('failed', 0)} | {summary.articles} | {summary.sentences} | {summary.tokens} | "
        f"{oov} | {summary.entities} | {summary.duration_s:.1f} s |",
        "",
        f"Output: [{summary.out}]({Path(summary.out).resolve().as_uri()})"
        + (
            f" · report: [{Path(summary.report_path).name}]"
            f"({Path(summary.report_path).resolve().as_uri()})"
            if summary.report_path
            else ""
        ),
        "",
    ]
    if summary.entity_labels:
        lines += ["## Entities by label", "", "| label | count |", "|---|---:|"]
        lines += [f"| {lab} | {n} |" for lab, n in sorted(summary.entity_labels.items())]
        lines += [
            "",
            "## Most frequent entities",
            "",
            "| entity | label | count |",
            "|---|---|---:|",
        ]
        lines += [f"| {t} | {lab} | {n} |" for (t, lab), n in summary.top_entities.most_common(15)]
        lines.append("")
    if summary.reasons or summary.rejected:
        lines += ["## Problems by reason", "", "| status | reason | count |", "|---|---|---:|"]
        for key, n in summary.reasons.most_common():
            status, reason = key.split(":", 1)
            lines.append(f"| {status} | `{reason}` | {n} |")
        for reason, n in summary.rejected.most_common():
            lines.append(f"| article left out | `{reason}` | {n} |")
        lines.append("")
    lines += [
        "## Duplicates",
        "",
        f"This run: {summary.exact_duplicates} exact duplicates, "
        f"{summary.near_duplicates} near duplicates. Dataset: "
        f"{summary.stories.get('n_stories', 0)} stories of 2+ articles "
        f"({summary.stories.get('n_in_stories', 0)} articles).",
        "",
    ]
    if summary.stories.get("largest"):
        lines += ["| story | title | size | sources |", "|---|---|---:|---|"]
        for c in summary.stories["largest"]:
            sources = ", ".join(f"{s} ({n})" for s, n in c["sources"].items())
            lines.append(f"| `{c['story_id'][:12]}` | {c['title']} | {c['size']} | {sources} |")
        lines.append("")
    lines += [
        "## Time per stage (summed over batches)",
        "",
        "| stage | seconds |",
        "|---|---:|",
    ]
    lines += [f"| {k} | {v:.2f} |" for k, v in summary.seconds.items()]
    used = [
        f"{what}: `{value}`"
        for what, value in (
            ("Morphology", summary.morph_source),
            ("NER", summary.ner_method),
            ("dialect", summary.dialect_method),
        )
        if value
    ]
    lines += ["", f"Batches: {summary.batches}. " + (", ".join(used) or "Nothing annotated") + "."]
    return "\n".join(lines)


def file_table(summary: RunSummary) -> list[dict[str, Any]]:
    """One row per input (first ``MAX_TABLE_ROWS``) for the table artifact."""
    return [
        {
            "input": r["source_uri"] + (f"!{r['member']}" if r.get("member") else ""),
            "format": r.get("format"),
            "encoding": r.get("encoding"),
            "status": r["status"],
            "reason": r.get("reason") or "",
            "n_articles": r.get("n_articles", 0),
            "message": r.get("message") or "",
        }
        for r in summary.file_rows
    ]


def start_progress(run_id: str, total: int) -> Any:
    """Create the run's progress artifact (0 %)."""
    from prefect.artifacts import create_progress_artifact

    return create_progress_artifact(
        progress=0.0, description=f"akhbar run {run_id}: 0/{total} batches committed"
    )


def update_progress(artifact_id: Any, done: int, total: int) -> None:
    """Move the progress artifact after a batch commit."""
    from prefect.artifacts import update_progress_artifact

    if artifact_id is not None:
        update_progress_artifact(
            artifact_id=artifact_id,
            progress=100.0 * done / max(total, 1),
            description=f"{done}/{total} batches committed",
        )


def publish_run_artifacts(summary: RunSummary) -> None:
    """The markdown summary and the per-file table."""
    from prefect.artifacts import (
        create_link_artifact,
        create_markdown_artifact,
        create_table_artifact,
    )

    summary.report_path = write_run_report(summary)
    if summary.report_path:
        create_link_artifact(
            link=Path(summary.report_path).resolve().as_uri(),
            link_text=f"HTML report of {summary.out} after run {summary.run_id}",
            key=REPORT_KEY,
            description="Dataset report: sources, days, tokens, OOV, lemmas, entities, quarantine",
        )
    create_markdown_artifact(
        markdown=render_markdown(summary),
        key=SUMMARY_KEY,
        description=f"akhbar run {summary.run_id}: {summary.one_line()}",
    )
    create_table_artifact(
        table=file_table(summary) or [{"input": "(no inputs)"}],
        key=FILES_KEY,
        description="One row per input file or archive member",
    )


def write_run_report(summary: RunSummary) -> str | None:
    """Write the dataset's HTML report to ``OUT/_reports/<run_id>.html``; None if it cannot.

    A report is a convenience: failing to draw it must not fail a run whose data
    is already committed, so any error is logged and swallowed.
    """
    try:
        from tasks.report import write_report
        from tasks.store import read_run_logs

        out = Path(summary.out)
        path = out / "_reports" / f"{summary.run_id}.html"
        return str(write_report(out, path, runs=read_run_logs(out), run_id=summary.run_id))
    except Exception as exc:  # noqa: BLE001 - see docstring
        _warn(f"no HTML report for run {summary.run_id}: {exc!r}")
        return None


def _warn(message: str) -> None:
    """Warn in the flow run's log (visible in the UI), or the plain log outside a run."""
    try:
        from prefect import get_run_logger

        get_run_logger().warning(message)
    except Exception:  # noqa: BLE001 - MissingContextError outside a flow run
        import logging

        logging.getLogger("akhbar").warning(message)
