"""Batch accounting at commit time: every input ends as exactly one ``files`` row.

The chunks of a batch report what they left out (``rejected`` counts per file and
reason) or crash. Here, in the flow process and before the batch is published:

- the files of a crashed chunk are marked ``failed`` (``processing_error``) and their
  rows leave every staged table, so no file is ever half published;
- ``files`` rows get their ``n_articles``, ``n_rejected``, run and batch ids, and a file
  whose every article was left out is itself quarantined (its original is copied to
  ``OUT/_quarantine/<run_id>/``);
- duplicates are assigned (``tasks.dedup.assign``) and the articles and ``files`` parts
  are staged as Parquet, ready for ``tasks.store.commit_batch``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from tasks.annotate import set_column
from tasks.dedup.assign import assign_duplicates
from tasks.errors import Reason
from tasks.fetch import read_input, write_quarantine
from tasks.store.staging import BatchSpec, drop_staged_articles, load_stage
from tasks.write import write_batch


@dataclass
class SettledBatch:
    """A batch ready to commit: the files whose earlier rows it replaces, and its counts."""

    replace_file_ids: list[str]
    stats: dict = field(default_factory=dict)


def settle_batch(
    spec: BatchSpec,
    chunk_files: list[list[str]],
    chunks: list[dict | BaseException],
    had_rows: list[str],
    seconds: dict[str, float] | None = None,
) -> SettledBatch:
    """Finish the batch's files rows, assign duplicates and stage articles and files.

    Args:
        spec: The batch.
        chunk_files: file_ids of each chunk's records (from the fetch stage).
        chunks: Each chunk's stats, or the exception it died with.
        had_rows: file_ids that already have rows in the dataset (replaced on commit).
        seconds: Time per stage so far; the chunks' times are added.
    """
    good, broken = split_chunk_results(chunk_files, chunks)
    stats: dict = {"seconds": dict(seconds or {})}
    rejected: dict[str, Counter] = {}
    for res in good:
        for fid, counts in res.get("rejected", {}).items():
            rejected.setdefault(fid, Counter()).update(counts)
        for stage, sec in res.get("seconds", {}).items():
            stats["seconds"][stage] = stats["seconds"].get(stage, 0.0) + sec
    # Only the ids of the batch's articles are held; their text is read back one chunk at a
    # time to be written, so the commit's memory is bounded by a chunk (issue 14).
    parts = [(res["chunk"], _article_ids(spec, res["chunk"])) for res in good]
    if broken:  # drop every row of a file that had a chunk crash (no half files)
        parts = [(k, drop_broken_files(spec, k, t, broken)) for k, t in parts]
    kept = Counter(fid for _, t in parts for fid in t.column("file_id").to_pylist())
    fetched_files = load_stage(spec.path("files"))
    files = finish_files(spec, fetched_files, kept, rejected, broken)
    processed = [r["file_id"] for r in files.to_pylist() if r["status"] != "skipped_unchanged"]
    replace = sorted(set(processed) & set(had_rows))
    dup_stats = assign_duplicates(spec, parts, replace, assign=spec.params.dedup.enabled)
    for k, ids in parts:
        table = _with_columns_of(load_stage(spec.path("articles", k)), ids)
        write_batch({"articles": table}, spec.stage_dir, spec.part(k), spec.params.write)
        del table
    write_batch({"files": files}, spec.stage_dir, spec.batch_id, spec.params.write)
    stats.update(batch_counts(files, good, parts))
    for row in fetched_files.to_pylist():
        if row.get("n_rejected"):  # records fetch could not use (broken JSON line, wrong types)
            counts = rejected.setdefault(row["file_id"], Counter())
            counts[Reason.BAD_RECORD.value] += row["n_rejected"]
    stats["rejected"] = {fid: dict(c) for fid, c in rejected.items()}
    stats.update(dup_stats)
    for name in ("morph_source", "ner_method", "dialect_method"):
        stats[name] = next((r[name] for r in good if r.get(name)), None)
    return SettledBatch(replace, stats)


# What the commit holds of a batch's articles: ids, and what the stories table needs.
_HELD_COLUMNS = ("article_id", "file_id", "title", "source_name", "published_date")


def _article_ids(spec: BatchSpec, chunk: int) -> pa.Table:
    """A chunk's staged articles, ids and the few columns the stories table needs.

    The staging file is memory-mapped, so the text column is never read into memory.
    """
    return load_stage(spec.path("articles", chunk)).select(list(_HELD_COLUMNS))


def _with_columns_of(articles: pa.Table, ids: pa.Table) -> pa.Table:
    """``articles`` restricted to the rows of ``ids`` (same order), with ``ids``' other columns.

    ``ids`` is what became of the chunk's id table: broken files' rows dropped, and the
    duplicate columns set by the assignment.
    """
    if ids.num_rows != articles.num_rows:
        keep = pc.is_in(articles.column("article_id"), ids.column("article_id"))
        articles = articles.filter(keep)
    for name in ids.column_names:
        if name not in _HELD_COLUMNS:
            articles = set_column(articles, name, ids.column(name))
    return articles


def split_chunk_results(
    chunk_files: list[list[str]], chunks: list[dict | BaseException]
) -> tuple[list[dict], dict[str, str]]:
    """The chunks that finished, and ``file_id -> error`` for the files of those that died."""
    broken: dict[str, str] = {}
    good: list[dict] = []
    for k, res in enumerate(chunks):
        if isinstance(res, BaseException):
            for fid in chunk_files[k]:
                broken[fid] = f"{type(res).__name__}: {res}"
        else:
            good.append(res)
    return good, broken


def drop_broken_files(
    spec: BatchSpec, chunk: int, articles: pa.Table, broken: dict[str, str]
) -> pa.Table:
    """A chunk's articles without those of ``broken`` files, also dropped from its staging."""
    bad = pc.is_in(articles.column("file_id"), pa.array(sorted(broken)))
    gone = pc.filter(articles.column("article_id"), bad)
    if len(gone):
        drop_staged_articles(spec, chunk, gone)
    return articles.filter(pc.invert(bad))


