"""Duplicate counts and the largest story clusters of a run, for its summary artifact."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from tasks.config import DedupConfig
from tasks.dedup.index import DedupIndex
from tasks.dedup.signatures import _require
from tasks.store.reads import read_table


@dataclass(frozen=True)
class DedupSummary:
    """Duplicate counts and the largest story clusters, for the run summary artifact."""

    n_articles: int
    n_exact: int
    n_near: int
    n_stories: int  # clusters of size >= 2
    n_in_stories: int
    largest: list[dict]  # story_id, title, size, sources ({source_name: count})


def summarize_duplicates(
    articles: pa.Table, index: DedupIndex | None = None, top: int = 10
) -> DedupSummary:
    """Count duplicates and rank story clusters of an articles table.

    Story ids are resolved through ``index.canonical_story`` when an index is given, so
    stories merged during the run count as one. Sizes count the rows of ``articles`` only.

    Args:
        articles: Needs ``article_id``, ``duplicate_of``, ``near_duplicate_of`` and
            ``story_id``; ``title`` and ``source_name`` are used when present.
        index: The index the stories were assigned with.
        top: How many of the largest clusters to list.
    """
    _require(articles, ("article_id", "duplicate_of", "near_duplicate_of", "story_id"), "articles")
    n = articles.num_rows
    titles = _column_or_nulls(articles, "title")
    sources = _column_or_nulls(articles, "source_name")
    members: dict[str, list[int]] = {}
    for row, story in enumerate(articles.column("story_id").to_pylist()):
        if story is not None:
            story = index.canonical_story(story) if index is not None else story
            members.setdefault(story, []).append(row)
    clusters = sorted(
        ((s, rows) for s, rows in members.items() if len(rows) >= 2),
        key=lambda item: (-len(item[1]), item[1][0]),
    )
    largest = []
    for story, rows in clusters[:top]:
        counts: dict[str, int] = {}
        for r in rows:
            name = sources[r] or "?"
            counts[name] = counts.get(name, 0) + 1
        largest.append(
            {
                "story_id": story,
                "title": next((titles[r] for r in rows if titles[r]), None),
                "size": len(rows),
                "sources": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
            }
        )
    return DedupSummary(
        n_articles=n,
        n_exact=n - articles.column("duplicate_of").null_count,
        n_near=n - articles.column("near_duplicate_of").null_count,
        n_stories=len(clusters),
        n_in_stories=sum(len(rows) for _, rows in clusters),
        largest=largest,
    )


def _column_or_nulls(table: pa.Table, name: str) -> list:
    if name in table.column_names:
        return table.column(name).to_pylist()
    return [None] * table.num_rows


def summarize_stories(out: str, config: DedupConfig) -> dict:
    """Largest near-duplicate story clusters of a whole dataset, for the run summary."""
    cols = ["article_id", "duplicate_of", "near_duplicate_of", "story_id", "title", "source_name"]
    found = summarize_duplicates(read_table(out, "articles", cols), DedupIndex.load(out, config))
    return {
        "n_stories": found.n_stories,
        "n_in_stories": found.n_in_stories,
        "largest": found.largest,
    }
