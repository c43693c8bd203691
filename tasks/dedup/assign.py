"""Duplicate assignment at commit time: one batch's articles against the persistent index.

Runs serially in the flow process, after the batch's chunks and before its commit: the
index lives in the dataset, so batches must meet it one at a time, in order.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from tasks.annotate import set_column
from tasks.dedup.index import DedupIndex
from tasks.store.staging import BatchSpec, drop_staged_articles, load_stage


def assign_duplicates(spec: BatchSpec, parts: list[tuple[int, pa.Table]]) -> dict:
    """Fill ``duplicate_of``, ``near_duplicate_of`` and ``story_id`` of each chunk's articles.

    ``parts`` holds (chunk, articles) pairs and is updated in place. With
    ``drop_duplicates`` the duplicates' sentences, tokens and entities leave the staged
    Parquet parts too. Saves the index under the batch id.

    Returns:
        ``exact_duplicates`` and ``near_duplicates`` counts (empty for an empty batch).
    """
    if not parts or not sum(t.num_rows for _, t in parts):
        return {}
    config = spec.params.dedup
    index = DedupIndex.load(spec.out, config)
    articles = pa.concat_tables([t for _, t in parts])
    sigs = pa.concat_tables([load_stage(spec.path("signatures", k)) for k, _ in parts])
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
    return {"exact_duplicates": exact, "near_duplicates": near}
