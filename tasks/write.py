"""Write stage: tables -> Parquet parts, each with its schema from ``tasks/schemas.py``.

Parts are written into a batch's staging directory (``tasks.store.staging``);
``tasks.store.commit_batch`` later publishes them into the dataset.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.config import WriteConfig
from tasks.schemas import ARTICLE_COLUMNS, TABLES, conform


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


def with_article_columns(table: pa.Table, articles: pa.Table) -> pa.Table:
    """``table`` (sentences, tokens, entities) with its articles' ``ARTICLE_COLUMNS``.

    So that consumers prune those tables by date or source without a join (issue 25).

    Rows whose ``article_id`` is not in ``articles`` get nulls.
    """
    ids = articles.column("article_id").combine_chunks()
    index = pc.index_in(table.column("article_id").combine_chunks(), value_set=ids)
    for name in ARTICLE_COLUMNS:
        values = articles.column(name).combine_chunks().take(index)
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, values)
        else:
            table = table.append_column(name, values)
    return table


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


# Merged and compacted parts (issue 25): engines want files of 128 MB-1 GB, not one per chunk.
TARGET_FILE_BYTES = 128 * 1024 * 1024
# A row group is flushed at this many rows or this much Arrow memory, whichever comes first.
ROW_GROUP_ROWS = 1_000_000
ROW_GROUP_BYTES = 64 * 1024 * 1024


class PartWriter:
    """Streams one table's rows into parts of about ``target_bytes`` each.

    Rows are buffered into row groups of up to ``row_group_rows`` rows (or
    ``ROW_GROUP_BYTES`` of Arrow memory, so text-heavy tables get smaller groups), and
    each file is written with the page index (column and offset indexes), so engines
    skip pages as well as row groups. Files are ``<prefix>-NNNN.parquet`` in
    ``directory``, each written under a temp name and renamed when complete.
    """

    def __init__(
        self,
        table_name: str,
        directory: str | Path,
        prefix: str,
        config: WriteConfig,
        target_bytes: int = TARGET_FILE_BYTES,
        row_group_rows: int = ROW_GROUP_ROWS,
    ) -> None:
        self.name = table_name
        self.schema = TABLES[table_name]
        self.directory = Path(directory)
        self.prefix = prefix
        self.config = config
        self.target_bytes = target_bytes
        self.row_group_rows = row_group_rows
        self.paths: list[Path] = []
        self.rows = 0
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self._writer: pq.ParquetWriter | None = None
        self._sink: pa.OSFile | None = None
        self._tmp: Path | None = None

    def write(self, table: pa.Table) -> None:
        """Add rows (conformed to the table's schema)."""
        if not table.num_rows:
            return
        table = conform(table, self.schema)
        self._buffer.append(table)
        self._buffered += table.num_rows
        self.rows += table.num_rows
        nbytes = sum(t.nbytes for t in self._buffer)
        if self._buffered >= self.row_group_rows or nbytes >= ROW_GROUP_BYTES:
            self._flush()

    def close(self, keep_empty: bool = False) -> list[Path]:
        """Finish the last file; with ``keep_empty``, write an empty part if nothing came."""
        self._flush()
        if self._writer is None and keep_empty and not self.paths:
            self._open()
            self._writer.write_table(self.schema.empty_table())
        self._finish_file()
        return self.paths

    def _flush(self) -> None:
        while self._buffered:
            table = pa.concat_tables(self._buffer)
            head = table.slice(0, self.row_group_rows)
            rest = table.slice(self.row_group_rows)
            if self._writer is None:
                self._open()
            self._writer.write_table(head, row_group_size=head.num_rows)
            self._buffer = [rest] if rest.num_rows else []
            self._buffered = rest.num_rows
            if self._sink.tell() >= self.target_bytes:
                self._finish_file()

    def _open(self) -> None:
        compression = None if self.config.compression == "none" else self.config.compression
        level = self.config.compression_level if compression in ("zstd", "gzip") else None
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{self.prefix}-{len(self.paths):04d}.parquet"
        self._tmp = path.with_name(path.name + ".tmp")
        self._sink = pa.OSFile(str(self._tmp), "wb")
        self._writer = pq.ParquetWriter(
            self._sink,
            self.schema,
            compression=compression,
            compression_level=level,
            write_page_index=True,
        )
        self.paths.append(path)

    def _finish_file(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._sink.close()
        os.replace(self._tmp, self.paths[-1])
        self._writer = self._sink = self._tmp = None
