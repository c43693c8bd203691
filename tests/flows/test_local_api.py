"""The temporary Prefect API of a run without ``PREFECT_API_URL`` (issue 21).

It is served from a thread of the CLI process, not from a second interpreter, and the
run it records is complete: the flow run, its task runs and its artifacts are in the
Prefect database of ``PREFECT_HOME`` (where ``prefect server start`` and its UI find
them later). The workers' fork server may be started before Prefect and is the one
the pool forks from.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from multiprocessing import forkserver
from pathlib import Path

import pytest

from flows.artifacts import FILES_KEY, REPORT_KEY, SUMMARY_KEY
from flows.pool import ChunkPool, run_workers, start_fork_server, stop_fork_server
from flows.run import pending_inputs
from tasks.config import AnnotateConfig, PipelineParams
from tests.flows.prefect_server import REPO

SAMPLES = REPO / "data" / "samples"
AKHBAR = Path(sys.executable).parent / "akhbar"


def _children(pid: int) -> list[str]:
    """Command lines of the live children of ``pid``."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """``akhbar run data/samples --workers 1`` with no PREFECT_API_URL, watched as it runs."""
    root = tmp_path_factory.mktemp("local-api")
    home, out = root / "prefect-home", root / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(PREFECT_HOME=str(home), AKHBAR_CACHE_DIR=str(root / "cache"))
    proc = subprocess.Popen(
        [str(AKHBAR), "run", str(SAMPLES), "--out", str(out), "--workers", "1", "--json"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: set[str] = set()
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        seen.update(_children(proc.pid))
        time.sleep(0.05)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr[-3000:]
    return {"summary": json.loads(stdout), "children": seen, "db": home / "prefect.db"}


def test_the_run_starts_no_process_for_the_api(local_run: dict) -> None:
    # One chunk's worth with --workers 1: no pool, and the API is a thread, so nothing.
    # The server used to be a `python -m uvicorn ... create_app` child living 5-10 s.
    assert local_run["summary"]["orchestration"] == "prefect"
    assert local_run["children"] == set()


def test_the_local_api_recorded_the_whole_run(local_run: dict) -> None:
    with sqlite3.connect(local_run["db"]) as db:
        runs = db.execute(
            "SELECT flow_run.id, flow_run.state_type FROM flow_run"
            " JOIN flow ON flow.id = flow_run.flow_id WHERE flow.name = 'news-pipeline'"
        ).fetchall()
        assert len(runs) == 1 and runs[0][1] == "COMPLETED", runs
        run_id = runs[0][0]
        tasks = db.execute(
            "SELECT name, state_type FROM task_run WHERE flow_run_id = ?", (run_id,)
        ).fetchall()
        keys = db.execute(
            "SELECT key FROM artifact WHERE flow_run_id = ? AND key IS NOT NULL", (run_id,)
        ).fetchall()
    names = sorted(key.split("-", 1)[0] for key, _ in tasks)
    assert names == ["chunk", "commit", "fetch"], tasks
    assert {state for _, state in tasks} == {"COMPLETED"}
    assert {SUMMARY_KEY, FILES_KEY, REPORT_KEY} <= {k for (k,) in keys}


_PROBE = """
import json, os, socket, sys, urllib.request
from flows.runtime import LocalServer

server = LocalServer()
os.environ["PREFECT_API_URL"] = server.api_url
server.wait_ready()
with urllib.request.urlopen(server.api_url + "/health", timeout=10) as resp:
    health = resp.read().decode()
me = str(os.getpid())
children = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        continue
    if stat.rsplit(")", 1)[1].split()[1] == me:
        children.append(pid)
server.stop()
try:
    socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
    closed = False
except OSError:
    closed = True
print(json.dumps({"health": health, "children": children, "closed": closed}))
"""


def test_the_local_server_answers_from_this_process_and_stops(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env["PREFECT_HOME"] = str(tmp_path / "home")
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    facts = json.loads(probe.stdout.strip().splitlines()[-1])
    assert facts["health"] == "true"
    assert facts["children"] == []
    assert facts["closed"] is True


# the workers' fork server, started before Prefect ---------------------------------------


def _parent() -> int:
    return os.getppid()


def test_a_fork_server_started_early_is_the_one_the_pool_forks_from() -> None:
    none = AnnotateConfig(morphology="none", ner="none", dialect="none")
    stop_fork_server()
    start_fork_server(none)
    early = forkserver._forkserver._forkserver_pid
    assert early is not None
    pool = ChunkPool(2, none)
    try:
        assert pool.run(_parent) == early
    finally:
        pool.close()
    stop_fork_server()
    assert forkserver._forkserver._forkserver_pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(early, 0)


def test_the_cli_expects_no_pool_for_one_chunk_of_new_input(tmp_path: Path) -> None:
    params = PipelineParams(inputs=[str(SAMPLES)], out=str(tmp_path / "out"))
    pending = pending_inputs(params)
    assert len(pending) == 6  # a new dataset: every input is pending
    assert run_workers(0, pending) == 0
    assert run_workers(2, pending) == 2
    assert run_workers(2, pending, dask=True) == 0


def test_a_bound_port_is_not_taken_by_another_server() -> None:
    from flows.runtime import LocalServer

    server = LocalServer()  # holds its port from the start, before it serves
    try:
        with socket.socket() as other, pytest.raises(OSError):
            other.bind(("127.0.0.1", server.port))
    finally:
        server.stop()
