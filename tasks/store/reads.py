"""Reads of the published dataset: tables and the manifest of inputs already held."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from tasks.schemas import TABLES

_PROCESSED = ("ok", "quarantined", "skipped_unchanged")


def read_table(out: str | Path, name: str, columns: list[str] | None = None) -> pa.Table:
    """Read one published table of a dataset (empty table with the schema if none yet)."""
    path = Path(out) / name
    schema = TABLES[name]
    parts = sorted(path.glob("part-*.parquet")) if path.is_dir() else []
    if not parts:
        empty = schema.empty_table()
        return empty.select(columns) if columns else empty
    import pyarrow.dataset as ds

    return ds.dataset([str(p) for p in parts], schema=schema, format="parquet").to_table(
        columns=columns
    )


def load_manifest(out: str | Path) -> dict[tuple[str, str | None], str]:
    """``(source_uri, member) -> sha256`` of inputs the dataset already holds.

    Built from the ``files`` table: the latest processed row of each input.
    """
    files = read_table(out, "files", ["source_uri", "member", "sha256", "status", "processed_at"])
    if not files.num_rows:
        return {}
    latest: dict[tuple[str, str | None], tuple] = {}
    for row in files.to_pylist():
        key = (row["source_uri"], row["member"])
        stamp = row["processed_at"] or datetime.min.replace(tzinfo=UTC)
        if key not in latest or stamp >= latest[key][0]:
            latest[key] = (stamp, row["status"], row["sha256"])
    return {k: v[2] for k, v in latest.items() if v[1] in _PROCESSED and v[2]}


def known_file_ids(out: str | Path) -> set[str]:
    """file_ids that have rows in the published ``articles`` table."""
    table = read_table(out, "articles", ["file_id"])
    return set(pc.unique(table.column("file_id")).to_pylist()) if table.num_rows else set()
