"""Compaction (issue 25): rewrite the tables into big files sorted by date, as a new version.

What Delta's ``OPTIMIZE`` does for its readers, on plain Parquet folders:

- every table's parts (those committed before ``before``, or all) are rewritten into
  files of about ``TARGET_FILE_BYTES`` (128 MB), with the page index;
- rows are sorted so that row-group statistics prune: articles by
  ``(published_date, source_name, article_id)``, sentences, tokens and entities by
  ``(published_date, article_id, sentence_index, token_index)``, stories by
  ``(first_seen, story_id)``, files by ``(processed_at, file_id)``;
- children written before ``published_date`` existed get it (and ``source_name``) from
  their article on the way;
- the result is published like any commit: journaled, one table switch each, a new
  version, the old parts kept in ``_history`` for ``--as-of`` and pruned by retention.

DuckDB does the sort (out of core, in the staging directory, under ``memory_limit``) and
streams the sorted rows to ``tasks.write.PartWriter``. It takes the writer lock, so it
never runs beside a pipeline run.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from tasks.config import WriteConfig
from tasks.store.commit import COMMIT_ORDER, part_group, publish
from tasks.store.lock import acquire_lock
from tasks.store.recovery import recover
from tasks.store.staging import new_run_id, remove_run_staging, staging_dir
from tasks.store.versions import Version, current_version, part_path, prune_versions
from tasks.write import ROW_GROUP_ROWS, TARGET_FILE_BYTES, PartWriter

SORT_KEYS = {
    "articles": ("published_date", "source_name", "article_id"),
    "sentences": ("published_date", "article_id", "sentence_index"),
    "tokens": ("published_date", "article_id", "sentence_index", "token_index"),
    "entities": ("published_date", "article_id", "sentence_index", "token_start"),
    "stories": ("first_seen", "story_id"),
    "files": ("processed_at", "file_id"),
}
CHILDREN = ("sentences", "tokens", "entities")
COMPACT_SUFFIX = "compact"
_STAMP = re.compile(r"(\d{8}T\d{6}Z)")
_BATCH_ROWS = 100_000


@dataclass
class CompactResult:
    """What a compaction did: per table, parts before and after, and rows rewritten."""

    run_id: str
    version: int | None = None
    tables: dict[str, dict[str, int]] = field(default_factory=dict)


def committed_at(out: Path, table: str, name: str) -> datetime:
    """When a part was committed: the run timestamp in its name, else its file's mtime."""
    found = _STAMP.search(part_group(name))
    if found:
        return datetime.strptime(found.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return datetime.fromtimestamp(os.stat(part_path(out, table, name)).st_mtime, UTC)


def compact(
    out: str | Path,
    before: date | None = None,
    config: WriteConfig | None = None,
    target_bytes: int = TARGET_FILE_BYTES,
    row_group_rows: int = ROW_GROUP_ROWS,
    memory_limit: str = "1GB",
) -> CompactResult:
    """Rewrite the dataset's tables into large sorted files and publish them as a version.

    Args:
        out: The dataset.
        before: Only parts committed before this day (UTC) are rewritten; later ones
            stay as they are. None: all parts.
        config: Compression and retention (``keep_runs``, ``keep_days``).
        target_bytes: Size at which a new file is started.
        row_group_rows: Rows per row group (fewer for wide rows, see ``PartWriter``).
        memory_limit: DuckDB's memory for the sort; beyond it, it spills to staging.

    Returns:
        Per table ``parts_before``, ``parts_after`` and ``rows``; ``version`` is None when
        there was nothing to do (the selection is already one compaction).
    """
    out = Path(out)
    config = config or WriteConfig()
    run_id = new_run_id()
    result = CompactResult(run_id)
    with acquire_lock(out, run_id):
        recover(out)
        prune_versions(out, config.keep_runs, config.keep_days)
        base = current_version(out)
        groups = _selected_groups(out, base, before)
        if len(groups) <= 1 and all(g.endswith(COMPACT_SUFFIX) for g in groups):
            return result  # nothing, or a single compaction already
        batch_id = f"{run_id}-{COMPACT_SUFFIX}"
        stage = staging_dir(out, run_id, batch_id)
        con = duckdb.connect()
        con.execute(f"set memory_limit = '{memory_limit}'")
        con.execute(f"set temp_directory = '{stage / 'duckdb'}'")
        con.execute("set preserve_insertion_order = true")
        added, retired = {}, {}
        articles = [str(part_path(out, "articles", p)) for p in base.tables.get("articles", [])]
        for table in COMMIT_ORDER:
            parts = [p for p in base.tables.get(table, []) if part_group(p) in groups]
            if not parts:
                continue
            writer = PartWriter(
                table,
                stage / "merged" / table,
                f"part-{batch_id}",
                config,
                target_bytes,
                row_group_rows,
            )
            paths = [str(part_path(out, table, p)) for p in parts]
            query = _sorted_sql(con, table, paths, articles)
            relation = con.sql(query, params=_params(table, paths, articles))
            for batch in relation.to_arrow_reader(_BATCH_ROWS):
                writer.write(pa.Table.from_batches([batch]))
            added[table] = writer.close(keep_empty=len(parts) == len(base.tables[table]))
            retired[table] = parts
            result.tables[table] = {
                "parts_before": len(base.tables[table]),
                "parts_after": len(base.tables[table]) - len(parts) + len(added[table]),
                "rows": writer.rows,
            }
        con.close()
        version = publish(out, stage, run_id, batch_id, base, added, retired)
        remove_run_staging(out, run_id)
        result.version = version.number
    return result


def _selected_groups(out: Path, base: Version, before: date | None) -> set[str]:
    groups: set[str] = set()
    for table, names in base.tables.items():
        for name in names:
            if before is None or committed_at(out, table, name).date() < before:
                groups.add(part_group(name))
    return groups


def _columns(con: duckdb.DuckDBPyConnection, paths: list[str]) -> list[str]:
    rows = con.execute("describe select * from read_parquet(?, union_by_name = true)", [paths])
    return [r[0] for r in rows.fetchall()]


def _sorted_sql(
    con: duckdb.DuckDBPyConnection, table: str, paths: list[str], articles: list[str]
) -> str:
    order = ", ".join(f"{c} nulls last" for c in SORT_KEYS[table])
    source = "read_parquet($paths, union_by_name = true)"
    if table not in CHILDREN or not articles:
        return f"select * from {source} order by {order}"
    # Children of parts older than issue 25 get their article's date and source here.
    have = set(_columns(con, paths))
    own = [c for c in ("published_date", "source_name") if c in have]
    fill = ", ".join(
        f"coalesce(c.{c}, a._{c}) as {c}" if c in own else f"a._{c} as {c}"
        for c in ("published_date", "source_name")
    )
    exclude = f" exclude ({', '.join(own)})" if own else ""
    return (
        f"select c.*{exclude}, {fill} from {source} c left join ("
        "select article_id as _aid, published_date as _published_date, "
        "source_name as _source_name from read_parquet($articles, union_by_name = true)"
        f") a on c.article_id = a._aid order by {order}"
    )


def _params(table: str, paths: list[str], articles: list[str]) -> dict:
    if table in CHILDREN and articles:
        return {"paths": paths, "articles": articles}
    return {"paths": paths}
