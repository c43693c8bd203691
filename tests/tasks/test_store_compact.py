"""Tests for tasks.store.compact: big sorted files, published as a version (issue 25)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from tasks import store, write
from tasks.config import WriteConfig
from tasks.store import versions
from tasks.store.compact import committed_at, compact

CFG = WriteConfig()


def _commit(out, run_id: str, seq: int, day: int, old_schema: bool = False) -> None:
    """One batch of 2 chunks of 3 articles (dated ``day``, ``day``+5, ``day``-3), 2 tokens each."""
    batch_id = f"{run_id}-{seq:05d}"
    stage = store.staging_dir(out, run_id, batch_id)
    fids = []
    for k in range(2):
        fid = f"f{run_id}{seq}{k}"
        fids.append(fid)
        aids = [f"{fid}-a{i}" for i in range(3)]
        days = [date(2025, 3, d) for d in (day, day + 5, day - 3)]
        articles = pa.table(
            {
                "article_id": aids,
                "file_id": [fid] * 3,
                "run_id": [run_id] * 3,
                "published_date": days,
                "source_name": ["spa", "okaz", "spa"],
                "story_id": aids,
            }
        )
        tokens = pa.table(
            {
                "article_id": aids * 2,
                "sentence_index": pa.array([0] * 6, pa.int32()),
                "token_index": pa.array([0, 0, 0, 1, 1, 1], pa.int32()),
            }
        )
        if not old_schema:
            tokens = write.with_article_columns(tokens, articles)
        write.write_batch(
            {"articles": articles, "tokens": tokens}, stage, f"{batch_id}-{k:04d}", CFG
        )
    files = pa.table(
        {
            "file_id": fids,
            "source_uri": [f"/in/{f}" for f in fids],
            "status": ["ok"] * 2,
            "run_id": [run_id] * 2,
            "processed_at": pa.array([datetime.now(UTC)] * 2, pa.timestamp("us", tz="UTC")),
        }
    )
    write.write_batch({"files": files}, stage, batch_id, CFG)
    store.commit_batch(out, stage, batch_id, (), CFG)
    if old_schema:  # a part written before issue 25: tokens without the article columns
        for name in versions.current_version(out).tables["tokens"]:
            path = versions.part_path(out, "tokens", name)
            table = pq.read_table(path)
            if table.column("published_date").null_count == table.num_rows:
                pq.write_table(table.drop_columns(["published_date", "source_name"]), path)


def _keys(table: pa.Table, columns: list[str]) -> list[tuple]:
    return [tuple(r[c] for c in columns) for r in table.select(columns).to_pylist()]


def _rows(out, table: str, as_of=None) -> list[dict]:
    rows = store.read_table(out, table, as_of=as_of).to_pylist()
    return sorted(rows, key=lambda r: sorted((k, str(v)) for k, v in r.items()))


def test_compact_rewrites_each_table_into_one_sorted_file_with_the_same_rows(tmp_path):
    runs = ["20250301T060000Z-aaaaaa", "20250302T060000Z-bbbbbb", "20250303T060000Z-cccccc"]
    for seq, run in enumerate(runs):
        _commit(tmp_path, run, seq, day=10 + seq, old_schema=seq == 0)
    before = {t: _rows(tmp_path, t) for t in ("articles", "files")}
    tokens_before = store.read_table(tmp_path, "tokens", ["article_id", "token_index"])
    result = compact(tmp_path, row_group_rows=4)
    v = versions.current_version(tmp_path)
    assert result.version == v.number and v.run_id == result.run_id
    for table in ("articles", "tokens", "files"):
        assert len(v.tables[table]) == 1, table  # 3 parts each before
        assert sorted(p.name for p in (tmp_path / table).glob("*.parquet")) == v.tables[table]
    assert {t: _rows(tmp_path, t) for t in ("articles", "files")} == before
    tokens = store.read_table(tmp_path, "tokens")
    assert sorted(_keys(tokens, ["article_id", "token_index"])) == sorted(
        _keys(tokens_before, ["article_id", "token_index"])
    )
    # the old-schema tokens got their article's date and source
    assert tokens.column("published_date").null_count == 0
    assert tokens.column("source_name").null_count == 0
    # articles' row groups are ordered by date (row-group statistics), with the page index
    meta = pq.ParquetFile(
        versions.part_path(tmp_path, "articles", v.tables["articles"][0])
    ).metadata
    assert meta.num_row_groups == 5  # 18 articles, 4 per group
    col = meta.schema.to_arrow_schema().get_field_index("published_date")
    stats = [meta.row_group(i).column(col).statistics for i in range(meta.num_row_groups)]
    assert all(a.max <= b.min for a, b in zip(stats, stats[1:], strict=False))
    assert meta.row_group(0).column(col).has_offset_index
    # tokens are sorted by (published_date, article_id, sentence_index, token_index)
    keys = _keys(tokens, ["published_date", "article_id", "token_index"])
    assert keys == sorted(keys)
    # the run before the compaction still reads as it was (parts kept in _history)
    assert _rows(tmp_path, "articles", as_of=runs[-1]) == before["articles"]
    # nothing left to do: a second compaction publishes nothing
    assert compact(tmp_path).version is None


def test_compact_before_a_day_leaves_later_commits_alone(tmp_path):
    runs = ["20250301T060000Z-aaaaaa", "20250302T060000Z-bbbbbb", "20250303T060000Z-cccccc"]
    for seq, run in enumerate(runs):
        _commit(tmp_path, run, seq, day=10 + seq)
    result = compact(tmp_path, before=date(2025, 3, 3))
    v = versions.current_version(tmp_path)
    assert result.tables["articles"] == {"parts_before": 3, "parts_after": 2, "rows": 12}
    kept = [n for n in v.tables["articles"] if runs[2] in n]
    assert len(kept) == 1
    assert committed_at(tmp_path, "articles", kept[0]).date() == date(2025, 3, 3)
    assert store.read_table(tmp_path, "articles").num_rows == 18


def test_parts_a_compaction_replaced_are_pruned_with_their_versions(tmp_path):
    runs = ["20250301T060000Z-aaaaaa", "20250302T060000Z-bbbbbb"]
    for seq, run in enumerate(runs):
        _commit(tmp_path, run, seq, day=10 + seq)
    compact(tmp_path)
    history = tmp_path / "_history" / "tokens"
    assert len(list(history.glob("*.parquet"))) == 3  # two old parts kept for --as-of
    store.prune_versions(tmp_path, keep_runs=1, keep_days=0)
    current = versions.current_version(tmp_path).tables["tokens"]
    assert sorted(p.name for p in history.glob("*.parquet")) == current
    assert store.read_table(tmp_path, "tokens").num_rows == 24
