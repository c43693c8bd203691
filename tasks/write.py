"""Write stage: Parquet files, atomic batch commits, the manifest, the lock and recovery.

Dataset layout under ``OUT``::

    files/ articles/ sentences/ tokens/ entities/   part-<batch_id>[-<chunk>].parquet
    _staging/<run_id>/<batch_id>/                    a batch being built (never read by consumers)
    _quarantine/<run_id>/                            originals of quarantined inputs + JSON sidecars
    _runs/<run_id>.json                              run log (params, counts, status)
    _index/                                          persistent indexes (dedup)
    _lock                                            the writer's lock (pid, host, start time)

A batch becomes visible by ``os.replace`` of complete files staged on the same
filesystem, so readers never see a temp file or a half-written Parquet file.
Before the first rename a ``COMMIT.json`` journal listing every move is written
atomically; a run killed mid-commit is rolled forward by ``recover`` on the next
run, and staging without a journal is discarded. Content tables are moved before
``files``, so the manifest (read from ``files``) never claims uncommitted rows.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.config import WriteConfig
from tasks.errors import ConfigError, LockError
from tasks.schemas import TABLES, conform

CONTENT_TABLES = ("articles", "sentences", "tokens", "entities")
# Final move order: children first, then articles, then files (the manifest).
COMMIT_ORDER = ("entities", "tokens", "sentences", "articles", "files")
JOURNAL = "COMMIT.json"
_PROCESSED = ("ok", "quarantined", "skipped_unchanged")
# Temp files a process leaves directly under OUT (lock candidate, writability probe).
_DEAD_TEMP = re.compile(r"\.(?:lock|write-probe)-(\d+)(?:-\w+\.tmp)?")


def new_run_id() -> str:
    """Sortable, unique run id: UTC timestamp plus a short random suffix."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def check_output_dir(out: str) -> Path:
    """Create ``out`` if needed and check it is a writable directory.

    Raises:
        ConfigError: naming ``out`` when it is a file or not writable.
    """
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out {out!r} exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"--out {out!r} is not writable: {exc.strerror or exc}") from exc
    return path


def staging_dir(out: str | Path, run_id: str, batch_id: str) -> Path:
    """Staging directory of one batch (created)."""
    path = Path(out) / "_staging" / run_id / batch_id
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_stage(table: pa.Table, path: str | Path) -> str:
    """Write a staging table as uncompressed Arrow IPC (fast to write and memory-map)."""
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    os.replace(tmp, path)
    return str(path)


def load_stage(path: str | Path) -> pa.Table:
    """Read a staging table written by ``save_stage``."""
    with pa.memory_map(str(path), "r") as source:
        return pa.ipc.open_file(source).read_all()


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


@dataclass
class CommitResult:
    """What a commit moved into the dataset."""

    batch_id: str
    moved: int
    rewritten: int


def commit_batch(
    out: str | Path,
    stage: str | Path,
    batch_id: str,
    replace_file_ids: Iterable[str] = (),
    config: WriteConfig | None = None,
) -> CommitResult:
    """Publish every part staged under ``stage/parquet/<table>/`` atomically.

    Earlier rows of re-processed inputs are dropped in the same commit.

    Rows of ``replace_file_ids`` already in the dataset (from an earlier run or a
    killed one) are removed by rewriting the parts that hold them, so a changed
    or re-run input replaces its rows instead of adding a second copy.
    """
    out, stage = Path(out), Path(stage)
    config = config or WriteConfig()
    moves: list[tuple[str, str]] = []
    rewritten = _stage_rewrites(out, stage, set(replace_file_ids), config, moves)
    for name in COMMIT_ORDER:
        for src in sorted((stage / "parquet" / name).glob("part-*.parquet")):
            moves.append((str(src), str(out / name / src.name)))
    journal = {"batch_id": batch_id, "moves": moves, "written_at": time.time()}
    tmp = stage / (JOURNAL + ".tmp")
    tmp.write_text(json.dumps(journal))
    _fault_point("before_journal")
    os.replace(tmp, stage / JOURNAL)
    _apply_journal(stage)
    return CommitResult(batch_id, len(moves), rewritten)