def finish_files(
    spec: BatchSpec, files: pa.Table, kept: Counter, rejected: dict, broken: dict[str, str]
) -> pa.Table:
    """Fill n_articles, n_rejected, run and batch ids, and processed_at.

    A file whose every article was left out is itself quarantined; a file whose
    chunk crashed is marked failed with the error, so no input is ever dropped.
    """
    rows = files.to_pylist()
    for row in rows:
        fid = row["file_id"]
        rej = rejected.get(fid, {})
        row["n_articles"] = kept.get(fid, 0)
        at_read = row.get("n_rejected") or 0
        row["n_rejected"] = at_read + sum(rej.values())
        row["run_id"], row["batch_id"] = spec.run_id, spec.batch_id
        where = row["source_uri"] + (f" member {row['member']!r}" if row["member"] else "")
        if rej and row["status"] == "ok" and row["n_articles"]:
            row["message"] = rejected_message(
                row["message"], at_read, rej, row["n_articles"], where
            )
        if fid in broken:
            row["status"], row["reason"] = "failed", Reason.PROCESSING_ERROR.value
            row["message"] = f"{where}: processing failed: {broken[fid]}"
            row["n_articles"] = 0
        elif row["status"] == "ok" and row["n_articles"] == 0:
            # every article of the file was unusable: the file itself is bad data
            reason = max(rej, key=rej.get) if rej else Reason.NO_ARTICLES.value
            what = ", ".join(f"{n} {r}" for r, n in sorted(rej.items())) or "no article records"
            row["status"], row["reason"] = "quarantined", reason
            row["message"] = f"{where}: no usable article ({what})"
            quarantine_late(spec, row)
    now = datetime.now(UTC)
    for row in rows:
        row["processed_at"] = now
    return pa.Table.from_pylist(rows)


# fetch's note on records it could not read: "<name>: 2 of 6 records rejected: ...".
_READ_REJECTS = re.compile(r"(?P<n>\d+) of (?P<total>\d+) records rejected")


def rejected_message(
    message: str | None, at_read: int, rejected: dict, kept: int, where: str
) -> str:
    """A usable file's message, with the records cleaning left out counted and named.

    fetch's note counts the records it could not read; cleaning then leaves out others
    (``not_arabic``, ``empty_after_clean``). The words must agree with ``n_rejected``
    (issue 26): the count is restated with both, and each cleaning reason is named.

    >>> rejected_message("a: 2 of 6 records rejected: line 2: x", 2, {"not_arabic": 1}, 3, "a")
    'a: 3 of 6 records rejected: line 2: x; 1 not_arabic'
    """
    n_clean = sum(rejected.values())
    what = ", ".join(f"{n} {reason}" for reason, n in sorted(rejected.items()))
    m = _READ_REJECTS.search(message or "")
    if message and m and int(m["n"]) == at_read:
        total = at_read + n_clean
        restated = f"{total} of {m['total']} records rejected"
        return f"{message[: m.start()]}{restated}{message[m.end():]}; {what}"
    note = f"{where}: {n_clean} of {n_clean + kept} articles left out: {what}"
    return f"{message}; {note}" if message else note


