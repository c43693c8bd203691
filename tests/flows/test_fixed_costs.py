"""Fixed costs of a run (issue 21): no pool it cannot use, nothing started when nothing changed.

- ``choose_workers``: a handful of small files gets no worker pool; a large input one
  worker per core; ``--workers N`` is taken as given.
- ``fetch.is_unchanged``: an input is unchanged only when every file in it (every
  archive member) has the sha256 the dataset holds.
- An unchanged re-run of ``data/samples`` is recorded (a ``skipped_unchanged`` files row
  per input, a run log) without Prefect, without a worker and without loading a model.
- The chunk pool's workers import no Prefect and fork from the fork server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from flows.pool import CHUNK_BYTES, ChunkPool, choose_workers, local_bytes
from flows.run import INLINE
from tasks import fetch, store
from tasks.config import AnnotateConfig, FetchConfig, PipelineParams
from tests.flows.prefect_server import REPO, PrefectServer

SAMPLES = REPO / "data" / "samples"
AKHBAR = Path(sys.executable).parent / "akhbar"


# choosing the number of workers -------------------------------------------------------


def test_a_handful_of_small_files_gets_no_pool() -> None:
    ten_small_txt = 10 * 3_000
    assert choose_workers(0, cpus=2, pending_bytes=ten_small_txt) == 1
    assert choose_workers(0, cpus=8, pending_bytes=0) == 1


def test_the_samples_directory_is_one_chunk_of_work() -> None:
    uris = [s.uri for s in fetch.discover_sources([str(SAMPLES)], FetchConfig())]
    size = local_bytes(uris)
    assert size is not None and 0 < size < CHUNK_BYTES
    assert choose_workers(0, cpus=2, pending_bytes=size) == 1


def test_workers_grow_with_the_input_up_to_the_cores() -> None:
    assert choose_workers(0, cpus=4, pending_bytes=2 * CHUNK_BYTES) == 2
    assert choose_workers(0, cpus=4, pending_bytes=3 * CHUNK_BYTES + 1) == 4
    assert choose_workers(0, cpus=2, pending_bytes=100 * CHUNK_BYTES) == 2


def test_unknown_size_gets_one_worker_per_core_and_a_request_is_kept() -> None:
    assert local_bytes(["https://example.org/news.json"]) is None
    assert choose_workers(0, cpus=2, pending_bytes=None) == 2
    assert choose_workers(3, cpus=2, pending_bytes=10) == 3
    assert choose_workers(1, cpus=8, pending_bytes=100 * CHUNK_BYTES) == 1


# what is unchanged ---------------------------------------------------------------------


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_an_archive_is_unchanged_only_if_every_member_is(tmp_path: Path) -> None:
    a, b = "خبر أول".encode(), "خبر ثان".encode()
    path = tmp_path / "day.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.txt", a)
        zf.writestr("b.txt", b)
    uri, cfg = str(path), FetchConfig()
    both = {(uri, "a.txt"): _sha(a), (uri, "b.txt"): _sha(b)}
    assert fetch.is_unchanged(uri, cfg, both)
    assert not fetch.is_unchanged(uri, cfg, {(uri, "a.txt"): _sha(a)})
    assert not fetch.is_unchanged(uri, cfg, {**both, (uri, "b.txt"): _sha(a)})


def test_a_plain_file_is_unchanged_by_its_hash(tmp_path: Path) -> None:
    path = tmp_path / "one.txt"
    path.write_bytes("نص".encode())
    uri, cfg = str(path), FetchConfig()
    known = {(uri, None): _sha(path.read_bytes())}
    assert fetch.is_unchanged(uri, cfg, known)
    path.write_bytes("نص آخر".encode())
    assert not fetch.is_unchanged(uri, cfg, known)
    assert not fetch.is_unchanged(str(tmp_path / "gone.txt"), cfg, known)
    assert not fetch.is_unchanged("https://example.org/one.txt", cfg, known)


# the unchanged re-run --------------------------------------------------------------------


def _akhbar(server: PrefectServer, out: Path, cache: Path, *extra: str) -> dict:
    proc = subprocess.run(
        [str(AKHBAR), "run", str(SAMPLES), "--out", str(out), "--json", *extra],
        capture_output=True,
        text=True,
        env={**server.env, "AKHBAR_CACHE_DIR": str(cache)},
        cwd=REPO,
        timeout=300,
    )
    assert proc.returncode == 0, f"akhbar exited {proc.returncode}\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout)


# Run in a fresh interpreter: what the unchanged run imported, loaded and started.
_PROBE = """
import json, os, sys
from flows.run import run_if_unchanged
from tasks.config import PipelineParams

