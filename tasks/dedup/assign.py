"""Duplicate assignment at commit time: one batch's articles against the persistent index.

Runs serially in the flow process, after the batch's chunks and before its commit: the
index lives in the dataset, so batches must meet it one at a time, in order. The batch
also stages the rows of the stories it touches as they stand after its commit (issue
25), which ``commit_batch`` upserts in the same version as the articles, and the
published articles whose links it recomputed (issue 26).
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
from tasks.store.commit import LINKS, RELINK, apply_relink
from tasks.store.reads import snapshot
from tasks.store.staging import BatchSpec, drop_staged_articles, load_stage, save_stage
from tasks.write import write_batch

# Article columns the stories table is built from.
_STORY_COLUMNS = ["article_id", "file_id", "story_id", "title", "source_name", "published_date"]


def assign_duplicates(
    spec: BatchSpec,
    parts: list[tuple[int, pa.Table]],
    replace_file_ids: Iterable[str] = (),
    assign: bool = True,
) -> dict:
    """Fill ``duplicate_of``, ``near_duplicate_of`` and ``story_id`` of each chunk's articles.

    ``parts`` holds (chunk, articles) pairs and is updated in place. With
    ``drop_duplicates`` the duplicates' sentences, tokens and entities leave the staged
    Parquet parts too. Saves the index under the batch id and stages the rows of the
    stories the batch touches, as they will stand after this batch's commit, which
    drops the earlier rows of ``replace_file_ids``.

    Every link stays resolvable (issue 26): the index first forgets the articles the
    commit removes (an edited input's old version), links that pointed at them are
    recomputed, and published articles whose links changed are staged in ``RELINK``
    for ``commit_batch`` to rewrite. With ``assign`` False (``--no-dedup``) the batch's
    own articles get no links, but the links of the others are still repaired.

    Returns:
        ``exact_duplicates`` and ``near_duplicates`` counts (empty when nothing ran).
    """
    replace = sorted(set(replace_file_ids))
    n_rows = sum(t.num_rows for _, t in parts)
    if not n_rows and not replace:
        return {}
    config = spec.params.dedup
    if not assign and not DedupIndex.exists(spec.out):
        return {}
    index = DedupIndex.load(spec.out, config)
    batch_ids = pa.array(
        [a for _, t in parts for a in t.column("article_id").to_pylist()], pa.string()
    )
    published = snapshot(spec.out).read_table("articles", ["article_id", "file_id", *LINKS])
    leaving = pc.or_(
        pc.is_in(published.column("file_id"), pa.array(replace, pa.string())),
        pc.is_in(published.column("article_id"), batch_ids),
    )
    staying = published.filter(pc.invert(leaving))
    merged_before = dict(index.merges)
    index.retain(set(staying.column("article_id").to_pylist()) | set(batch_ids.to_pylist()))
    counts = {}
    if assign and n_rows:
        counts = _assign_batch(spec, parts, index)
    index.save(spec.batch_id)
    relink = changed_links(index, staying)
    if relink.num_rows:
        save_stage(relink, Path(spec.stage_dir) / RELINK)
    merges = index.merges
    touched = {s for s in {*merged_before, *merges} if merged_before.get(s) != merges.get(s)}
    if relink.num_rows:
        old = staying.filter(pc.is_in(staying.column("article_id"), relink.column("article_id")))
        touched |= _ids(old.column("story_id")) | _ids(relink.column("story_id"))
    batch = [t for _, t in parts if assign and t.num_rows]
    stories, keys = stories_after_commit(spec, batch, replace, merges, touched, relink)
    write_batch({"stories": stories}, spec.stage_dir, spec.batch_id, spec.params.write)
    # Keys whose published rows the commit replaces (or drops: a story left with no article).
    (Path(spec.stage_dir) / "upsert-stories.json").write_text(json.dumps(sorted(keys)))
    return counts


def _assign_batch(spec: BatchSpec, parts: list[tuple[int, pa.Table]], index: DedupIndex) -> dict:
    config = spec.params.dedup
    articles = pa.concat_tables([t for _, t in parts if t.num_rows])
    sigs = pa.concat_tables(
        [load_stage(spec.path("signatures", k)) for k, t in parts if t.num_rows]
    )
    assigned = {r["article_id"]: r for r in index.assign(articles, sigs).to_pylist()}
    exact = near = 0
    for i, (k, table) in enumerate(parts):
        ids = table.column("article_id").to_pylist()
        for name in LINKS:
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
    return {"exact_duplicates": exact, "near_duplicates": near}


def changed_links(index: DedupIndex, published: pa.Table) -> pa.Table:
    """The published articles whose links differ from the index's, with the index's links.

    In a consistent dataset every indexed article's row carries the index's answer;
    after ``DedupIndex.retain`` the links it recomputed differ. Comparing with the
    index (rather than listing what ``retain`` changed) also repairs the rows of a run
    killed between saving the index and committing.

    Returns:
        A table of ``article_id`` + ``LINKS`` for the changed rows.
    """
    ids = published.column("article_id").to_pylist()
    current = {name: published.column(name).to_pylist() for name in LINKS}
    changed: dict[str, list] = {"article_id": [], **{name: [] for name in LINKS}}
    for k, aid in enumerate(ids):
        entry = index.entry(aid)
        if entry is None:
            continue
        want = (entry.duplicate_of, entry.near_duplicate_of, entry.story_id)
        if want != tuple(current[name][k] for name in LINKS):
            changed["article_id"].append(aid)
            for name, value in zip(LINKS, want, strict=True):
                changed[name].append(value)
    return pa.table({name: pa.array(v, pa.string()) for name, v in changed.items()})


def stories_after_commit(
    spec: BatchSpec,
    batch: list[pa.Table],
    replace_file_ids: Iterable[str],
    merges: dict[str, str],
    touched_stories: Iterable[str] = (),
    relink: pa.Table | None = None,
) -> tuple[pa.Table, set[str]]:
    """The rows of the stories this batch touches, as they will stand after its commit.

    Touched: the stories of the batch's articles, of the published articles the commit
    drops (rows of ``replace_file_ids``, re-processed inputs, and the batch's own article
    ids, a re-run), ``touched_stories`` (merged, renamed or relinked in this batch), with
    the stories they belong to. Their rows are built from their articles alone (with the
    links of ``relink``), read with a filter on ``story_id``, so the work follows the
    batch, not the dataset.

    Returns:
        The rows, and every story id whose published row they replace (a touched story
        left without articles has no row: the commit drops it).
    """
    view = snapshot(spec.out)
    new = [t.select(_STORY_COLUMNS) for t in batch]
    new_ids = pa.array([a for t in new for a in t.column("article_id").to_pylist()], pa.string())
    replace = pa.array(sorted(set(replace_file_ids)), pa.string())
    gone = ds.field("file_id").isin(replace) | ds.field("article_id").isin(new_ids)
    dropped = view.read_table("articles", ["story_id"], filter=gone)
    touched = {s for t in new for s in _ids(t.column("story_id"))}
    touched |= _ids(dropped.column("story_id")) | set(touched_stories)
    resolved = resolve_merges(merges)
    roots = {resolved.get(s, s) for s in touched}
    members = roots | touched | {s for s, root in resolved.items() if root in roots}
    published = view.read_table(
        "articles",
        _STORY_COLUMNS,
        filter=ds.field("story_id").isin(pa.array(sorted(members), pa.string())) & ~gone,
    )
    if relink is not None and relink.num_rows:
        published = apply_relink(published, relink)
    articles = pa.concat_tables([published, *(t.cast(published.schema) for t in new)])
    stories = build_stories(articles, merges)
    return stories, members | _ids(stories.column("story_id"))


def _ids(column: pa.ChunkedArray) -> set[str]:
    return {s for s in pc.unique(column).to_pylist() if s is not None}
