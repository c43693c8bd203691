"""Tests for tasks.write: tables become Parquet parts with the contract's schema."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from tasks import write
from tasks.config import WriteConfig
from tasks.schemas import TABLES

CFG = WriteConfig()


def _articles() -> pa.Table:
    return pa.table({"article_id": ["a0", "a1"], "file_id": ["f", "f"], "run_id": ["r", "r"]})


def test_write_parquet_leaves_no_temp_file(tmp_path):
    path = tmp_path / "x" / "part-1.parquet"
    write.write_parquet(_articles(), "articles", path, CFG)
    assert [p.name for p in path.parent.iterdir()] == ["part-1.parquet"]


def test_write_batch_stages_one_part_per_table_with_the_contract_schema(tmp_path):
    paths = write.write_batch({"articles": _articles()}, tmp_path, "b1-0000", CFG)
    assert paths == {"articles": str(tmp_path / "parquet" / "articles" / "part-b1-0000.parquet")}
    schema = pq.read_schema(paths["articles"])
    assert schema.names == TABLES["articles"].names
    assert b"akhbar.schema_version" in schema.metadata