result = run_if_unchanged(PipelineParams(inputs=[sys.argv[1]], out=sys.argv[2]))
me = str(os.getpid())
children = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        continue
    if stat.rsplit(")", 1)[1].split()[1] == me:
        children.append(pid)
from tasks.morphology import load_morphology
print(json.dumps({
    "result": result,
    "prefect_imported": "prefect" in sys.modules,
    "crfsuite_imported": "pycrfsuite" in sys.modules,
    "morphologies_loaded": load_morphology.cache_info().currsize,
    "children": children,
}))
"""


@pytest.fixture(scope="module")
def rerun(prefect_server: PrefectServer, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("fixed-costs")
    out, cache = root / "out", root / "cache"
    first = _akhbar(prefect_server, out, cache, "--workers", "1")
    second = _akhbar(prefect_server, out, cache)  # default --workers 0
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE, str(SAMPLES), str(out)],
        capture_output=True,
        text=True,
        env={**prefect_server.env, "AKHBAR_CACHE_DIR": str(cache)},
        cwd=REPO,
        timeout=300,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    return out, first, second, json.loads(probe.stdout.strip().splitlines()[-1])


def test_a_rerun_with_nothing_changed_runs_no_flow_and_no_worker(rerun) -> None:
    out, first, second, _ = rerun
    assert first["orchestration"] == "prefect" and first["files"] == {"ok": 6}
    assert second["orchestration"] == INLINE
    assert second["workers"] == 0
    assert second["files"] == {"skipped_unchanged": 6}
    assert second["tokens"] == 0 and second["outcome"] == "completed"


def test_the_unchanged_run_is_recorded_like_any_run(rerun) -> None:
    out, first, second, probe = rerun
    logs = {log["run_id"]: log for log in store.read_run_logs(out)}
    assert logs[second["run_id"]]["status"] == "completed"
    assert logs[second["run_id"]]["orchestration"] == INLINE
    files = store.read_table(out, "files").to_pylist()
    by_run: dict[str, list[str]] = {}
    for row in files:
        by_run.setdefault(row["run_id"], []).append(row["status"])
    # every input has a row in each of the three runs (two CLI runs and the probe's)
    assert by_run[first["run_id"]] == ["ok"] * 6
    assert by_run[second["run_id"]] == ["skipped_unchanged"] * 6
    assert by_run[probe["result"]["run_id"]] == ["skipped_unchanged"] * 6
    # the articles stay those of the first run
    articles = store.read_table(out, "articles", ["run_id"]).column("run_id").to_pylist()
    assert set(articles) == {first["run_id"]}


def test_the_unchanged_run_loads_no_model_and_starts_no_process(rerun) -> None:
    _, _, _, probe = rerun
    assert probe["result"]["orchestration"] == INLINE
    assert probe["prefect_imported"] is False
    assert probe["crfsuite_imported"] is False
    assert probe["morphologies_loaded"] == 0
    assert probe["children"] == []


def test_the_cli_starts_no_fork_server_for_an_unchanged_dataset(rerun) -> None:
    from flows.pool import run_workers
    from flows.run import pending_inputs

    out = rerun[0]
    params = PipelineParams(inputs=[str(SAMPLES)], out=str(out), workers=2)
    assert pending_inputs(params) == []
    assert run_workers(0, pending_inputs(params)) == 0
    refresh = params.model_copy(update={"full_refresh": True})
    assert len(pending_inputs(refresh)) == 6


def test_a_changed_input_is_not_an_unchanged_run(tmp_path: Path) -> None:
    from flows.run import run_if_unchanged

    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "a.txt").write_text("الرباط - قال مسؤول إن المياه كافية هذا العام.\n", encoding="utf-8")
    out = tmp_path / "out"
    params = PipelineParams(inputs=[str(inp)], out=str(out))
    assert run_if_unchanged(params) is None  # a new dataset: everything is new
    assert not (out / "_runs").exists() or not list((out / "_runs").glob("*.json"))


# the pool -------------------------------------------------------------------------------


def _worker_facts() -> dict:
    return {"pid": os.getpid(), "ppid": os.getppid(), "prefect": "prefect" in sys.modules}


def test_pool_workers_fork_from_the_server_and_import_no_prefect() -> None:
    none = AnnotateConfig(morphology="none", ner="none", dialect="none")
    pool = ChunkPool(2, none)
    try:
        facts = pool.run(_worker_facts)
    finally:
        pool.close()
    assert facts["pid"] != os.getpid()
    assert facts["ppid"] != os.getpid()  # a child of the fork server, not of this process
    assert facts["prefect"] is False

