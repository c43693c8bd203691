"""The throughput optimisations of issue 14 leave the published tables unchanged.

Four ``akhbar run data/samples`` into fresh datasets, sharing one private cache
directory: the reference without the persistent analysis cache, then a cold and a warm
cache, and one whose chunks run in the worker pool (issue 21). Records are streamed to
chunks by fetch and the commit reads articles chunk by chunk in all of them. Every table
must be the same apart from the run's own ids and clock.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tasks.schemas import TABLES
from tests.flows.prefect_server import PrefectServer

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
AKHBAR = Path(sys.executable).parent / "akhbar"
# Columns that name the run, its batches or its clock: they differ by design.
VOLATILE = {"run_id", "batch_id", "processed_at"}


def _run(out: Path, cache: Path, server: PrefectServer, *extra: str, workers: str = "1") -> dict:
    proc = subprocess.run(
        [str(AKHBAR), "run", str(SAMPLES), "--out", str(out), "--workers", workers, "--json"]
        + list(extra),
        capture_output=True,
        text=True,
        env={**server.env, "AKHBAR_CACHE_DIR": str(cache)},
        timeout=300,
    )
    assert proc.returncode == 0, f"akhbar exited {proc.returncode}\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout)


def _tables(out: Path) -> dict[str, pd.DataFrame]:
    tables = {}
    for name in TABLES:
        df = pd.read_parquet(out / name)
        df = df.drop(columns=[c for c in df.columns if c in VOLATILE])
        keys = [c for c in ("file_id", "article_id", "sentence_index", "token_index",
                            "token_start") if c in df.columns]
        tables[name] = df.sort_values(keys, kind="stable").reset_index(drop=True)
    return tables


@pytest.fixture(scope="module")
def three_runs(prefect_server: PrefectServer, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("optimisations")
    cache = root / "cache"
    runs = {}
    runs["reference"] = _run(root / "reference", cache, prefect_server, "--no-analysis-cache")
    assert not list(cache.glob("analyses-*.sqlite"))
    runs["cold"] = _run(root / "cold", cache, prefect_server)
    cached = list(cache.glob("analyses-*.sqlite"))
    runs["warm"] = _run(root / "warm", cache, prefect_server)
    # The chunks in a worker of the pool forked from the fork server (issue 21).
    runs["pool"] = _run(root / "pool", cache, prefect_server, workers="2")
    return root, runs, cached


def test_cold_run_fills_the_persistent_cache(three_runs) -> None:
    _, _, cached = three_runs
    assert len(cached) == 1 and cached[0].stat().st_size > 0


def test_the_pool_run_used_worker_processes(three_runs) -> None:
    _, runs, _ = three_runs
    assert runs["pool"]["workers"] == 2 and runs["warm"]["workers"] == 0


@pytest.mark.parametrize("variant", ["cold", "warm", "pool"])
def test_tables_are_identical_to_the_reference(three_runs, variant: str) -> None:
    root, runs, _ = three_runs
    assert runs[variant]["tokens"] == runs["reference"]["tokens"] > 0
    reference, other = _tables(root / "reference"), _tables(root / variant)
    for name in TABLES:
        pd.testing.assert_frame_equal(other[name], reference[name], obj=f"{variant} {name}")
