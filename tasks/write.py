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
import shutil
import socket
import time
import uuid
from collections.abc import Iterable, Mapping
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
    shutil.rmtree(stage, ignore_errors=True)


def recover(out: str | Path) -> dict[str, int]:
    """Finish commits a killed run journaled, and discard its unfinished staging.

    Call it while holding the lock. Returns counts of rolled-forward and discarded batches.
    """
    root = Path(out) / "_staging"
    done = {"rolled_forward": 0, "discarded": 0}
    if not root.is_dir():
        return done
    for run_dir in sorted(root.iterdir()):
        for batch in sorted(p for p in run_dir.iterdir() if p.is_dir()):
            if (batch / JOURNAL).exists():
                _apply_journal(batch)
                done["rolled_forward"] += 1
            else:
                shutil.rmtree(batch, ignore_errors=True)
                done["discarded"] += 1
        shutil.rmtree(run_dir, ignore_errors=True)
    return done


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


@dataclass
class Lock:
    """The output directory's writer lock; release it with ``release()``."""

    path: Path
    holder: dict

    def release(self) -> None:
        try:
            current = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return
        if current.get("token") == self.holder["token"]:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> Lock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _process_started(pid: int) -> float | None:
    try:
        import psutil

        return psutil.Process(pid).create_time()
    except Exception:  # noqa: BLE001 - no such process, or psutil unavailable
        return None


def _is_stale(holder: dict) -> bool:
    if holder.get("host") != socket.gethostname():
        return False  # cannot check another machine's processes; treat as live
    started = _process_started(int(holder.get("pid", -1)))
    if started is None:
        return True
    return abs(started - float(holder.get("proc_started", started))) > 1.0


def acquire_lock(out: str | Path, run_id: str, wait_s: float = 0.0) -> Lock:
    """Take the writer lock of ``out``; a lock left by a dead process is replaced.

    Raises:
        LockError: another live run holds it (message names pid, host and start time).
    """
    path = Path(out) / "_lock"
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "run_id": run_id,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "proc_started": _process_started(os.getpid()),
        "token": uuid.uuid4().hex,
    }
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                other = json.loads(path.read_text())
            except (OSError, ValueError):
                other = {}
            if other and _is_stale(other):
                path.unlink(missing_ok=True)
                continue
            if time.monotonic() < deadline:
                time.sleep(0.5)
                continue
            raise LockError(
                f"{out} is locked by run {other.get('run_id', '?')} "
                f"(pid {other.get('pid', '?')} on {other.get('host', '?')}, "
                f"started {other.get('started_at', '?')}); wait for it or use another --out"
            ) from None
        with os.fdopen(fd, "w") as fh:
            json.dump(holder, fh)
        return Lock(path, holder)


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
