"""``akhbar run --dask-address``: the batch tasks run on an existing Dask cluster.

A ``LocalCluster`` of 2 worker processes stands in for a real cluster; the CLI runs
against the session's Prefect server and must publish the same dataset as the
in-process run of the ``sample_dataset`` fixture, with the chunk tasks executed by
the Dask workers (they import the stage modules; the CLI process hands them the work).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from tests.flows.prefect_server import REPO, PrefectServer

distributed = pytest.importorskip("distributed")
pytest.importorskip("prefect_dask")

AKHBAR = Path(sys.executable).parent / "akhbar"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[distributed.LocalCluster]:
    scratch = tmp_path_factory.mktemp("dask-scratch")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",  # None would still bind :8787
        local_directory=str(scratch),
    ) as local:
        yield local


def _stage_modules_loaded() -> bool:
    return "tasks.annotate" in sys.modules and "tasks.segment" in sys.modules


def test_dask_run_matches_the_in_process_run(
    cluster, prefect_server: PrefectServer, sample_dataset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            str(AKHBAR),
            "run",
            str(REPO / "data" / "samples"),
            "--out",
            str(out),
            "--json",
            "--dask-address",
            cluster.scheduler_address,
        ],
        cwd=REPO,
        env=prefect_server.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"akhbar exited {proc.returncode}\n{proc.stderr[-3000:]}"
    assert json.loads(proc.stdout)["outcome"] == "completed"
    log = json.loads(next((out / "_runs").glob("*.json")).read_text())
    assert log["params"]["dask_address"] == cluster.scheduler_address

    with distributed.Client(cluster) as client:
        loaded = client.run(_stage_modules_loaded)
    assert len(loaded) == 2
    assert any(loaded.values()), f"no Dask worker ran a stage: {loaded}"

    for name in ("articles", "sentences", "tokens", "entities"):
        got = pd.read_parquet(out / name)
        want = pd.read_parquet(sample_dataset / name)
        assert len(got) == len(want) > 0, name
    keys = ["article_id", "sentence_index", "token_index"]
    got = pd.read_parquet(out / "tokens").sort_values(keys).reset_index(drop=True)
    want = pd.read_parquet(sample_dataset / "tokens").sort_values(keys).reset_index(drop=True)
    for col in ("text", "lemma", "pos", "upos"):
        assert got[col].astype(object).equals(want[col].astype(object)), col
    ekeys = ["article_id", "char_start", "char_end"]
    got_e = pd.read_parquet(out / "entities").sort_values(ekeys).reset_index(drop=True)
    want_e = pd.read_parquet(sample_dataset / "entities").sort_values(ekeys).reset_index(drop=True)
    assert got_e["label"].astype(str).tolist() == want_e["label"].astype(str).tolist()
