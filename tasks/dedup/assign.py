"""Duplicate assignment at commit time: one batch's articles against the persistent index.

Runs serially in the flow process, after the batch's chunks and before its commit: the
index lives in the dataset, so batches must meet it one at a time, in order. The batch
also stages the whole ``stories`` table as it stands after its commit (issue 15), which
``commit_batch`` publishes in the same version as the articles.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from tasks.annotate import set_column
from tasks.dedup.index import DedupIndex
from tasks.dedup.stories import build_stories
from tasks.store.commit import LINKS, RELINK
from tasks.store.reads import read_table
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
    Parquet parts too. Saves the index under the batch id and stages the ``stories``
    table of the dataset as it will stand after this batch's commit, which drops the
    earlier rows of ``replace_file_ids``.

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
    published = read_table(spec.out, "articles", [*_STORY_COLUMNS, *LINKS[:2]])
    leaving = pc.or_(
        pc.is_in(published.column("file_id"), pa.array(replace, pa.string())),
        pc.is_in(published.column("article_id"), batch_ids),
    )
    staying = published.filter(pc.invert(leaving))
    index.retain(set(staying.column("article_id").to_pylist()) | set(batch_ids.to_pylist()))
    counts = {}
    if assign and n_rows:
        counts = _assign_batch(spec, parts, index)
    index.save(spec.batch_id)
    staying, relink = relink_published(index, staying)
    if relink.num_rows:
        save_stage(relink, Path(spec.stage_dir) / RELINK)
    held = staying.select(_STORY_COLUMNS)
    new = [t.select(_STORY_COLUMNS).cast(held.schema) for _, t in parts if assign and t.num_rows]
    articles = pa.concat_tables([held, *new])
    stories = build_stories(articles, index.merges)
    write_batch({"stories": stories}, spec.stage_dir, spec.batch_id, spec.params.write)
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


def relink_published(index: DedupIndex, published: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Published articles with the index's links, and the rows whose links changed.

    In a consistent dataset every indexed article's row carries the index's answer;
    after ``DedupIndex.retain`` the links it recomputed differ. Comparing with the
    index (rather than listing what ``retain`` changed) also repairs the rows of a run
    killed between saving the index and committing.

    Returns:
        ``(published, relink)``: ``published`` with the links replaced, and an
        ``ASSIGNMENTS``-shaped table of the changed rows (``article_id`` + ``LINKS``).
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
                current[name][k] = value
    relink = pa.table({name: pa.array(v, pa.string()) for name, v in changed.items()})
    if relink.num_rows:
        for name in LINKS:
            typ = published.schema.field(name).type
            published = set_column(published, name, pa.array(current[name], pa.string()).cast(typ))
    return published, relink

