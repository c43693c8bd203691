"""The Spark recipe of docs/output.md, run with real pyspark (issue 25).

One Spark session (``local[1]``, 1 GB) for the module. Skips with a message where Java or
pyspark is missing (``.ci/run`` installs pyspark when ``java`` exists).
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from flows.cli import main
from tasks.schemas import TABLES
from tasks.store import snapshot
from tests.flows.prefect_server import REPO
from tests.tasks.test_store_compact import _commit

if shutil.which("java") is None:
    pytest.skip("Spark recipe: no java on PATH (Spark needs a JVM)", allow_module_level=True)
pyspark = pytest.importorskip(
    "pyspark", reason="Spark recipe: pyspark is not installed (pip install 'akhbar[spark]')"
)

_SECTION = "## Large datasets: compaction, snapshot reads, Spark"


def _section() -> str:
    text = (REPO / "docs" / "output.md").read_text(encoding="utf-8")
    start = text.index(_SECTION)
    nxt = re.search(r"^## ", text[start + len(_SECTION) :], re.M)
    return text[start : start + len(_SECTION) + nxt.start()] if nxt else text[start:]


def _spark_blocks() -> list[str]:
    spark_part = _section().split("### Spark", 1)[1]
    return re.findall(r"```python\n(.*?)```", spark_part, re.S)


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def mixed_dataset(tmp_path_factory) -> Path:
    """Three commits, the first written before schema 1.1 (tokens without the dates)."""
    out = tmp_path_factory.mktemp("spark") / "out"
    runs = ["20250301T060000Z-aaaaaa", "20250302T060000Z-bbbbbb", "20250303T060000Z-cccccc"]
    for seq, run in enumerate(runs):
        _commit(out, run, seq, day=10 + seq, old_schema=seq == 0)
    return out


def _run_recipe(out: Path) -> dict:
    ns: dict = {"__name__": "snippet"}
    for code in _spark_blocks():
        exec(compile(code.replace('"data/out"', repr(str(out))), "spark", "exec"), ns)  # noqa: S102
    return ns


def _pyarrow_count(folder: Path) -> int:
    return ds.dataset(folder, format="parquet").count_rows()


def test_spark_counts_per_table_folder_equal_pyarrow(spark, mixed_dataset):
    ns = _run_recipe(mixed_dataset)
    for name in TABLES:
        if not (mixed_dataset / name).is_dir():
            continue
        assert ns["table"](name).count() == _pyarrow_count(mixed_dataset / name), name
    tokens = ns["table"]("tokens")
    # mergeSchema: the old parts read, their new columns null
    assert {"published_date", "source_name"} <= set(tokens.columns)
    nulls = tokens.where("published_date is null").count()
    assert 0 < nulls < tokens.count()
    assert ns["per_day"].count() == 0  # our tokens carry no UPOS
    # the snapshot read sees one version, the same rows as pyarrow
    assert ns["joined"].count() == snapshot(mixed_dataset).read_table("tokens").num_rows


def test_spark_after_compaction_and_a_snapshot_kept_across_it(spark, mixed_dataset, capsys):
    ns = _run_recipe(mixed_dataset)
    before = {n: _pyarrow_count(mixed_dataset / n) for n in ("articles", "tokens", "files")}
    held = ns["tokens_v"]  # made before the compaction from the version's _history files
    # the section's shell lines: compact, then paths
    for code in re.findall(r"```sh\n(.*?)```", _section(), re.S):
        for line in code.splitlines():
            argv = shlex.split(line.split("#")[0])
            if argv and argv[0] == "akhbar" and "--before" not in argv:
                argv = [str(mixed_dataset) if a == "data/out" else a for a in argv[1:]]
                assert main(argv) == 0, line
    printed = capsys.readouterr().out.split()
    listed = [p for p in printed if p.endswith(".parquet")]
    assert len(listed) == 1 and "/_history/tokens/" in listed[0]  # compacted: one file
    for name, n in before.items():
        assert len(list((mixed_dataset / name).glob("*.parquet"))) == 1
        assert ns["table"](name).count() == n == _pyarrow_count(mixed_dataset / name)
    tokens = ns["table"]("tokens")
    assert tokens.where("published_date is null").count() == 0  # filled by the compaction
    assert held.count() == before["tokens"]  # its parts were retired, not deleted
