"""Duplicate assignment at commit time: one batch's articles against the persistent index.

Runs serially in the flow process, after the batch's chunks and before its commit: the
index lives in the dataset, so batches must meet it one at a time, in order. The batch
also stages the whole ``stories`` table as it stands after its commit (issue 15), which
``commit_batch`` publishes in the same version as the articles.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from tasks.annotate import set_column
from tasks.dedup.index import DedupIndex
from tasks.dedup.stories import build_stories, resolve_merges
from tasks.store.reads import snapshot
from tasks.store.staging import BatchSpec, drop_staged_articles, load_stage
from tasks.write import write_batch

# Article columns the stories table is built from.
_STORY_COLUMNS = ["article_id", "file_id", "story_id", "title", "source_name", "published_date"]


def assign_duplicates(
    spec: BatchSpec, parts: list[tuple[int, pa.Table]], replace_file_ids: Iterable[str] = ()
) -> dict:
    """Fill ``duplicate_of``, ``near_duplicate_of`` and ``story_id`` of each chunk's articles.

    ``parts`` holds (chunk, articles) pairs and is updated in place. With
    ``drop_duplicates`` the duplicates' sentences, tokens and entities leave the staged
    Parquet parts too. Saves the index under the batch id and stages the ``stories``
    table of the dataset as it will stand after this batch's commit, which drops the
    earlier rows of ``replace_file_ids``.

    Returns:
        ``exact_duplicates`` and ``near_duplicates`` counts (empty for an empty batch).
    """
    if not parts or not sum(t.num_rows for _, t in parts):
        return {}
    config = spec.params.dedup
    index = DedupIndex.load(spec.out, config)
    articles = pa.concat_tables([t for _, t in parts])
    sigs = pa.concat_tables([load_stage(spec.path("signatures", k)) for k, _ in parts])
    merged_before = set(index.merges)
    assigned = {r["article_id"]: r for r in index.assign(articles, sigs).to_pylist()}
    index.save(spec.batch_id)
    exact = near = 0
    for i, (k, table) in enumerate(parts):
        ids = table.column("article_id").to_pylist()
        for name in ("duplicate_of", "near_duplicate_of", "story_id"):
            values = pa.array([assigned[a][name] for a in ids], pa.string())
            table = set_column(table, name, values)
        exact += int(pc.sum(pc.is_valid(table.column("duplicate_of"))).as_py() or 0)
        near += int(pc.sum(pc.is_valid(table.column("near_duplicate_of"))).as_py() or 0)
        if config.drop_duplicates:
            dup = pc.or_(
                pc.is_valid(table.column("duplicate_of")),
                pc.is_valid(table.column("near_duplicate_of")),
            )
            drop_staged_articles(spec, k, pc.filter(table.column("article_id"), dup))
        parts[i] = (k, table)
    new_merges = set(index.merges) - merged_before
    stories, keys = stories_after_commit(
        spec, [t for _, t in parts], replace_file_ids, index.merges, new_merges
    )
    write_batch({"stories": stories}, spec.stage_dir, spec.batch_id, spec.params.write)
    # Keys whose published rows the commit replaces (or drops: a story left with no article).
    (Path(spec.stage_dir) / "upsert-stories.json").write_text(json.dumps(sorted(keys)))
    return {"exact_duplicates": exact, "near_duplicates": near}


def stories_after_commit(
    spec: BatchSpec,
    batch: list[pa.Table],
    replace_file_ids: Iterable[str],
    merges: dict[str, str],
    new_merges: Iterable[str] = (),
) -> tuple[pa.Table, set[str]]:
    """The rows of the stories this batch touches, as they will stand after its commit.

    Touched: the stories of the batch's articles, of the published articles the commit
    drops (rows of ``replace_file_ids``, re-processed inputs, and the batch's own article
    ids, a re-run) and those ``new_merges`` merged in this batch, with the stories they
    belong to. Their rows are built from their articles alone, read with a filter on
    ``story_id``, so the work follows the batch, not the dataset.

    Returns:
        The rows, and every story id whose published row they replace (a touched story
        left without articles has no row: the commit drops it).
    """
    view = snapshot(spec.out)
    new = pa.concat_tables([t.select(_STORY_COLUMNS) for t in batch])
    replace = pa.array(sorted(set(replace_file_ids)), pa.string())
    gone = ds.field("file_id").isin(replace) | ds.field("article_id").isin(new.column("article_id"))
    dropped = view.read_table("articles", ["story_id"], filter=gone)
    touched = _ids(new.column("story_id")) | _ids(dropped.column("story_id")) | set(new_merges)
    resolved = resolve_merges(merges)
    roots = {resolved.get(s, s) for s in touched}
    members = roots | touched | {s for s, root in resolved.items() if root in roots}
    published = view.read_table(
        "articles",
        _STORY_COLUMNS,
        filter=ds.field("story_id").isin(pa.array(sorted(members), pa.string())) & ~gone,
    )
    articles = pa.concat_tables([published, new.cast(published.schema)])
    stories = build_stories(articles, merges)
    return stories, members | _ids(stories.column("story_id"))


def _ids(column: pa.ChunkedArray) -> set[str]:
    return {s for s in pc.unique(column).to_pylist() if s is not None}