def quarantine_late(spec: BatchSpec, row: dict) -> None:
    """Copy the original of an input found bad after fetch into the run's quarantine."""
    try:
        data = read_input(row["source_uri"], row["member"], spec.params.fetch)
    except OSError:
        data = b""
    write_quarantine(
        str(Path(spec.out) / "_quarantine" / spec.run_id),
        row["source_uri"],
        row["member"],
        data,
        row["file_id"],
        row["reason"],
        row["message"],
    )


def batch_counts(files: pa.Table, chunks: list[dict], parts: list[tuple[int, pa.Table]]) -> dict:
    """Counts of a committed batch for the run summary: files by status, rows, entities."""
    rows = files.to_pylist()
    top: Counter = Counter()
    labels: Counter = Counter()
    for res in chunks:
        labels.update(res.get("entity_labels", {}))
        for text, label, n in res.get("top_entities", []):
            top[(text, label)] += n
    keys = ("source_uri", "member", "format", "encoding", "status", "reason", "n_articles")
    return {
        "files": len(rows),
        "status": dict(Counter(r["status"] for r in rows)),
        "reasons": dict(
            Counter(
                f"{r['status']}:{r['reason']}"
                for r in rows
                if r["reason"] and r["status"] in ("quarantined", "failed")
            )
        ),
        "file_rows": [{k: r[k] for k in (*keys, "message")} for r in rows],
        "articles": sum(t.num_rows for _, t in parts),
        "sentences": sum(r.get("sentences", 0) for r in chunks),
        "tokens": sum(r.get("tokens", 0) for r in chunks),
        "entities": sum(r.get("entities", 0) for r in chunks),
        "oov": sum(r.get("oov", 0) for r in chunks),
        "arabic_tokens": sum(r.get("arabic_tokens", 0) for r in chunks),
        "entity_labels": dict(labels),
        "top_entities": [[t, lab, n] for (t, lab), n in top.most_common(50)],
    }


def finish_articles(articles: pa.Table, sentences: pa.Table, run_id: str) -> pa.Table:
    """Fill a chunk's ``articles.n_sentences`` and ``articles.run_id``."""
    n_sent = Counter(sentences.column("article_id").to_pylist())
    counts = [n_sent.get(a, 0) for a in articles.column("article_id").to_pylist()]
    articles = set_column(articles, "n_sentences", pa.array(counts, pa.int32()))
    return set_column(articles, "run_id", pa.array([run_id] * articles.num_rows, pa.string()))


def token_counts(tokens: pa.Table) -> dict[str, int]:
    """Out-of-vocabulary and Arabic token counts of a chunk, for the run summary."""
    if not tokens.num_rows:
        return {"oov": 0, "arabic_tokens": 0}
    return {
        "oov": int(pc.sum(tokens.column("is_oov")).as_py() or 0),
        "arabic_tokens": int(pc.sum(tokens.column("is_arabic")).as_py() or 0),
    }


def content_counts(tables: dict[str, pa.Table]) -> dict:
    """Row counts of a chunk's sentences, tokens, words and entities, and its top entities.

    Words are the tokens that are not punctuation (UPOS ``PUNCT``).
    """
    ents, toks = tables["entities"], tables["tokens"]
    punct = pc.sum(pc.equal(toks.column("upos").cast(pa.string()), "PUNCT")).as_py() or 0
    labels = ents.column("label").cast(pa.string()).to_pylist()
    names = ents.column("name" if "name" in ents.column_names else "text").to_pylist()
    top = Counter(zip(names, labels, strict=True))  # by name: للبنك and البنك together
    return {
        "sentences": tables["sentences"].num_rows,
        "tokens": toks.num_rows,
        "words": toks.num_rows - punct,
        "entities": ents.num_rows,
        "entity_labels": dict(Counter(labels)),
        "top_entities": [[t, lab, n] for (t, lab), n in top.most_common(50)],
    }