def _stage_rewrites(
    out: Path, stage: Path, file_ids: set[str], config: WriteConfig, moves: list
) -> int:
    if not file_ids or not (out / "articles").is_dir():
        return 0
    gone: set[str] = set()
    parts: list[str] = []
    for part in sorted((out / "articles").glob("part-*.parquet")):
        col = pq.read_table(part, columns=["article_id", "file_id"])
        mask = pc.is_in(col.column("file_id"), pa.array(sorted(file_ids)))
        if pc.any(mask).as_py():
            gone.update(pc.filter(col.column("article_id"), mask).to_pylist())
            parts.append(part.name)
    if not gone:
        return 0
    gone_arr = pa.array(sorted(gone))
    rewrite_dir = stage / "rewrite"
    n = 0
    for name in CONTENT_TABLES:
        for part_name in parts:
            final = out / name / part_name
            if not final.exists():
                continue
            table = pq.read_table(final)
            keep = pc.invert(pc.is_in(table.column("article_id"), gone_arr))
            write_parquet(table.filter(keep), name, rewrite_dir / name / part_name, config)
            moves.append((str(rewrite_dir / name / part_name), str(final)))
            n += 1
    return n


def _apply_journal(stage: Path) -> None:
    journal = json.loads((stage / JOURNAL).read_text())
    for src, dst in journal["moves"]:
        if os.path.exists(src):
            Path(dst).parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
            _fault_point("mid_commit")
    shutil.rmtree(stage, ignore_errors=True)


_FAULT_HITS: Counter[str] = Counter()


def _fault_point(name: str) -> None:
    """Crash here when ``AKHBAR_FAULT=<name>:<n>`` and this is the n-th hit (bench/chaos.py).

    SIGKILLs the whole process group, as a power cut or the OOM killer would, at the
    commit moments random kill times rarely hit. Does nothing when the variable is unset.
    """
    want = os.environ.get("AKHBAR_FAULT")
    if not want or not want.startswith(name + ":"):
        return
    _FAULT_HITS[name] += 1
    if _FAULT_HITS[name] == int(want.split(":", 1)[1]):
        import signal

        os.killpg(os.getpgid(0), signal.SIGKILL)


def recover(out: str | Path, run_id: str | None = None) -> dict[str, int]:
    """Bring a dataset back to a clean state after a run that died (SIGKILL, crash).

    Call it while holding the lock, before any work. It

    - rolls forward commits that were journaled (``COMMIT.json`` written) and discards
      staging without a journal (that batch is simply processed again);
    - marks run logs still ``running`` (other than ``run_id``) as ``interrupted``;
    - removes quarantine copies of a dead run for inputs whose ``files`` row was never
      committed (the re-run quarantines them again under its own run id);
    - removes temp files a dead process left outside the tables (``*.tmp`` lock, probe
      and index files). Tables themselves never hold temp files.

    Returns:
        Counts: rolled_forward, discarded (batches), interrupted_runs, quarantine_removed.
    """
    out = Path(out)
    done = {"rolled_forward": 0, "discarded": 0, "interrupted_runs": 0, "quarantine_removed": 0}
    root = out / "_staging"
    if root.is_dir():
        for run_dir in sorted(root.iterdir()):
            if run_dir.name == run_id:
                continue
            batches = sorted(p for p in run_dir.iterdir() if p.is_dir()) if run_dir.is_dir() else []
            for batch in batches:
                if (batch / JOURNAL).exists():
                    _apply_journal(batch)
                    done["rolled_forward"] += 1
                else:
                    shutil.rmtree(batch, ignore_errors=True)
                    done["discarded"] += 1
            if run_dir.is_dir():
                shutil.rmtree(run_dir, ignore_errors=True)
            else:
                run_dir.unlink(missing_ok=True)
    interrupted = _mark_interrupted_runs(out, run_id)
    done["interrupted_runs"] = len(interrupted)
    done["quarantine_removed"] = _prune_quarantine(out, interrupted)
    _remove_dead_temp_files(out)
    return done


