"""Write stage: tables -> Parquet parts, each with its schema from ``tasks/schemas.py``.

Parts are written into a batch's staging directory (``tasks.store.staging``);
``tasks.store.commit_batch`` later publishes them into the dataset.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tasks.config import WriteConfig
from tasks.schemas import TABLES, conform


def write_parquet(table: pa.Table, table_name: str, path: str | Path, config: WriteConfig) -> str:
    """Write ``table`` with its schema from ``tasks/schemas.py`` (schema version in metadata)."""
    schema = TABLES[table_name]
    table = conform(table, schema)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    compression = None if config.compression == "none" else config.compression
    level = config.compression_level if compression in ("zstd", "gzip") else None
    pq.write_table(
        table,
        tmp,
        compression=compression,
        compression_level=level,
        row_group_size=256_000,
    )
    os.replace(tmp, path)
    return str(path)


def write_batch(
    tables: Mapping[str, pa.Table], stage: str | Path, part: str, config: WriteConfig
) -> dict[str, str]:
    """Write tables as Parquet into the staging dir, as ``part-<part>.parquet`` of each table.

    Returns table -> staged path. ``commit_batch`` later moves every staged part into place.
    """
    out = {}
    for name, table in tables.items():
        path = Path(stage) / "parquet" / name / f"part-{part}.parquet"
        out[name] = write_parquet(table, name, path, config)
    return out
