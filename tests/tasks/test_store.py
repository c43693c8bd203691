"""Tests for tasks.store: atomic commits, journal roll-forward, recovery, the lock, manifest."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tasks import store, write
from tasks.config import WriteConfig
from tasks.errors import LockError

CFG = WriteConfig()
REPO = Path(__file__).resolve().parents[2]


def _tables(file_id: str, run_id: str, n_articles: int = 2, status: str = "ok") -> dict:
    """A minimal batch: one files row and ``n_articles`` articles with one sentence each."""
    aids = [f"{file_id}-a{i}" for i in range(n_articles)]
    return {
        "files": pa.table(
            {
                "file_id": [file_id],
                "source_uri": [f"/in/{file_id}.txt"],
                "sha256": [f"sha-{file_id}"],
                "status": [status],
                "run_id": [run_id],
                "processed_at": pa.array([datetime.now(UTC)], pa.timestamp("us", tz="UTC")),
            }
        ),
        "articles": pa.table(
            {"article_id": aids, "file_id": [file_id] * n_articles, "run_id": [run_id] * n_articles}
        ),
        "sentences": pa.table(
            {"article_id": aids, "sentence_index": pa.array([0] * n_articles, pa.int32())}
        ),
        "tokens": pa.table(
            {
                "article_id": aids,
                "sentence_index": pa.array([0] * n_articles, pa.int32()),
                "token_index": pa.array([0] * n_articles, pa.int32()),
            }
        ),
    }


def _stage(out: Path, run_id: str, batch_id: str, tables: dict) -> Path:
    stage = store.staging_dir(out, run_id, batch_id)
    write.write_batch(tables, stage, batch_id, CFG)
    return stage


def _commit(out: Path, run_id: str, batch_id: str, file_id: str, replace=()) -> None:
    stage = _stage(out, run_id, batch_id, _tables(file_id, run_id))
    store.commit_batch(out, stage, batch_id, replace, CFG)


def _table_dir_names(out: Path) -> set[str]:
    return {p.name for t in store.COMMIT_ORDER if (out / t).is_dir() for p in (out / t).iterdir()}


def test_commit_publishes_only_complete_parts_and_removes_staging(tmp_path):
    _commit(tmp_path, "r1", "r1-00000", "f1")
    names = _table_dir_names(tmp_path)
    assert names == {"part-r1-00000-0000.parquet"}  # one merged part per table (issue 25)
    assert not (tmp_path / "_staging" / "r1" / "r1-00000").exists()
    arts = store.read_table(tmp_path, "articles")
    assert sorted(arts.column("article_id").to_pylist()) == ["f1-a0", "f1-a1"]
    meta = pq.read_schema(tmp_path / "articles" / "part-r1-00000-0000.parquet").metadata
    assert b"akhbar.schema_version" in meta


def test_recover_rolls_a_journaled_commit_forward(tmp_path, monkeypatch):
    # Simulate SIGKILL after the journal is written and one move is done.
    stage = _stage(tmp_path, "dead", "dead-00000", _tables("f1", "dead"))
    monkeypatch.setattr(store.commit, "_apply_journal", lambda stage: None)
    store.commit_batch(tmp_path, stage, "dead-00000", (), CFG)
    journal = json.loads((stage / store.JOURNAL).read_text())
    src, dst = journal["moves"][0]
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)
    monkeypatch.undo()
    assert store.read_table(tmp_path, "files").num_rows == 0  # manifest moves last
    done = store.recover(tmp_path)
    assert done["rolled_forward"] == 1 and done["discarded"] == 0
    assert store.read_table(tmp_path, "articles").num_rows == 2
    assert store.read_table(tmp_path, "tokens").num_rows == 2
    assert store.read_table(tmp_path, "files").num_rows == 1
    assert not any((tmp_path / "_staging").iterdir())


def test_recover_discards_staging_without_journal(tmp_path):
    _stage(tmp_path, "dead", "dead-00000", _tables("f1", "dead"))
    (tmp_path / "_staging" / "dead" / "stray-file").write_text("x")
    done = store.recover(tmp_path)
    assert done["discarded"] == 1
    assert store.read_table(tmp_path, "articles").num_rows == 0
    assert not (tmp_path / "_staging" / "dead").exists()


def test_recover_keeps_the_current_runs_staging(tmp_path):
    _stage(tmp_path, "me", "me-00000", _tables("f1", "me"))
    store.recover(tmp_path, run_id="me")
    assert (tmp_path / "_staging" / "me" / "me-00000").is_dir()


def test_commit_with_replace_drops_earlier_rows_of_the_input(tmp_path):
    _commit(tmp_path, "r1", "r1-00000", "f1")
    _commit(tmp_path, "r1", "r1-00001", "f2")
    # f1 changed: its new rows come with run r2 and replace the old ones.
    stage = _stage(tmp_path, "r2", "r2-00000", _tables("f1", "r2", n_articles=3))
    result = store.commit_batch(tmp_path, stage, "r2-00000", ["f1"], CFG)
    assert result.rewritten == 3  # articles, sentences, tokens of part r1-00000
    arts = store.read_table(tmp_path, "articles").to_pylist()
    ids = [a["article_id"] for a in arts]
    assert len(ids) == len(set(ids)) == 5
    assert {a["run_id"] for a in arts if a["file_id"] == "f1"} == {"r2"}
    tokens = store.read_table(tmp_path, "tokens", ["article_id"]).column("article_id")
    assert set(tokens.to_pylist()) == set(ids)  # no orphans
    assert all(n.startswith("part-") and n.endswith(".parquet") for n in _table_dir_names(tmp_path))


def test_recover_marks_dead_runs_and_prunes_their_uncommitted_quarantine(tmp_path):
    _commit(tmp_path, "dead", "dead-00000", "f1")
    store.write_run_log(tmp_path, "dead", {"run_id": "dead", "status": "running"})
    store.write_run_log(tmp_path, "old", {"run_id": "old", "status": "completed"})
    qdir = tmp_path / "_quarantine" / "dead"
    qdir.mkdir(parents=True)
    for fid in ("f1", "f9"):  # f1's row was committed, f9's batch never was
        (qdir / f"{fid}__x.txt").write_text("bad")
        (qdir / f"{fid}__x.txt.json").write_text("{}")
    done = store.recover(tmp_path)
    assert done["interrupted_runs"] == 1 and done["quarantine_removed"] == 1
    logs = {g["run_id"]: g["status"] for g in store.read_run_logs(tmp_path)}
    assert logs == {"dead": "interrupted", "old": "completed"}
    assert sorted(p.name for p in qdir.iterdir()) == ["f1__x.txt", "f1__x.txt.json"]


def test_recover_removes_temp_files_of_dead_processes(tmp_path):
    dead = _dead_pid()
    (tmp_path / f".write-probe-{dead}").write_text("")
    (tmp_path / f".lock-{dead}-abcdef12.tmp").write_text("{}")
    (tmp_path / f".write-probe-{os.getpid()}").write_text("")
    (tmp_path / "_index" / "dedup").mkdir(parents=True)
    (tmp_path / "_index" / "dedup" / ".manifest.json.1234.tmp").write_text("{")
    store.recover(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [
        f".write-probe-{os.getpid()}"
    ]
    assert not any((tmp_path / "_index" / "dedup").iterdir())


def test_manifest_is_the_latest_processed_row_of_each_input(tmp_path):
    _commit(tmp_path, "r1", "r1-00000", "f1")
    stage = _stage(tmp_path, "r2", "r2-00000", _tables("f2", "r2", status="failed"))
    store.commit_batch(tmp_path, stage, "r2-00000", (), CFG)
    manifest = store.load_manifest(tmp_path)
    assert manifest == {("/in/f1.txt", None): "sha-f1"}  # failed inputs are retried
    assert store.known_file_ids(tmp_path) == {"f1", "f2"}


# The lock -------------------------------------------------------------------


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _write_lock(out: Path, **holder) -> None:
    base = {"host": socket.gethostname(), "run_id": "other", "started_at": "2026-01-01T00:00:00"}
    (out / "_lock").write_text(json.dumps(base | holder))


def test_second_lock_is_refused_naming_the_holder(tmp_path):
    with store.acquire_lock(tmp_path, "r1"):
        with pytest.raises(LockError) as err:
            store.acquire_lock(tmp_path, "r2")
        msg = str(err.value)
        assert f"pid {os.getpid()}" in msg and socket.gethostname() in msg and "run r1" in msg
        assert "started 20" in msg
        with pytest.raises(LockError):
            store.check_unlocked(tmp_path)
    assert not (tmp_path / "_lock").exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no temp file left either


def test_lock_waits_for_wait_s_then_gives_up(tmp_path):
    with store.acquire_lock(tmp_path, "r1"):
        t0 = time.monotonic()
        with pytest.raises(LockError):
            store.acquire_lock(tmp_path, "r2", wait_s=1.0)
        assert time.monotonic() - t0 >= 1.0


def test_stale_lock_of_dead_pid_is_replaced(tmp_path):
    pid = _dead_pid()
    _write_lock(tmp_path, pid=pid)
    assert store.lock_holder(tmp_path) is None
    store.check_unlocked(tmp_path)
    with store.acquire_lock(tmp_path, "r2") as lock:
        assert lock.replaced["pid"] == pid
        assert json.loads((tmp_path / "_lock").read_text())["run_id"] == "r2"


def test_zombie_holder_is_stale(tmp_path):
    # A SIGKILLed run its parent has not reaped yet still has a pid: it is dead all the same.
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    time.sleep(0.5)  # exited, not reaped
    try:
        _write_lock(tmp_path, pid=proc.pid, proc_started=None)
        assert store.lock_holder(tmp_path) is None
    finally:
        proc.wait()


def test_reused_pid_is_stale_but_live_holder_is_not(tmp_path):
    started = store.lock._process_started(os.getpid())
    _write_lock(tmp_path, pid=os.getpid(), proc_started=started - 1000)
    assert store.lock_holder(tmp_path) is None
    _write_lock(tmp_path, pid=os.getpid(), proc_started=started)
    assert store.lock_holder(tmp_path)["pid"] == os.getpid()


def test_lock_of_another_host_is_never_taken(tmp_path):
    _write_lock(tmp_path, pid=_dead_pid(), host="some-other-host")
    with pytest.raises(LockError, match="some-other-host"):
        store.acquire_lock(tmp_path, "r2")


def test_empty_lock_file_is_live_when_fresh_and_stale_when_old(tmp_path):
    (tmp_path / "_lock").write_text("")
    with pytest.raises(LockError):
        store.acquire_lock(tmp_path, "r2")
    old = time.time() - 60
    os.utime(tmp_path / "_lock", (old, old))
    store.acquire_lock(tmp_path, "r2").release()


def test_release_leaves_someone_elses_lock_alone(tmp_path):
    lock = store.acquire_lock(tmp_path, "r1")
    _write_lock(tmp_path, pid=os.getpid(), token="not-mine")
    lock.release()
    assert (tmp_path / "_lock").exists()


_RACER = """
import sys, time
from tasks import store
from tasks.errors import LockError
time.sleep(max(0.0, float(sys.argv[3]) - time.time()))  # start together
try:
    lock = store.acquire_lock(sys.argv[1], sys.argv[2])
except LockError:
    print("refused")
else:
    print("won")
    time.sleep(3)
    lock.release()
"""


def test_processes_racing_for_a_stale_lock_get_exactly_one_winner(tmp_path):
    _write_lock(tmp_path, pid=_dead_pid())
    start = str(time.time() + 4)  # after every interpreter has imported pyarrow
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(tmp_path), f"r{i}", start],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    outcomes = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert outcomes == ["refused", "refused", "refused", "won"]
    assert not (tmp_path / "_lock").exists()