def _mark_interrupted_runs(out: Path, run_id: str | None) -> list[str]:
    dead = []
    for log in read_run_logs(out):
        rid = log.get("run_id")
        if rid and rid != run_id and log.get("status") == "running":
            log["status"] = "interrupted"
            log["interrupted_found_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            write_run_log(out, rid, log)
            dead.append(rid)
    return dead


def _prune_quarantine(out: Path, run_ids: list[str]) -> int:
    """Drop quarantine entries of dead runs whose ``files`` row never got committed."""
    removed = 0
    dirs = [out / "_quarantine" / r for r in run_ids if (out / "_quarantine" / r).is_dir()]
    if not dirs:
        return 0
    files = read_table(out, "files", ["file_id", "run_id"])
    committed = {
        (r, f)
        for f, r in zip(
            files.column("file_id").to_pylist(), files.column("run_id").to_pylist(), strict=True
        )
    }
    for qdir in dirs:
        for entry in sorted(qdir.iterdir()):
            # Entries are <file_id>__<basename> and <file_id>__<basename>.json.
            fid = entry.name.split("__", 1)[0]
            if entry.is_file() and (qdir.name, fid) not in committed:
                entry.unlink(missing_ok=True)
                removed += entry.suffix == ".json"
        if not any(qdir.iterdir()):
            qdir.rmdir()
    return removed


def _remove_dead_temp_files(out: Path) -> None:
    for tmp in out.iterdir():
        m = _DEAD_TEMP.fullmatch(tmp.name)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            tmp.unlink(missing_ok=True)
    index = out / "_index"
    if index.is_dir():
        # Under the lock nobody else writes the index, so any temp file there is dead.
        for tmp in index.rglob("*.tmp"):
            tmp.unlink(missing_ok=True)


def remove_run_staging(out: str | Path, run_id: str) -> None:
    """Remove a finished run's (now empty) staging directory."""
    shutil.rmtree(Path(out) / "_staging" / run_id, ignore_errors=True)


def read_table(out: str | Path, name: str, columns: list[str] | None = None) -> pa.Table:
    """Read one published table of a dataset (empty table with the schema if none yet)."""
    path = Path(out) / name
    schema = TABLES[name]
    parts = sorted(path.glob("part-*.parquet")) if path.is_dir() else []
    if not parts:
        empty = schema.empty_table()
        return empty.select(columns) if columns else empty
    import pyarrow.dataset as ds

    return ds.dataset([str(p) for p in parts], schema=schema, format="parquet").to_table(
        columns=columns
    )


def load_manifest(out: str | Path) -> dict[tuple[str, str | None], str]:
    """``(source_uri, member) -> sha256`` of inputs the dataset already holds.

    Built from the ``files`` table: the latest processed row of each input.
    """
    files = read_table(out, "files", ["source_uri", "member", "sha256", "status", "processed_at"])
    if not files.num_rows:
        return {}
    latest: dict[tuple[str, str | None], tuple] = {}
    for row in files.to_pylist():
        key = (row["source_uri"], row["member"])
        stamp = row["processed_at"] or datetime.min.replace(tzinfo=UTC)
        if key not in latest or stamp >= latest[key][0]:
            latest[key] = (stamp, row["status"], row["sha256"])
    return {k: v[2] for k, v in latest.items() if v[1] in _PROCESSED and v[2]}


def known_file_ids(out: str | Path) -> set[str]:
    """file_ids that have rows in the published ``articles`` table."""
    table = read_table(out, "articles", ["file_id"])
    return set(pc.unique(table.column("file_id")).to_pylist()) if table.num_rows else set()


# The lock -------------------------------------------------------------------

LOCK = "_lock"


@dataclass
class Lock:
    """The output directory's writer lock; release it with ``release()``.

    ``replaced`` holds the stale holder this lock replaced (a run that died), if any.
    """

    path: Path
    holder: dict
    replaced: dict | None = None

    def release(self) -> None:
        """Remove the lock file if it is still ours."""
        if _read_holder(self.path).get("token") == self.holder["token"]:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> Lock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _process_started(pid: int) -> float | None:
    """Start time of a live process; None when there is none (or it is a zombie)."""
    try:
        import psutil

        proc = psutil.Process(pid)
        # A SIGKILLed run whose parent has not reaped it yet is dead all the same.
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc.create_time()
    except Exception:  # noqa: BLE001 - no such process, no access, or psutil unavailable
        return None


def _pid_alive(pid: int) -> bool:
    return _process_started(pid) is not None


def _read_holder(path: Path) -> dict:
    try:
        holder = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _is_stale(holder: dict, path: Path | None = None) -> bool:
    """True when the lock's holder is surely dead (same host only)."""
    if not holder:
        # Unreadable or empty (a writer from before atomic lock files died mid-write):
        # stale once it is old enough that no live writer can still be filling it.
        try:
            return path is not None and time.time() - path.stat().st_mtime > 10
        except OSError:
            return True
    if holder.get("host") != socket.gethostname():
        return False  # cannot check another machine's processes; treat as live
    try:
        pid = int(holder.get("pid", -1))
    except (TypeError, ValueError):
        return True
    started = _process_started(pid)
    if started is None:
        return True
    # Same pid but another start time: the pid was reused by an unrelated process.
    return abs(started - float(holder.get("proc_started") or started)) > 1.0


def describe_holder(out: str | Path, holder: dict) -> str:
    """The message naming a live lock holder (run id, pid, host, start time)."""
    return (
        f"{out} is locked by run {holder.get('run_id', '?')} "
        f"(pid {holder.get('pid', '?')} on {holder.get('host', '?')}, "
        f"started {holder.get('started_at', '?')}); wait for it to finish or use another "
        f"--out (if that run is dead on another host, delete {Path(out) / LOCK})"
    )


def lock_holder(out: str | Path) -> dict | None:
    """The live holder of ``out``'s lock, or None when it is free or held by a dead run."""
    path = Path(out) / LOCK
    if not path.exists():
        return None
    holder = _read_holder(path)
    return None if _is_stale(holder, path) else holder


def check_unlocked(out: str | Path) -> None:
    """Fail fast, before any work, when a live run holds ``out`` (does not take the lock).

    Raises:
        LockError: naming the holder's run id, pid, host and start time.
    """
    holder = lock_holder(out)
    if holder is not None:
        raise LockError(describe_holder(out, holder))


@contextmanager
def _guard(out: Path) -> Iterator[None]:
    """Serialize lock checks of ``out`` between processes (flock on the directory).

    Without it two runs that both find a stale lock could each delete the other's
    fresh one. The kernel drops the flock when its holder dies, so it never goes stale.
    """
    try:
        fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        yield  # e.g. a filesystem that cannot open directories: best effort
        return
    try:
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        except (ImportError, OSError):
            pass
        yield
    finally:
        os.close(fd)


def _publish_lock(tmp: Path, path: Path) -> bool:
    """Create ``path`` with ``tmp``'s complete content, only if it does not exist."""
    try:
        # link() is atomic and fails if path exists: the lock never exists half-written.
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError:  # filesystem without hard links: exclusive create, then write
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as fh:
            fh.write(tmp.read_bytes())
        return True


def acquire_lock(out: str | Path, run_id: str, wait_s: float = 0.0) -> Lock:
    """Take the writer lock of ``out``; a lock left by a dead process is replaced.

    The lock file ``OUT/_lock`` holds JSON: pid, host, run_id, started_at, the
    process start time (to tell a reused pid) and a random token (so a run only ever
    removes its own lock). A holder on this host whose process is gone (or is a
    zombie) is stale; holders on other hosts are always taken as live.

    Args:
        out: The dataset directory (must exist).
        run_id: Recorded in the lock so the refusal message can name the run.
        wait_s: Keep retrying this long before giving up.

    Raises:
        LockError: another live run holds it (message names pid, host and start time).
    """
    out = Path(out)
    path = out / LOCK
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "run_id": run_id,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "proc_started": _process_started(os.getpid()),
        "token": uuid.uuid4().hex,
    }
    tmp = out / f".lock-{os.getpid()}-{holder['token'][:8]}.tmp"
    tmp.write_text(json.dumps(holder))
    replaced: dict | None = None
    deadline = time.monotonic() + wait_s
    try:
        while True:
            with _guard(out):
                if _publish_lock(tmp, path):
                    return Lock(path, holder, replaced)
                other = _read_holder(path)
                if _is_stale(other, path):
                    path.unlink(missing_ok=True)
                    replaced = other or {"pid": "?", "note": "unreadable lock file"}
                    continue
            if time.monotonic() < deadline:
                time.sleep(0.5)
                continue
            raise LockError(describe_holder(out, other))
    finally:
        tmp.unlink(missing_ok=True)


# Run log --------------------------------------------------------------------


def write_run_log(out: str | Path, run_id: str, record: dict) -> None:
    """Write (or replace) ``_runs/<run_id>.json`` atomically."""
    path = Path(out) / "_runs" / f"{run_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, ensure_ascii=False, indent=1, default=str))
    os.replace(tmp, path)


def read_run_logs(out: str | Path) -> list[dict]:
    """All run logs of a dataset, oldest first."""
    root = Path(out) / "_runs"
    if not root.is_dir():
        return []
    logs = []
    for p in sorted(root.glob("*.json")):
        try:
            logs.append(json.loads(p.read_text()))
        except (OSError, ValueError):
            continue
    return logs
