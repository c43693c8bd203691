"""Session fixtures: one real Prefect server, one deployed run, one sample dataset.

Starting a server takes 10-20 s, so the deployment, UI, consumer and query tests
share it instead of starting one each.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.flows.prefect_server import REPO, DeployedRun, PrefectServer, deploy_and_run


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """A real ``prefect server start`` on a free port with a temporary PREFECT_HOME."""
    server = PrefectServer(home=tmp_path_factory.mktemp("prefect-home"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def deployed_run(
    prefect_server: PrefectServer, tmp_path_factory: pytest.TempPathFactory
) -> DeployedRun:
    """prefect.yaml deployed, ``news-pipeline/on-demand`` run by a worker, Completed."""
    return deploy_and_run(prefect_server, tmp_path_factory.mktemp("deployed") / "out")


@pytest.fixture(scope="session")
def sample_dataset(prefect_server: PrefectServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``akhbar run data/samples`` output (against the session server: no second server).

    The command's stdout and stderr (not a terminal) are kept next to it as
    ``run.stdout`` and ``run.stderr``.
    """
    out = tmp_path_factory.mktemp("sample") / "out"
    res = subprocess.run(
        [
            str(Path(sys.executable).parent / "akhbar"),
            "run",
            str(REPO / "data" / "samples"),
            "--out",
            str(out),
            "--workers",
            "1",
        ],
        cwd=REPO,
        env=prefect_server.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    (out.parent / "run.stdout").write_text(res.stdout)
    (out.parent / "run.stderr").write_text(res.stderr)
    assert res.returncode == 0, f"akhbar run failed ({res.returncode}):\n{res.stderr[-3000:]}"
    return out
