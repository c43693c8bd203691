"""Run ids, the output directory check and a batch's staging directory.

Stages hand data to each other through Arrow IPC files in
``OUT/_staging/<run_id>/<batch_id>/`` (``cNNNN-<table>.arrow`` per chunk); consumers
never read staging.
"""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel

from tasks.config import PipelineParams
from tasks.errors import ConfigError
from tasks.write import write_parquet


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


def remove_run_staging(out: str | Path, run_id: str) -> None:
    """Remove a finished run's (now empty) staging directory."""
    shutil.rmtree(Path(out) / "_staging" / run_id, ignore_errors=True)


class BatchSpec(BaseModel):
    """What a batch's tasks need: small and picklable.

    A batch is a group of input files, fetched and committed together; its records are
    split into chunks, and each chunk's tables are staged as ``cNNNN-<table>.arrow``.
    """

    run_id: str
    batch_id: str
    seq: int
    out: str
    stage_dir: str
    sources: list[str]
    params: PipelineParams

    def path(self, name: str, chunk: int | None = None) -> str:
        """Staging file of a table: the whole batch's, or one chunk's."""
        prefix = "" if chunk is None else f"c{chunk:04d}-"
        return str(Path(self.stage_dir) / f"{prefix}{name}.arrow")

    def part(self, chunk: int) -> str:
        """Parquet part name of a chunk: ``<batch_id>-<chunk>``."""
        return f"{self.batch_id}-{chunk:04d}"

    def staged_part(self, table: str, chunk: int) -> Path:
        """Where ``write_batch`` staged a chunk's Parquet part of ``table``."""
        return Path(self.stage_dir) / "parquet" / table / f"part-{self.part(chunk)}.parquet"


def drop_staged_articles(spec: BatchSpec, chunk: int, article_ids: pa.Array) -> None:
    """Remove ``article_ids``' rows from a chunk's staged sentences, tokens and entities."""
    for name in ("sentences", "tokens", "entities"):
        path = spec.staged_part(name, chunk)
        if path.exists():
            table = pq.read_table(path)
            keep = pc.invert(pc.is_in(table.column("article_id"), article_ids))
            write_parquet(table.filter(keep), name, path, spec.params.write)


class RecordChunks:
    """Saves a batch's records chunk by chunk as they are fetched (``cNNNN-records.arrow``).

    ``add`` is fetch's record sink: each chunk goes to disk as soon as it is full, so the
    fetch worker never holds the whole batch (issue 14).
    """

    def __init__(self, spec: BatchSpec) -> None:
        self.spec = spec
        self.files: list[list[str]] = []  # sorted file_ids of each chunk
        self.sizes: list[int] = []  # records in each chunk
        self.rows = 0

    def add(self, part: pa.Table) -> None:
        """Save ``part`` as the next chunk."""
        save_stage(part, self.spec.path("records", len(self.files)))
        self.files.append(sorted(set(part.column("file_id").to_pylist())))
        self.sizes.append(part.num_rows)
        self.rows += part.num_rows

    def add_all(self, records: pa.Table) -> None:
        """Save ``records`` as chunks of ``chunk_size`` rows."""
        size = self.spec.params.chunk_size
        for start in range(0, records.num_rows, size):
            self.add(records.slice(start, size))


def stage_record_chunks(spec: BatchSpec, records: pa.Table) -> list[list[str]]:
    """Save a batch's records as chunks of ``chunk_size`` rows (``cNNNN-records.arrow``).

    Returns:
        The sorted file_ids of each chunk, so a crashed chunk can fail exactly its files.
    """
    chunks = RecordChunks(spec)
    chunks.add_all(records)
    return chunks.files
